//! An immutable view of what the cluster DNS answers from: namespaces, Services and their
//! endpoints (merged from EndpointSlices, readiness already applied), and a reverse index from
//! IPs to the names PTR queries return. Built from reflector contents; queries never lock it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::records::dashed_ip;

/// The label tying an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What a Service resolves to.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceKind {
    /// A virtual IP per family (may be empty while unallocated).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the endpoints' addresses.
    Headless,
    /// `type: ExternalName`: a CNAME to this name (lowercase, no trailing dot).
    ExternalName(String),
}

/// A Service or EndpointSlice port; `port == -1` is CoreDNS's "no ports" sentinel.
#[derive(Clone, Debug, PartialEq)]
pub struct PortSpec {
    /// The port's name ("" when unnamed).
    pub name: String,
    /// `tcp`, `udp` or `sctp` (lowercase).
    pub protocol: String,
    /// The port number, or -1 for "none declared".
    pub port: i32,
}

/// One ready endpoint address.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointAddr {
    /// The address.
    pub ip: IpAddr,
    /// Its DNS label: the endpoint's hostname, else its address with dashes (CoreDNS's rule).
    pub label: String,
}

/// The endpoints of one EndpointSlice: addresses sharing a port list.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointSet {
    /// The slice's ports (the sentinel when it declares none).
    pub ports: Vec<PortSpec>,
    /// Its ready (or, with `publishNotReadyAddresses`, all) addresses.
    pub addresses: Vec<EndpointAddr>,
}

/// A Service as DNS sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceEntry {
    /// How it resolves.
    pub kind: ServiceKind,
    /// Its ports (the sentinel when it declares none).
    pub ports: Vec<PortSpec>,
}

/// Everything the answerer needs, immutable once built.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Whether every reflector has listed once; until then cluster misses are SERVFAIL.
    pub synced: bool,
    /// The SOA serial: when the data last changed (Unix seconds).
    pub serial: u32,
    namespaces: HashSet<String>,
    services: HashMap<String, HashMap<String, ServiceEntry>>,
    endpoints: HashMap<String, HashMap<String, Vec<EndpointSet>>>,
    service_reverse: HashMap<IpAddr, Vec<String>>,
    endpoint_reverse: HashMap<IpAddr, Vec<String>>,
}

impl Snapshot {
    /// Builds a snapshot from reflector contents for the cluster `domain` (e.g.
    /// `cluster.local`, used in the reverse names).
    pub fn build<'a>(
        domain: &str,
        namespaces: impl IntoIterator<Item = &'a Namespace>,
        services: impl IntoIterator<Item = &'a Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> Snapshot {
        let mut snap = Snapshot::default();
        for ns in namespaces {
            if let Some(name) = &ns.metadata.name {
                snap.namespaces.insert(name.clone());
            }
        }
        let mut publish_not_ready: HashSet<(String, String)> = HashSet::new();
        let mut cluster_ips: Vec<(IpAddr, String)> = Vec::new();
        for svc in services {
            let (Some(ns), Some(name)) = (&svc.metadata.namespace, &svc.metadata.name) else {
                continue;
            };
            let spec = svc.spec.clone().unwrap_or_default();
            if spec.publish_not_ready_addresses == Some(true) {
                publish_not_ready.insert((ns.clone(), name.clone()));
            }
            let kind = if spec.type_.as_deref() == Some("ExternalName") {
                ServiceKind::ExternalName(
                    spec.external_name
                        .unwrap_or_default()
                        .trim_end_matches('.')
                        .to_ascii_lowercase(),
                )
            } else if spec.cluster_ip.as_deref() == Some("None") {
                ServiceKind::Headless
            } else {
                let mut ips: Vec<IpAddr> = spec
                    .cluster_ips
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect();
                if ips.is_empty()
                    && let Some(ip) = spec.cluster_ip.as_deref().and_then(|s| s.parse().ok())
                {
                    ips.push(ip);
                }
                for ip in &ips {
                    cluster_ips.push((*ip, format!("{name}.{ns}.svc.{domain}")));
                }
                ServiceKind::ClusterIp(ips)
            };
            let mut ports: Vec<PortSpec> = spec
                .ports
                .unwrap_or_default()
                .into_iter()
                .map(|p| PortSpec {
                    name: p.name.unwrap_or_default().to_ascii_lowercase(),
                    protocol: p
                        .protocol
                        .unwrap_or_else(|| "TCP".into())
                        .to_ascii_lowercase(),
                    port: p.port,
                })
                .collect();
            if ports.is_empty() {
                ports.push(sentinel_port());
            }
            snap.services
                .entry(ns.clone())
                .or_default()
                .insert(name.clone(), ServiceEntry { kind, ports });
        }
        // A ClusterIP answers PTR with its Service only (first one wins, as CoreDNS).
        for (ip, target) in cluster_ips {
            snap.service_reverse
                .entry(ip)
                .or_insert_with(|| vec![target]);
        }
        for slice in slices {
            let Some(ns) = &slice.metadata.namespace else {
                continue;
            };
            let Some(svc) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            if slice.address_type == "FQDN" {
                continue;
            }
            let all = publish_not_ready.contains(&(ns.clone(), svc.clone()));
            let mut ports: Vec<PortSpec> = slice
                .ports
                .iter()
                .flatten()
                .map(|p| PortSpec {
                    name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                    protocol: p
                        .protocol
                        .clone()
                        .unwrap_or_else(|| "TCP".into())
                        .to_ascii_lowercase(),
                    port: p.port.unwrap_or(-1),
                })
                .collect();
            if ports.is_empty() {
                ports.push(sentinel_port());
            }
            let mut addresses = Vec::new();
            for ep in &slice.endpoints {
                // A nil `ready` means ready (the API's documented default).
                let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                if !ready && !all {
                    continue;
                }
                for a in &ep.addresses {
                    let Ok(ip) = a.parse::<IpAddr>() else {
                        continue;
                    };
                    let label = match ep.hostname.as_deref() {
                        Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
                        _ => dashed_ip(ip),
                    };
                    let target = format!("{label}.{svc}.{ns}.svc.{domain}");
                    let names = snap.endpoint_reverse.entry(ip).or_default();
                    if !names.contains(&target) {
                        names.push(target);
                    }
                    addresses.push(EndpointAddr { ip, label });
                }
            }
            snap.endpoints
                .entry(ns.clone())
                .or_default()
                .entry(svc.clone())
                .or_default()
                .push(EndpointSet { ports, addresses });
        }
        snap
    }

    /// Whether the namespace exists.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.namespaces.contains(ns)
    }

    /// The Service `ns/name`.
    pub fn service(&self, ns: &str, name: &str) -> Option<&ServiceEntry> {
        self.services.get(ns)?.get(name)
    }

    /// The endpoint sets of Service `ns/name` (one per EndpointSlice).
    pub fn endpoints(&self, ns: &str, name: &str) -> &[EndpointSet] {
        self.endpoints
            .get(ns)
            .and_then(|m| m.get(name))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The names (without trailing dot) a PTR query for `ip` answers.
    /// A Service's ClusterIP names that Service only; other IPs name every endpoint using them.
    pub fn reverse(&self, ip: IpAddr) -> &[String] {
        self.service_reverse
            .get(&ip)
            .or_else(|| self.endpoint_reverse.get(&ip))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// How many Services the snapshot holds.
    pub fn service_count(&self) -> usize {
        self.services.values().map(HashMap::len).sum()
    }
}

fn sentinel_port() -> PortSpec {
    PortSpec {
        name: String::new(),
        protocol: String::new(),
        port: -1,
    }
}
