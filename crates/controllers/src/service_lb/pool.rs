//! A load-balancer address pool: an IPv4 CIDR (network and broadcast addresses left out, as
//! MetalLB does by default) or an inclusive `first-last` range. Which addresses are taken is
//! the caller's to say; the pool only knows its members and their order.

use std::net::Ipv4Addr;

/// Why a pool specification is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Neither `a.b.c.d/n` nor `a.b.c.d-e.f.g.h`.
    #[error(
        "load-balancer pool {0:?}: expected an IPv4 CIDR (10.0.0.0/28) or a range (10.0.0.1-10.0.0.9)"
    )]
    Syntax(String),
    /// A range whose end comes before its start, or a CIDR with no usable address.
    #[error("load-balancer pool {0:?} holds no address")]
    Empty(String),
}

/// The addresses of a pool, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    first: u32,
    last: u32,
}

impl Pool {
    /// Parses a CIDR or a range.
    pub fn parse(spec: &str) -> Result<Pool, PoolError> {
        let syntax = || PoolError::Syntax(spec.to_owned());
        let spec_t = spec.trim();
        let (first, last) = if let Some((a, b)) = spec_t.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| syntax())?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| syntax())?;
            (u32::from(a), u32::from(b))
        } else if let Some((a, n)) = spec_t.split_once('/') {
            let a: Ipv4Addr = a.parse().map_err(|_| syntax())?;
            let n: u32 = n.parse().map_err(|_| syntax())?;
            if n > 32 {
                return Err(syntax());
            }
            let size = 1u64 << (32 - n);
            let net = (u64::from(u32::from(a)) & !(size - 1)) as u32;
            let top = (u64::from(net) + size - 1) as u32;
            if n >= 31 {
                (net, top)
            } else {
                (net + 1, top - 1)
            }
        } else {
            return Err(syntax());
        };
        if last < first {
            return Err(PoolError::Empty(spec.to_owned()));
        }
        Ok(Pool { first, last })
    }

    /// Whether `ip` belongs to the pool.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&u32::from(ip))
    }

    /// The first member for which `taken` is false.
    pub fn first_free(&self, taken: impl Fn(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
        (self.first..=self.last)
            .map(Ipv4Addr::from)
            .find(|ip| !taken(*ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_leave_out_network_and_broadcast() {
        let p = Pool::parse("10.9.0.0/30").unwrap();
        assert!(!p.contains("10.9.0.0".parse().unwrap()));
        assert!(p.contains("10.9.0.1".parse().unwrap()));
        assert!(p.contains("10.9.0.2".parse().unwrap()));
        assert!(!p.contains("10.9.0.3".parse().unwrap()));
        let one = Pool::parse("10.9.0.7/32").unwrap();
        assert_eq!(one.first_free(|_| false), Some("10.9.0.7".parse().unwrap()));
    }

    #[test]
    fn ranges_are_inclusive_and_allocation_takes_the_lowest_free() {
        let p = Pool::parse("10.9.0.5 - 10.9.0.7").unwrap();
        let taken: [Ipv4Addr; 2] = ["10.9.0.5".parse().unwrap(), "10.9.0.6".parse().unwrap()];
        assert_eq!(
            p.first_free(|ip| taken.contains(&ip)),
            Some("10.9.0.7".parse().unwrap())
        );
        assert_eq!(p.first_free(|_| true), None);
    }

    #[test]
    fn bad_specifications_are_refused_with_what_to_write() {
        for bad in ["", "10.9.0.1", "10.9.0.0/33", "x-10.0.0.1", "fd00::/120"] {
            let e = Pool::parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("expected an IPv4 CIDR"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            Pool::parse("10.0.0.9-10.0.0.1"),
            Err(PoolError::Empty("10.0.0.9-10.0.0.1".into()))
        );
    }
}
