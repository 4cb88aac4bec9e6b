//! The set of node CIDRs carved out of the cluster CIDR (IPv4), as upstream's `cidrset`: each
//! node range is the cluster range's address space cut at `node_mask` bits; allocation hands out
//! the next free range after the last one handed out (round robin), so a range just released is
//! not reused at once.

use std::net::Ipv4Addr;

/// A cluster CIDR or mask that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    /// Not `a.b.c.d/n` with an IPv4 address and n ≤ 32.
    #[error("invalid IPv4 CIDR {0:?}")]
    Invalid(String),
    /// The node mask is shorter than the cluster mask, or leaves too many ranges to track.
    #[error("node mask /{node} does not fit cluster CIDR /{cluster} (at most 2^16 node ranges)")]
    Mask {
        /// The cluster CIDR's prefix length.
        cluster: u8,
        /// The node mask.
        node: u8,
    },
}

/// Parses `a.b.c.d/n` into the network address (host bits cleared) and prefix length.
pub fn parse_v4(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Some((u32::from(addr) & mask, len))
}

/// Which node ranges of the cluster CIDR are taken.
#[derive(Debug)]
pub struct CidrSet {
    base: u32,
    cluster_len: u8,
    node_len: u8,
    used: Vec<bool>,
    next: usize,
}

impl CidrSet {
    /// The ranges `/node_mask` inside `cluster_cidr`, all free.
    pub fn new(cluster_cidr: &str, node_mask: u8) -> Result<CidrSet, CidrError> {
        let (base, cluster_len) =
            parse_v4(cluster_cidr).ok_or_else(|| CidrError::Invalid(cluster_cidr.into()))?;
        if node_mask < cluster_len || node_mask > 32 || node_mask - cluster_len > 16 {
            return Err(CidrError::Mask {
                cluster: cluster_len,
                node: node_mask,
            });
        }
        Ok(CidrSet {
            base,
            cluster_len,
            node_len: node_mask,
            used: vec![false; 1usize << (node_mask - cluster_len)],
            next: 0,
        })
    }

    fn render(&self, i: usize) -> String {
        let step = if self.node_len == 32 {
            1
        } else {
            1u32 << (32 - self.node_len)
        };
        let addr = Ipv4Addr::from(self.base.wrapping_add(step.wrapping_mul(i as u32)));
        format!("{addr}/{}", self.node_len)
    }

    /// The index of `cidr` if it is one of this set's node ranges.
    fn index(&self, cidr: &str) -> Option<usize> {
        let (addr, len) = parse_v4(cidr)?;
        if len != self.node_len || self.cluster_len == 32 && addr != self.base {
            return None;
        }
        let off = addr.checked_sub(self.base)?;
        let i = if self.node_len == 32 {
            off as usize
        } else {
            (off >> (32 - self.node_len)) as usize
        };
        (i < self.used.len()).then_some(i)
    }

    /// Marks `cidr` taken (a node already has it); false if it is not one of the ranges.
    pub fn occupy(&mut self, cidr: &str) -> bool {
        match self.index(cidr) {
            Some(i) => {
                self.used[i] = true;
                true
            }
            None => false,
        }
    }

    /// Frees `cidr`.
    pub fn release(&mut self, cidr: &str) {
        if let Some(i) = self.index(cidr) {
            self.used[i] = false;
        }
    }

    /// Takes the next free range, or None when all are taken.
    pub fn allocate(&mut self) -> Option<String> {
        let n = self.used.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if !self.used[i] {
                self.used[i] = true;
                self.next = (i + 1) % n;
                return Some(self.render(i));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_distinct_ranges_round_robin_and_reports_full() {
        let mut s = CidrSet::new("10.42.0.0/22", 24).unwrap();
        assert!(s.occupy("10.42.1.0/24"));
        assert_eq!(s.allocate().as_deref(), Some("10.42.0.0/24"));
        assert_eq!(s.allocate().as_deref(), Some("10.42.2.0/24"));
        s.release("10.42.0.0/24");
        assert_eq!(s.allocate().as_deref(), Some("10.42.3.0/24"));
        assert_eq!(s.allocate().as_deref(), Some("10.42.0.0/24"));
        assert_eq!(s.allocate(), None);
        assert!(!s.occupy("10.43.0.0/24"));
        assert!(!s.occupy("10.42.0.0/25"));
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(CidrSet::new("10.42.0.0/16", 8).is_err());
        assert!(CidrSet::new("nonsense", 24).is_err());
        assert!(CidrSet::new("10.0.0.0/8", 30).is_err());
    }
}
