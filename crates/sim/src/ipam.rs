//! Pod IPs from a node's podCIDR, handed out in order like the host-local CNI plugin: from the
//! second address of the range (the first host address is the bridge's gateway), round-robin
//! after the last one handed out, skipping addresses in use; released when the pod goes.

use std::collections::HashSet;
use std::net::IpAddr;

/// A parsed CIDR: its first address as a number, the number of host bits, and the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: u128,
    host_bits: u32,
    v4: bool,
}

impl Cidr {
    /// Parses `10.42.3.0/24` or `fd00:42::/64`; None when malformed.
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (addr, len) = s.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        let len: u32 = len.parse().ok()?;
        let (value, bits, v4) = match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32, true),
            IpAddr::V6(a) => (u128::from(a), 128, false),
        };
        if len > bits {
            return None;
        }
        let host_bits = bits - len;
        let mask = if host_bits >= 128 {
            0
        } else {
            !((1u128 << host_bits) - 1)
        };
        Some(Cidr {
            base: value & mask,
            host_bits,
            v4,
        })
    }

    fn addr(&self, offset: u128) -> IpAddr {
        let v = self.base + offset;
        if self.v4 {
            IpAddr::V4((v as u32).into())
        } else {
            IpAddr::V6(v.into())
        }
    }

    /// The offset of `ip` inside this range, if it is inside.
    fn offset(&self, ip: IpAddr) -> Option<u128> {
        let v = match (ip, self.v4) {
            (IpAddr::V4(a), true) => u128::from(u32::from(a)),
            (IpAddr::V6(a), false) => u128::from(a),
            _ => return None,
        };
        let off = v.checked_sub(self.base)?;
        (self.host_bits >= 128 || off < 1u128 << self.host_bits).then_some(off)
    }

    /// Offsets usable for pods: [2, last) for IPv4 (network, gateway and broadcast excluded),
    /// [2, last] for IPv6. Huge IPv6 ranges are capped: nobody runs 2^64 pods on one node.
    fn usable(&self) -> (u128, u128) {
        let size = if self.host_bits >= 32 {
            1u128 << 32
        } else {
            1u128 << self.host_bits
        };
        let end = if self.v4 {
            size.saturating_sub(1)
        } else {
            size
        };
        (2, end)
    }
}

/// One node's pod IPs.
#[derive(Debug, Default)]
pub(crate) struct NodeIpam {
    cidr: Option<Cidr>,
    next: u128,
    used: HashSet<u128>,
}

impl NodeIpam {
    /// Sets the node's podCIDR (None while it has none). A different range starts afresh.
    pub(crate) fn set_cidr(&mut self, cidr: Option<Cidr>) {
        if self.cidr != cidr {
            self.cidr = cidr;
            self.used.clear();
            self.next = 0;
        }
    }

    /// Whether the node has a podCIDR.
    pub(crate) fn has_cidr(&self) -> bool {
        self.cidr.is_some()
    }

    /// The next free address, or None without a podCIDR or when the range is full.
    pub(crate) fn allocate(&mut self) -> Option<IpAddr> {
        let cidr = self.cidr?;
        let (lo, hi) = cidr.usable();
        if hi <= lo || self.used.len() as u128 >= hi - lo {
            return None;
        }
        let mut candidate = self.next.clamp(lo, hi - 1);
        loop {
            if !self.used.contains(&candidate) {
                self.used.insert(candidate);
                self.next = if candidate + 1 >= hi {
                    lo
                } else {
                    candidate + 1
                };
                return Some(cidr.addr(candidate));
            }
            candidate = if candidate + 1 >= hi {
                lo
            } else {
                candidate + 1
            };
        }
    }

    /// Marks `ip` as taken (a running pod found at start); false if outside the range.
    pub(crate) fn claim(&mut self, ip: IpAddr) -> bool {
        match self.cidr.and_then(|c| c.offset(ip)) {
            Some(off) => {
                self.used.insert(off);
                true
            }
            None => false,
        }
    }

    /// Returns `ip` to the pool (nothing if it is not from the current range).
    pub(crate) fn release(&mut self, ip: IpAddr) {
        if let Some(off) = self.cidr.and_then(|c| c.offset(ip)) {
            self.used.remove(&off);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_in_order_from_the_second_host_and_reuses_after_wrapping() {
        let mut ipam = NodeIpam::default();
        assert_eq!(ipam.allocate(), None, "no podCIDR yet");
        ipam.set_cidr(Cidr::parse("10.42.3.0/30"));
        // /30: .0 network, .1 gateway, .2 the only pod address, .3 broadcast.
        assert_eq!(ipam.allocate(), Some("10.42.3.2".parse().unwrap()));
        assert_eq!(ipam.allocate(), None, "full");
        ipam.release("10.42.3.2".parse().unwrap());
        assert_eq!(ipam.allocate(), Some("10.42.3.2".parse().unwrap()));

        ipam.set_cidr(Cidr::parse("10.42.7.0/24"));
        let a = ipam.allocate().unwrap();
        let b = ipam.allocate().unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("10.42.7.2".into(), "10.42.7.3".into())
        );
        ipam.release(a);
        // Round-robin: the released address comes back only after the range wraps.
        assert_eq!(ipam.allocate().unwrap().to_string(), "10.42.7.4");
        assert!(ipam.claim("10.42.7.5".parse().unwrap()));
        assert_eq!(ipam.allocate().unwrap().to_string(), "10.42.7.6");
        assert!(!ipam.claim("10.42.8.5".parse().unwrap()));
        let all: Vec<_> = std::iter::from_fn(|| ipam.allocate()).collect();
        assert_eq!(
            all.len(),
            253 - 4,
            "254 host addresses minus the gateway and the 4 taken"
        );
        assert!(all.iter().all(|ip| ip.to_string() != "10.42.7.255"));
    }

    #[test]
    fn parses_both_families_and_masks_the_base() {
        let mut ipam = NodeIpam::default();
        ipam.set_cidr(Cidr::parse("fd00:42::17/64"));
        assert_eq!(ipam.allocate().unwrap().to_string(), "fd00:42::2");
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert!(
            Cidr::parse("10.1.2.3/16")
                .unwrap()
                .offset("10.1.0.9".parse().unwrap())
                == Some(9)
        );
    }
}
