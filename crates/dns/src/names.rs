//! Parses a query name into what the cluster DNS should look up, following CoreDNS's
//! kubernetes plugin: `<svc>.<ns>.svc.<zone>`, `<endpoint>.<svc>.<ns>.svc.<zone>`,
//! `_<port>._<proto>.<svc>.<ns>.svc.<zone>`, `<ip-with-dashes>.<ns>.pod.<zone>`, the
//! special `dns-version` and `ns.dns` names, and reverse names under `in-addr.arpa`/`ip6.arpa`.

use std::net::IpAddr;

use hickory_proto::rr::Name;

use crate::records::ip_from_reverse;

/// The cluster zone (`cluster.local.`), kept as a name and as lowercase labels.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone as a fully qualified name.
    pub name: Name,
    labels: Vec<String>,
}

impl Zone {
    /// The zone for a cluster domain such as `cluster.local` (a trailing dot is fine).
    pub fn new(domain: &str) -> Result<Zone, String> {
        let trimmed = domain.trim_end_matches('.').to_ascii_lowercase();
        if trimmed.is_empty() {
            return Err("the cluster domain is empty".into());
        }
        let name = Name::from_ascii(format!("{trimmed}."))
            .map_err(|e| format!("cluster domain {domain:?}: {e}"))?;
        let labels = trimmed.split('.').map(str::to_string).collect();
        Ok(Zone { name, labels })
    }

    /// The domain without trailing dot (`cluster.local`).
    pub fn domain(&self) -> String {
        self.labels.join(".")
    }
}

/// Where a query name falls.
#[derive(Clone, Debug, PartialEq)]
pub enum Place {
    /// Inside the cluster zone.
    Cluster(ClusterName),
    /// Under `in-addr.arpa` or `ip6.arpa`: the address when the name spells a whole one.
    Reverse(Option<IpAddr>),
    /// Anywhere else: forwarded.
    Outside,
}

/// A name inside the cluster zone.
#[derive(Clone, Debug, PartialEq)]
pub enum ClusterName {
    /// The zone itself.
    Apex,
    /// `svc.<zone>` or `pod.<zone>`: exists, holds no records.
    EmptyNonTerminal,
    /// `dns-version.<zone>` (a TXT record; nothing else).
    DnsVersion,
    /// `ns.dns.<zone>`: the DNS server's own addresses.
    DefaultNs,
    /// Under `svc.<zone>`.
    Service(ServiceQuery),
    /// Under `pod.<zone>`.
    Pod(PodQuery),
    /// A shape the plugin does not serve (answered NXDOMAIN).
    Invalid,
}

/// A name under `<ns>.svc.<zone>`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceQuery {
    /// The namespace label.
    pub namespace: String,
    /// The Service label (absent for `<ns>.svc.<zone>` itself).
    pub service: Option<String>,
    /// What below the Service is asked for.
    pub target: Target,
}

/// What below `<svc>.<ns>.svc.<zone>` a name asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The Service name itself.
    Service,
    /// One endpoint by hostname (or dashed address).
    Endpoint(String),
    /// `_<port>._<proto>`: a named port (leading underscores stripped).
    Port {
        /// The port name.
        port: String,
        /// The protocol (`tcp`, `udp`, `sctp`).
        protocol: String,
    },
}

/// A name under `<ns>.pod.<zone>`.
#[derive(Clone, Debug, PartialEq)]
pub struct PodQuery {
    /// The namespace label.
    pub namespace: String,
    /// The pod label (a dashed address), absent for `<ns>.pod.<zone>` itself.
    pub name: Option<String>,
}

/// Classifies `name` (any case) against the cluster zone and the reverse zones.
pub fn classify(zone: &Zone, name: &Name) -> Place {
    let labels: Vec<String> = name
        .iter()
        .map(|l| String::from_utf8_lossy(l).to_ascii_lowercase())
        .collect();
    if let Some(base) = strip_suffix(&labels, &zone.labels) {
        return Place::Cluster(cluster_name(base));
    }
    if let Some(base) = strip_suffix(&labels, &["in-addr", "arpa"]) {
        let refs: Vec<&str> = base.iter().map(String::as_str).collect();
        return Place::Reverse(ip_from_reverse(&refs, false));
    }
    if let Some(base) = strip_suffix(&labels, &["ip6", "arpa"]) {
        let refs: Vec<&str> = base.iter().map(String::as_str).collect();
        return Place::Reverse(ip_from_reverse(&refs, true));
    }
    Place::Outside
}

fn strip_suffix<'a, S: AsRef<str>>(labels: &'a [String], suffix: &[S]) -> Option<&'a [String]> {
    if labels.len() < suffix.len() {
        return None;
    }
    let (base, tail) = labels.split_at(labels.len() - suffix.len());
    tail.iter()
        .zip(suffix)
        .all(|(a, b)| a == b.as_ref())
        .then_some(base)
}

fn cluster_name(base: &[String]) -> ClusterName {
    let segs: Vec<&str> = base.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => return ClusterName::Apex,
        ["svc"] | ["pod"] => return ClusterName::EmptyNonTerminal,
        ["dns-version"] => return ClusterName::DnsVersion,
        ["ns", "dns"] => return ClusterName::DefaultNs,
        _ => {}
    }
    // Read right to left: pod|svc, namespace, name, then one endpoint label or port+protocol.
    let mut rev = segs.iter().rev();
    let kind = rev.next().copied().unwrap_or_default();
    let Some(namespace) = rev.next().map(|s| s.to_string()) else {
        return ClusterName::Invalid;
    };
    let name = rev.next().map(|s| s.to_string());
    let rest: Vec<&str> = rev.copied().collect();
    let target = match rest.as_slice() {
        [] => Target::Service,
        [endpoint] => Target::Endpoint(endpoint.to_string()),
        [protocol, port] => Target::Port {
            port: strip_underscore(port),
            protocol: strip_underscore(protocol),
        },
        _ => return ClusterName::Invalid,
    };
    match kind {
        "svc" => ClusterName::Service(ServiceQuery {
            namespace,
            service: name,
            target,
        }),
        "pod" => ClusterName::Pod(PodQuery { namespace, name }),
        _ => ClusterName::Invalid,
    }
}

fn strip_underscore(s: &str) -> String {
    s.strip_prefix('_').unwrap_or(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(name: &str) -> Place {
        let zone = Zone::new("cluster.local").unwrap();
        classify(&zone, &Name::from_ascii(name).unwrap())
    }

    fn svc(ns: &str, name: Option<&str>, target: Target) -> Place {
        Place::Cluster(ClusterName::Service(ServiceQuery {
            namespace: ns.into(),
            service: name.map(Into::into),
            target,
        }))
    }

    #[test]
    fn service_names() {
        assert_eq!(
            place("web.default.svc.cluster.local."),
            svc("default", Some("web"), Target::Service)
        );
        assert_eq!(
            place("Web.DEFAULT.svc.Cluster.Local"),
            svc("default", Some("web"), Target::Service)
        );
        assert_eq!(
            place("default.svc.cluster.local."),
            svc("default", None, Target::Service)
        );
        assert_eq!(
            place("web-0.web.default.svc.cluster.local."),
            svc("default", Some("web"), Target::Endpoint("web-0".into()))
        );
        assert_eq!(
            place("_http._tcp.web.default.svc.cluster.local."),
            svc(
                "default",
                Some("web"),
                Target::Port {
                    port: "http".into(),
                    protocol: "tcp".into()
                }
            )
        );
        assert_eq!(
            place("a.b.c.web.default.svc.cluster.local."),
            Place::Cluster(ClusterName::Invalid)
        );
    }

    #[test]
    fn special_names() {
        assert_eq!(place("cluster.local."), Place::Cluster(ClusterName::Apex));
        assert_eq!(
            place("svc.cluster.local."),
            Place::Cluster(ClusterName::EmptyNonTerminal)
        );
        assert_eq!(
            place("pod.cluster.local."),
            Place::Cluster(ClusterName::EmptyNonTerminal)
        );
        assert_eq!(
            place("dns-version.cluster.local."),
            Place::Cluster(ClusterName::DnsVersion)
        );
        assert_eq!(
            place("ns.dns.cluster.local."),
            Place::Cluster(ClusterName::DefaultNs)
        );
        assert_eq!(
            place("foo.cluster.local."),
            Place::Cluster(ClusterName::Invalid)
        );
        assert_eq!(
            place("web.default.xyz.cluster.local."),
            Place::Cluster(ClusterName::Invalid)
        );
    }

    #[test]
    fn pod_names() {
        assert_eq!(
            place("10-42-0-7.default.pod.cluster.local."),
            Place::Cluster(ClusterName::Pod(PodQuery {
                namespace: "default".into(),
                name: Some("10-42-0-7".into())
            }))
        );
        assert_eq!(
            place("default.pod.cluster.local."),
            Place::Cluster(ClusterName::Pod(PodQuery {
                namespace: "default".into(),
                name: None
            }))
        );
    }

    #[test]
    fn other_zones() {
        assert_eq!(place("example.com."), Place::Outside);
        assert_eq!(place("local."), Place::Outside);
        assert_eq!(place("notcluster.local."), Place::Outside);
        assert_eq!(
            place("10.0.43.10.in-addr.arpa."),
            Place::Reverse(Some("10.43.0.10".parse().unwrap()))
        );
        assert_eq!(place("43.10.in-addr.arpa."), Place::Reverse(None));
        assert_eq!(place("ip6.arpa."), Place::Reverse(None));
    }
}
