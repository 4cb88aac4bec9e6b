//! Resource-record constructors and the address spellings cluster DNS uses: dashed IPs in pod
//! and endpoint labels, and reverse (`in-addr.arpa`/`ip6.arpa`) names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};

/// The `dns-version.<domain>` TXT value: the Kubernetes DNS schema version CoreDNS serves.
pub const DNS_SCHEMA_VERSION: &str = "1.1.0";
/// TTL of the `dns-version` TXT record (as CoreDNS).
pub const DNS_VERSION_TTL: u32 = 28800;

/// An address as a DNS label: `10-0-0-1`, `fd00--1`.
pub fn dashed_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string().replace('.', "-"),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

/// The address a pod label spells in `pods insecure` mode: three dashes and no `--` make an
/// IPv4 address, anything else is tried as IPv6 with dashes for colons.
pub fn ip_from_pod_label(label: &str) -> Option<IpAddr> {
    let text = if label.matches('-').count() == 3 && !label.contains("--") {
        label.replace('-', ".")
    } else {
        label.replace('-', ":")
    };
    text.parse().ok()
}

/// The address a reverse name stands for, from its labels before `in-addr.arpa` or
/// `ip6.arpa` (most specific first, as in the name); `None` when they don't spell a whole one.
pub fn ip_from_reverse(labels: &[&str], v6: bool) -> Option<IpAddr> {
    if v6 {
        if labels.len() != 32 {
            return None;
        }
        let mut bits: u128 = 0;
        for label in labels.iter().rev() {
            if label.len() != 1 {
                return None;
            }
            let nibble = u128::from(u8::from_str_radix(label, 16).ok()?);
            bits = (bits << 4) | nibble;
        }
        Some(IpAddr::V6(Ipv6Addr::from(bits)))
    } else {
        if labels.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, label) in labels.iter().rev().enumerate() {
            // Leading zeros or signs are not how an address is written in a reverse name.
            if label.is_empty() || (label.len() > 1 && label.starts_with('0')) {
                return None;
            }
            if !label.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[i] = label.parse().ok()?;
        }
        Some(IpAddr::V4(Ipv4Addr::from(octets)))
    }
}

/// An A or AAAA record for `ip`.
pub fn address(name: &Name, ttl: u32, ip: IpAddr) -> Record {
    let data = match ip {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    };
    Record::from_rdata(name.clone(), ttl, data)
}

/// A CNAME record.
pub fn cname(name: &Name, ttl: u32, target: Name) -> Record {
    Record::from_rdata(name.clone(), ttl, RData::CNAME(CNAME(target)))
}

/// A PTR record.
pub fn ptr(name: &Name, ttl: u32, target: Name) -> Record {
    Record::from_rdata(name.clone(), ttl, RData::PTR(PTR(target)))
}

/// An NS record.
pub fn ns(name: &Name, ttl: u32, target: Name) -> Record {
    Record::from_rdata(name.clone(), ttl, RData::NS(NS(target)))
}

/// An SRV record with priority 0.
pub fn srv(name: &Name, ttl: u32, weight: u16, port: u16, target: Name) -> Record {
    Record::from_rdata(
        name.clone(),
        ttl,
        RData::SRV(SRV::new(0, weight, port, target)),
    )
}

/// A TXT record with one string.
pub fn txt(name: &Name, ttl: u32, text: &str) -> Record {
    Record::from_rdata(
        name.clone(),
        ttl,
        RData::TXT(TXT::new(vec![text.to_string()])),
    )
}

/// The zone's SOA as CoreDNS's backends write it: `ns.dns.<zone>` / `hostmaster.<zone>`,
/// refresh 7200, retry 1800, expire 86400, minimum and TTL the answer TTL (TTL capped at 300).
pub fn soa(zone: &Name, ttl: u32, serial: u32) -> Record {
    let mname = Name::from_ascii("ns.dns")
        .and_then(|n| n.append_domain(zone))
        .unwrap_or_else(|_| zone.clone());
    let rname = Name::from_ascii("hostmaster")
        .and_then(|n| n.append_domain(zone))
        .unwrap_or_else(|_| zone.clone());
    let data = SOA::new(mname, rname, serial, 7200, 1800, 86400, ttl);
    Record::from_rdata(zone.clone(), ttl.min(300), RData::SOA(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_addresses() {
        assert_eq!(dashed_ip("10.42.0.7".parse().unwrap()), "10-42-0-7");
        assert_eq!(dashed_ip("fd00::1".parse().unwrap()), "fd00--1");
    }

    #[test]
    fn pod_labels() {
        assert_eq!(
            ip_from_pod_label("10-42-0-7"),
            Some("10.42.0.7".parse().unwrap())
        );
        assert_eq!(
            ip_from_pod_label("fd00--1"),
            Some("fd00::1".parse().unwrap())
        );
        assert_eq!(ip_from_pod_label("10-42-0"), None);
        assert_eq!(ip_from_pod_label("my-pod-name-x"), None);
        assert_eq!(ip_from_pod_label("300-1-1-1"), None);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            ip_from_reverse(&["10", "0", "43", "10"], false),
            Some("10.43.0.10".parse().unwrap())
        );
        assert_eq!(ip_from_reverse(&["0", "43", "10"], false), None);
        assert_eq!(ip_from_reverse(&["010", "0", "43", "10"], false), None);
        assert_eq!(ip_from_reverse(&["256", "0", "43", "10"], false), None);
        let v6: Vec<String> = "fd00::1"
            .parse::<Ipv6Addr>()
            .unwrap()
            .octets()
            .iter()
            .rev()
            .flat_map(|b| [format!("{:x}", b & 0xf), format!("{:x}", b >> 4)])
            .collect();
        let labels: Vec<&str> = v6.iter().map(String::as_str).collect();
        assert_eq!(
            ip_from_reverse(&labels, true),
            Some("fd00::1".parse().unwrap())
        );
        assert_eq!(ip_from_reverse(&labels[1..], true), None);
    }

    #[test]
    fn soa_shape() {
        let zone = Name::from_ascii("cluster.local.").unwrap();
        let r = soa(&zone, 5, 42);
        assert_eq!(r.ttl, 5);
        let RData::SOA(s) = &r.data else {
            panic!("not a SOA: {r:?}")
        };
        assert_eq!(s.mname.to_ascii(), "ns.dns.cluster.local.");
        assert_eq!(s.rname.to_ascii(), "hostmaster.cluster.local.");
        assert_eq!(
            (s.serial, s.refresh, s.retry, s.expire, s.minimum),
            (42, 7200, 1800, 86400, 5)
        );
    }
}
