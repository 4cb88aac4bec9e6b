//! The server's configuration and the `/etc/resolv.conf` reader for the default upstreams.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use crate::error::DnsError;

/// How the DNS server listens, which zone it owns and where it forwards the rest.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// Addresses served over both UDP and TCP (port 0 picks a free port, the same for both).
    pub listen: Vec<SocketAddr>,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
    /// Where names outside the cluster zone go (UDP, retried over TCP when truncated).
    pub upstreams: Vec<SocketAddr>,
    /// TTL of cluster answers (CoreDNS's kubernetes plugin: 5 s); also the SOA minimum.
    pub ttl: u32,
    /// Largest TTL the response cache keeps an upstream answer for (`cache 30`).
    pub cache_max_ttl: u32,
    /// Smallest TTL the cache keeps an answer for (CoreDNS's default: 5 s).
    pub cache_min_ttl: u32,
    /// Entries per cache kind (success, denial); CoreDNS's default capacity is 9984.
    pub cache_capacity: usize,
    /// How long one upstream may take before the next is tried.
    pub upstream_timeout: Duration,
    /// The Service whose ClusterIPs answer `ns.dns.<domain>` and the apex NS glue.
    pub dns_service: (String, String),
    /// The `server` label of the CoreDNS metrics (`dns://:53`).
    pub metrics_server_label: String,
    /// Most UDP queries handled at once; more are dropped (as an overloaded server does).
    pub max_in_flight: usize,
    /// Most TCP connections open at once.
    pub max_tcp_connections: usize,
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle_timeout: Duration,
}

impl DnsConfig {
    /// Defaults (as k3s's CoreDNS) for `listen`, upstreams from `/etc/resolv.conf` left empty:
    /// set them with [`read_resolv_conf`] or explicitly.
    pub fn new(listen: Vec<SocketAddr>) -> DnsConfig {
        DnsConfig {
            listen,
            cluster_domain: "cluster.local".into(),
            upstreams: Vec::new(),
            ttl: 5,
            cache_max_ttl: 30,
            cache_min_ttl: 5,
            cache_capacity: 9984,
            upstream_timeout: Duration::from_secs(2),
            dns_service: ("kube-system".into(), "kube-dns".into()),
            metrics_server_label: "dns://:53".into(),
            max_in_flight: 4096,
            max_tcp_connections: 256,
            tcp_idle_timeout: Duration::from_secs(8),
        }
    }
}

/// The `nameserver` lines of a resolv.conf file as port-53 socket addresses (scoped IPv6
/// addresses and garbage lines are skipped).
pub fn read_resolv_conf(path: &Path) -> Result<Vec<SocketAddr>, DnsError> {
    let text = std::fs::read_to_string(path).map_err(|source| DnsError::ResolvConf {
        path: path.display().to_string(),
        source,
    })?;
    Ok(parse_resolv_conf(&text))
}

/// Parses resolv.conf text (see [`read_resolv_conf`]).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let ip: IpAddr = words.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver  fd00::53 \n\
                    nameserver fe80::1%eth0\nnameserver\noptions ndots:5\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
                "[fd00::53]:53".parse().unwrap()
            ]
        );
    }
}
