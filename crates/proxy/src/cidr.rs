//! IPv4 CIDR blocks as the proxy needs them: parse `a.b.c.d/n`, test membership, print in the
//! network form nft expects (host bits cleared).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network `addr/prefix` with the host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Cidr {
    /// The network `addr/prefix` (host bits of `addr` are cleared); `None` if `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Cidr> {
        if prefix > 32 {
            return None;
        }
        let bits = u32::from(addr) & mask(prefix);
        Some(Ipv4Cidr {
            addr: bits.into(),
            prefix,
        })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;

    /// Accepts `a.b.c.d/n` and a bare address (a /32); surrounding blanks are ignored as
    /// upstream tolerates them in `loadBalancerSourceRanges`.
    fn from_str(s: &str) -> Result<Ipv4Cidr, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (
                a,
                p.parse::<u8>()
                    .map_err(|_| format!("bad prefix in {s:?}"))?,
            ),
            None => (s, 32),
        };
        let addr: Ipv4Addr = a.parse().map_err(|_| format!("not an IPv4 CIDR: {s:?}"))?;
        Ipv4Cidr::new(addr, p).ok_or_else(|| format!("bad prefix in {s:?}"))
    }
}

/// Parses a comma-separated list of CIDRs, keeping the IPv4 ones (a dual-stack list may carry
/// IPv6 entries this IPv4 proxier ignores). Errors on entries that are neither.
pub fn parse_ipv4_list(s: &str) -> Result<Vec<Ipv4Cidr>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains(':') {
            continue;
        }
        out.push(part.parse()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_contains() {
        let c: Ipv4Cidr = "10.42.3.7/16".parse().unwrap();
        assert_eq!(c.to_string(), "10.42.0.0/16");
        assert!(c.contains("10.42.255.1".parse().unwrap()));
        assert!(!c.contains("10.43.0.1".parse().unwrap()));
        let all: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert_eq!(
            " 203.0.113.0/25".parse::<Ipv4Cidr>().unwrap().to_string(),
            "203.0.113.0/25"
        );
        assert!("10.0.0.0/33".parse::<Ipv4Cidr>().is_err());
        assert!("fd00::/8".parse::<Ipv4Cidr>().is_err());
        assert_eq!(
            parse_ipv4_list("10.42.0.0/16, fd00::/56").unwrap(),
            vec!["10.42.0.0/16".parse().unwrap()]
        );
    }
}
