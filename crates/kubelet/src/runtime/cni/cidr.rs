//! IPv4 CIDRs for the pod network: the normalized network, its prefix and its first host (the
//! bridge's gateway address).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use super::CniError;

/// An IPv4 network such as `10.42.0.0/24`, normalized to its network address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Cidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The first host address (network + 1), used as the bridge's gateway.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network).wrapping_add(1))
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CniError;

    /// Parses `a.b.c.d/n` with n ≤ 30; host bits are cleared.
    fn from_str(s: &str) -> Result<Self, CniError> {
        let invalid = || CniError::InvalidCidr(s.to_owned());
        let Some((IpAddr::V4(addr), prefix)) = rkube_api::validation::names::parse_cidr(s) else {
            return Err(invalid());
        };
        if prefix > 30 {
            return Err(invalid());
        }
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        Ok(Self {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let c: Ipv4Cidr = "10.42.3.7/24".parse().expect("cidr");
        assert_eq!(c.to_string(), "10.42.3.0/24");
        assert_eq!(c.gateway(), Ipv4Addr::new(10, 42, 3, 1));
        let wide: Ipv4Cidr = "10.42.0.0/16".parse().expect("cidr");
        assert_eq!(wide.gateway(), Ipv4Addr::new(10, 42, 0, 1));
        for bad in ["10.42.0.0", "10.42.0.0/31", "fd00::/64", "10.42.0.0/x", ""] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }
}
