//! A pod's resolv.conf as upstream's `dnsPolicy` and `dnsConfig` define it.

use std::net::IpAddr;

use k8s_cri::v1::DnsConfig;
use k8s_openapi::api::core::v1::Pod;

/// The host's resolver settings (from /etc/resolv.conf).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostResolv {
    /// `nameserver` lines.
    pub servers: Vec<String>,
    /// `search` (or `domain`) entries.
    pub searches: Vec<String>,
    /// `options` entries.
    pub options: Vec<String>,
}

impl HostResolv {
    /// Parses resolv.conf text; unknown lines are ignored.
    pub fn parse(text: &str) -> Self {
        let mut r = HostResolv::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => r.servers.extend(words.next().map(str::to_string)),
                Some("search") | Some("domain") => r.searches = words.map(str::to_string).collect(),
                Some("options") => r.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        r
    }

    /// The host's /etc/resolv.conf (empty if unreadable).
    pub fn read() -> Self {
        Self::parse(&std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
    }
}

/// The DNS config for `pod`; `cluster_dns` and `domain` are the cluster's.
pub fn dns_config(pod: &Pod, cluster_dns: &[IpAddr], domain: &str, host: &HostResolv) -> DnsConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let host_network = spec.host_network.unwrap_or(false);
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let cluster_first = match policy {
        "ClusterFirstWithHostNet" => true,
        "ClusterFirst" => !host_network,
        _ => false,
    };
    let mut config = match policy {
        "None" => DnsConfig::default(),
        _ if cluster_first && !cluster_dns.is_empty() => {
            let mut searches = vec![
                format!("{ns}.svc.{domain}"),
                format!("svc.{domain}"),
                domain.to_string(),
            ];
            searches.extend(host.searches.iter().cloned());
            DnsConfig {
                servers: cluster_dns.iter().map(IpAddr::to_string).collect(),
                searches,
                options: vec!["ndots:5".into()],
            }
        }
        _ => DnsConfig {
            servers: host.servers.clone(),
            searches: host.searches.clone(),
            options: host.options.clone(),
        },
    };
    if let Some(extra) = spec.dns_config {
        config.servers.extend(extra.nameservers.unwrap_or_default());
        config.searches.extend(extra.searches.unwrap_or_default());
        for o in extra.options.unwrap_or_default() {
            let Some(name) = o.name else { continue };
            let text = match o.value {
                Some(v) => format!("{name}:{v}"),
                None => name.clone(),
            };
            // A pod option overrides the same option from the policy.
            config
                .options
                .retain(|x| x.split(':').next() != Some(name.as_str()));
            config.options.push(text);
        }
    }
    dedup(&mut config.servers);
    dedup(&mut config.searches);
    config
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|x| seen.insert(x.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(
            serde_json::json!({"metadata": {"name": "p", "namespace": "web"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn cluster_first_uses_cluster_dns() {
        let host =
            HostResolv::parse("nameserver 10.255.255.53\nsearch corp.example\noptions edns0\n");
        let c = dns_config(
            &pod(serde_json::json!({"containers": []})),
            &[[10, 43, 0, 10].into()],
            "cluster.local",
            &host,
        );
        assert_eq!(c.servers, ["10.43.0.10"]);
        assert_eq!(
            c.searches,
            [
                "web.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "corp.example"
            ]
        );
        assert_eq!(c.options, ["ndots:5"]);
    }

    #[test]
    fn host_network_and_default_use_the_host() {
        let host = HostResolv::parse("nameserver 1.1.1.1\n");
        let hn = dns_config(
            &pod(serde_json::json!({"hostNetwork": true, "containers": []})),
            &[[10, 43, 0, 10].into()],
            "cluster.local",
            &host,
        );
        assert_eq!(hn.servers, ["1.1.1.1"]);
        let hn2 = dns_config(
            &pod(
                serde_json::json!({"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet", "containers": []}),
            ),
            &[[10, 43, 0, 10].into()],
            "cluster.local",
            &host,
        );
        assert_eq!(hn2.servers, ["10.43.0.10"]);
    }

    #[test]
    fn none_policy_takes_dns_config_only() {
        let p = pod(
            serde_json::json!({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["9.9.9.9"], "searches": ["a.b"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}, "containers": []}),
        );
        let c = dns_config(&p, &[], "cluster.local", &HostResolv::default());
        assert_eq!(c.servers, ["9.9.9.9"]);
        assert_eq!(c.searches, ["a.b"]);
        assert_eq!(c.options, ["ndots:2", "edns0"]);
    }
}
