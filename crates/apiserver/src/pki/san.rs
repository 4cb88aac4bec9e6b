//! Subject alternative names of the apiserver's serving certificate.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::PkiError;

/// The DNS names every apiserver serving certificate carries (in-cluster service names).
pub const DEFAULT_DNS_SANS: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// The default first IP of the service CIDR (10.43.0.0/16, as k3s): the `kubernetes`
/// Service's ClusterIP.
pub const DEFAULT_SERVICE_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 43, 0, 1));

/// What goes into the serving certificate besides the fixed names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SanConfig {
    /// The first IP of the service CIDR (the `kubernetes` Service's ClusterIP).
    pub service_ip: IpAddr,
    /// Extra names or IP addresses (`--tls-san`); each is an IP if it parses as one,
    /// otherwise a DNS name (wildcards such as `*.example.com` allowed).
    pub extra: Vec<String>,
    /// Whether to add the host's hostname and its non-loopback, non-link-local
    /// addresses. On by default; tests that need a stable SAN set may turn it off.
    pub include_host: bool,
}

impl Default for SanConfig {
    fn default() -> Self {
        SanConfig {
            service_ip: DEFAULT_SERVICE_IP,
            extra: Vec::new(),
            include_host: true,
        }
    }
}

/// A resolved, normalised set of subject alternative names: DNS names (lowercase) and IPs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SanSet {
    /// DNS names, lowercase.
    pub dns: BTreeSet<String>,
    /// IP addresses.
    pub ips: BTreeSet<IpAddr>,
}

impl SanSet {
    /// Adds one name: an IP address if it parses as one, otherwise a DNS name.
    pub fn add(&mut self, name: &str) -> Result<(), PkiError> {
        let name = name.trim();
        let unbracketed = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            self.ips.insert(ip);
            return Ok(());
        }
        if !is_dns_name(name) {
            return Err(PkiError::InvalidSan(name.to_string()));
        }
        self.dns.insert(name.to_ascii_lowercase());
        Ok(())
    }

    /// Whether `name` (a DNS name or an IP literal) is in the set.
    pub fn contains(&self, name: &str) -> bool {
        match name.parse::<IpAddr>() {
            Ok(ip) => self.ips.contains(&ip),
            Err(_) => self.dns.contains(&name.to_ascii_lowercase()),
        }
    }
}

impl SanConfig {
    /// Resolves the configuration into the full SAN set of the serving certificate:
    /// 127.0.0.1, ::1, the fixed DNS names, the service IP, the host's names and
    /// addresses (if `include_host`) and the extra names.
    pub fn resolve(&self) -> Result<SanSet, PkiError> {
        let mut set = SanSet::default();
        set.ips.insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
        set.ips.insert(IpAddr::V6(Ipv6Addr::LOCALHOST));
        for name in DEFAULT_DNS_SANS {
            set.dns.insert((*name).to_string());
        }
        set.ips.insert(self.service_ip);
        if self.include_host {
            if let Some(host) = hostname() {
                set.dns.insert(host);
            }
            set.ips.extend(host_addresses());
        }
        for name in &self.extra {
            set.add(name)?;
        }
        Ok(set)
    }
}

/// The host's name from the kernel (`/proc/sys/kernel/hostname`, falling back to
/// `/etc/hostname`), lowercase; `None` if unavailable or not a valid DNS name.
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .find(|s| is_dns_name(s))
}

/// The host's interface addresses that a client could use: all but loopback and
/// link-local ones.
pub fn host_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(ifaces) => ifaces
            .into_iter()
            .map(|i| i.ip())
            .filter(|ip| !ip.is_loopback() && !is_link_local(ip) && !ip.is_unspecified())
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list network interfaces; serving certificate gets no host addresses");
            Vec::new()
        }
    }
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// A DNS name as a certificate may carry it: dot-separated labels of letters, digits,
/// `-` and `_` (the first label may be `*`), at most 253 characters.
fn is_dns_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    name.split('.').enumerate().all(|(i, label)| {
        (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_fixed_names_and_extras() {
        let cfg = SanConfig {
            extra: vec![
                "Api.Example.com".into(),
                "192.0.2.10".into(),
                "[2001:db8::1]".into(),
            ],
            include_host: false,
            ..SanConfig::default()
        };
        let set = cfg.resolve().unwrap();
        for n in DEFAULT_DNS_SANS {
            assert!(set.contains(n), "{n}");
        }
        assert!(set.contains("127.0.0.1"));
        assert!(set.contains("::1"));
        assert!(set.contains("10.43.0.1"));
        assert!(set.contains("api.example.com"));
        assert!(set.contains("192.0.2.10"));
        assert!(set.contains("2001:db8::1"));
        assert_eq!(set.ips.len(), 5);
    }

    #[test]
    fn rejects_bad_names() {
        let mut set = SanSet::default();
        for bad in ["", "a b", "-x.example", "x..y", "ex\u{e4}mple.com"] {
            assert!(set.add(bad).is_err(), "{bad:?}");
        }
        assert!(set.add("*.example.com").is_ok());
        assert!(set.add("my_host").is_ok());
    }

    #[test]
    fn host_addresses_exclude_loopback() {
        assert!(host_addresses().iter().all(|ip| !ip.is_loopback()));
    }
}
