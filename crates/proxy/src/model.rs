//! The proxier's view of the cluster: service ports and their endpoints, built from Service and
//! EndpointSlice objects by pure functions. Anything this IPv4 proxier cannot serve (headless
//! and ExternalName Services, IPv6 addresses, SCTP, ports without numbers) is left out here,
//! so one odd object never affects the rules of another.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::cidr::Ipv4Cidr;

/// The label naming the Service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Upstream's default ClientIP affinity timeout (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT_SECONDS: u32 = 10800;

/// A transport protocol the proxier programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP (its stale conntrack entries are flushed when endpoints change).
    Udp,
}

impl Protocol {
    /// The lower-case nft name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    /// Parses a Kubernetes protocol name (`None` means TCP); `None` for SCTP and unknowns.
    pub fn from_k8s(p: Option<&str>) -> Option<Protocol> {
        match p.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// A Service port's identity: namespace, Service name, port name and protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePortName {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The port's name (`""` for a single unnamed port).
    pub port: String,
    /// The port's protocol.
    pub protocol: Protocol,
}

impl fmt::Display for ServicePortName {
    /// `ns/name:port`, or `ns/name` for an unnamed port, as upstream prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if !self.port.is_empty() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// What the proxier needs of one Service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// The IPv4 ClusterIP.
    pub cluster_ip: Ipv4Addr,
    /// The Service port.
    pub port: u16,
    /// The NodePort, if allocated.
    pub node_port: Option<u16>,
    /// `spec.externalIPs` (IPv4 ones).
    pub external_ips: Vec<Ipv4Addr>,
    /// `status.loadBalancer.ingress[].ip` (IPv4, not `ipMode: Proxy`).
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// `spec.loadBalancerSourceRanges` (IPv4, parseable ones).
    pub load_balancer_source_ranges: Vec<Ipv4Cidr>,
    /// ClientIP session affinity timeout in seconds; `None` without affinity.
    pub affinity_timeout: Option<u32>,
    /// externalTrafficPolicy Local (only for externally accessible Services).
    pub external_policy_local: bool,
    /// internalTrafficPolicy Local.
    pub internal_policy_local: bool,
    /// `spec.healthCheckNodePort` of a Local LoadBalancer.
    pub health_check_node_port: Option<u16>,
}

impl ServicePort {
    /// Whether any traffic reaches it from outside: NodePort, external or LoadBalancer IPs.
    pub fn externally_accessible(&self) -> bool {
        self.node_port.is_some()
            || !self.external_ips.is_empty()
            || !self.load_balancer_ips.is_empty()
    }

    /// Whether some traffic uses the Cluster-policy endpoint set (even with Local external
    /// policy, pod- and node-originated external traffic short-circuits to it).
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.internal_policy_local || self.externally_accessible()
    }

    /// Whether some traffic uses the node-local endpoint set.
    pub fn uses_local_endpoints(&self) -> bool {
        self.internal_policy_local || (self.external_policy_local && self.externally_accessible())
    }
}

/// One endpoint of a service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its address.
    pub ip: Ipv4Addr,
    /// Its (target) port.
    pub port: u16,
    /// `conditions.ready` (absent means true).
    pub ready: bool,
    /// `conditions.serving` (absent means true).
    pub serving: bool,
    /// `conditions.terminating` (absent means false).
    pub terminating: bool,
    /// Whether it runs on this node.
    pub local: bool,
}

impl Endpoint {
    /// `ip:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// Every service port and its endpoints, as of one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Service ports by name.
    pub services: BTreeMap<ServicePortName, ServicePort>,
    /// Endpoints by service port, sorted by address and deduplicated.
    pub endpoints: BTreeMap<ServicePortName, Vec<Endpoint>>,
}

/// A Service's ports as the proxier serves them; empty when it serves none (headless,
/// ExternalName, no IPv4 ClusterIP). `skipped` notes what was left out and why.
pub fn service_ports(
    svc: &Service,
    skipped: &mut Vec<String>,
) -> Vec<(ServicePortName, ServicePort)> {
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    if ty == "ExternalName" {
        return Vec::new();
    }
    let ips = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter());
    let Some(cluster_ip) = ips.filter_map(|ip| ip.parse::<Ipv4Addr>().ok()).next() else {
        // Headless ("None"), not yet allocated, or IPv6-only: nothing to program.
        return Vec::new();
    };
    let v4 = |list: Option<&Vec<String>>| -> Vec<Ipv4Addr> {
        list.into_iter()
            .flatten()
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    let external_ips = v4(spec.external_ips.as_ref());
    let load_balancer_ips: Vec<Ipv4Addr> = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter(|i| i.ip_mode.as_deref() != Some("Proxy"))
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect();
    let load_balancer_source_ranges = spec
        .load_balancer_source_ranges
        .iter()
        .flatten()
        .filter_map(|r| r.parse().ok())
        .collect();
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT_SECONDS)
    });
    let externally_accessible_type = ty == "LoadBalancer"
        || ty == "NodePort"
        || (ty == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
    let external_policy_local =
        externally_accessible_type && spec.external_traffic_policy.as_deref() == Some("Local");
    let internal_policy_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let health_check_node_port = if external_policy_local && ty == "LoadBalancer" {
        spec.health_check_node_port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
    } else {
        None
    };
    let mut out = Vec::new();
    for p in spec.ports.iter().flatten() {
        let Some(protocol) = Protocol::from_k8s(p.protocol.as_deref()) else {
            skipped.push(format!(
                "{namespace}/{name}: port {} protocol {} is not supported",
                p.port,
                p.protocol.as_deref().unwrap_or("")
            ));
            continue;
        };
        let Some(port) = u16::try_from(p.port).ok().filter(|p| *p != 0) else {
            skipped.push(format!("{namespace}/{name}: invalid port {}", p.port));
            continue;
        };
        let node_port = p
            .node_port
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n != 0);
        out.push((
            ServicePortName {
                namespace: namespace.clone(),
                name: name.clone(),
                port: p.name.clone().unwrap_or_default(),
                protocol,
            },
            ServicePort {
                cluster_ip,
                port,
                node_port,
                external_ips: external_ips.clone(),
                load_balancer_ips: load_balancer_ips.clone(),
                load_balancer_source_ranges: Vec::clone(&load_balancer_source_ranges),
                affinity_timeout,
                external_policy_local,
                internal_policy_local,
                health_check_node_port,
            },
        ));
    }
    out
}

/// The endpoints an EndpointSlice contributes, per service port; empty for slices this
/// proxier ignores (no Service label, not IPv4).
pub fn slice_endpoints(slice: &EndpointSlice, node_name: &str) -> Vec<(ServicePortName, Endpoint)> {
    let Some(namespace) = slice.metadata.namespace.clone() else {
        return Vec::new();
    };
    let Some(service) = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .cloned()
    else {
        return Vec::new();
    };
    if slice.address_type != "IPv4" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for port in slice.ports.iter().flatten() {
        let Some(protocol) = Protocol::from_k8s(port.protocol.as_deref()) else {
            continue;
        };
        let Some(number) = port
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
        else {
            continue;
        };
        let spn = ServicePortName {
            namespace: namespace.clone(),
            name: service.clone(),
            port: port.name.clone().unwrap_or_default(),
            protocol,
        };
        for ep in &slice.endpoints {
            let Some(ip) = ep
                .addresses
                .first()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            let cond = ep.conditions.as_ref();
            let ready = cond.and_then(|c| c.ready).unwrap_or(true);
            let serving = cond.and_then(|c| c.serving).unwrap_or(true);
            let terminating = cond.and_then(|c| c.terminating).unwrap_or(false);
            out.push((
                spn.clone(),
                Endpoint {
                    ip,
                    port: number,
                    ready,
                    serving,
                    terminating,
                    local: ep.node_name.as_deref() == Some(node_name),
                },
            ));
        }
    }
    out
}

/// Builds the snapshot from every Service and EndpointSlice; `skipped` collects notes on
/// what was left out.
pub fn build_snapshot<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    node_name: &str,
    skipped: &mut Vec<String>,
) -> Snapshot {
    let mut snap = Snapshot::default();
    for svc in services {
        for (spn, sp) in service_ports(svc, skipped) {
            snap.services.insert(spn, sp);
        }
    }
    for slice in slices {
        for (spn, ep) in slice_endpoints(slice, node_name) {
            snap.endpoints.entry(spn).or_default().push(ep);
        }
    }
    for eps in snap.endpoints.values_mut() {
        // A stable order keeps the generated rules stable; the same address in two slices
        // (mid-move) counts once, preferring the ready copy.
        eps.sort_by_key(|a| (a.ip, a.port, !a.ready));
        eps.dedup_by(|b, a| a.ip == b.ip && a.port == b.port);
    }
    snap
}

/// Endpoints sorted by how a service port uses them (upstream's CategorizeEndpoints without
/// topology hints).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Categorized {
    /// Endpoints for Cluster traffic policy: the ready ones, else the serving terminating ones.
    pub cluster: Vec<Endpoint>,
    /// Endpoints for Local traffic policy, chosen the same way among this node's.
    pub local: Vec<Endpoint>,
    /// Every endpoint some traffic may reach from this node (union of the two, in order).
    pub reachable: Vec<Endpoint>,
    /// Whether the service has usable endpoints anywhere in the cluster.
    pub has_any: bool,
}

/// Sorts `eps` into the sets the rules use.
pub fn categorize(sp: &ServicePort, eps: &[Endpoint]) -> Categorized {
    let mut c = Categorized::default();
    let pick = |filter: &dyn Fn(&Endpoint) -> bool| -> Vec<Endpoint> {
        let ready: Vec<Endpoint> = eps
            .iter()
            .filter(|e| filter(e) && e.ready)
            .cloned()
            .collect();
        if !ready.is_empty() {
            return ready;
        }
        eps.iter()
            .filter(|e| filter(e) && e.serving && e.terminating)
            .cloned()
            .collect()
    };
    if sp.uses_cluster_endpoints() {
        c.cluster = pick(&|_| true);
        c.has_any = !c.cluster.is_empty();
    }
    if !sp.uses_local_endpoints() {
        c.reachable = c.cluster.clone();
        return c;
    }
    c.has_any = c.has_any || eps.iter().any(|e| e.ready || (e.serving && e.terminating));
    c.local = pick(&|e| e.local);
    if !sp.uses_cluster_endpoints() {
        c.reachable = c.local.clone();
        return c;
    }
    c.reachable = c.cluster.clone();
    for e in &c.local {
        if !c.reachable.contains(e) {
            c.reachable.push(e.clone());
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(v: serde_json::Value) -> Service {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn odd_services_yield_nothing_or_only_the_usable_ports() {
        let mut notes = Vec::new();
        let headless = svc(
            json!({"metadata":{"name":"h","namespace":"d"},"spec":{"clusterIP":"None","ports":[{"port":80}]}}),
        );
        assert!(service_ports(&headless, &mut notes).is_empty());
        let ext = svc(
            json!({"metadata":{"name":"e","namespace":"d"},"spec":{"type":"ExternalName","externalName":"x.example"}}),
        );
        assert!(service_ports(&ext, &mut notes).is_empty());
        let v6 = svc(
            json!({"metadata":{"name":"s6","namespace":"d"},"spec":{"clusterIP":"fd00::1","ports":[{"port":80}]}}),
        );
        assert!(service_ports(&v6, &mut notes).is_empty());
        let noports =
            svc(json!({"metadata":{"name":"n","namespace":"d"},"spec":{"clusterIP":"10.43.0.9"}}));
        assert!(service_ports(&noports, &mut notes).is_empty());
        let mixed = svc(
            json!({"metadata":{"name":"m","namespace":"d"},"spec":{"clusterIP":"10.43.0.8",
            "ports":[{"name":"s","port":9,"protocol":"SCTP"},{"name":"u","port":53,"protocol":"UDP"}]}}),
        );
        let ports = service_ports(&mixed, &mut notes);
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].0.protocol, Protocol::Udp);
        assert_eq!(ports[0].0.to_string(), "d/m:u");
        assert!(notes.iter().any(|n| n.contains("SCTP")), "{notes:?}");
    }

    #[test]
    fn dual_stack_picks_the_ipv4_cluster_ip_and_reads_lb_and_policies() {
        let s = svc(json!({"metadata":{"name":"lb","namespace":"d"},"spec":{
            "type":"LoadBalancer","clusterIP":"fd00::5","clusterIPs":["fd00::5","10.43.0.5"],
            "externalIPs":["192.0.2.9","2001:db8::1"],"externalTrafficPolicy":"Local","healthCheckNodePort":31000,
            "sessionAffinity":"ClientIP",
            "ports":[{"port":80,"nodePort":30080}]},
            "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.1"},{"ip":"198.51.100.2","ipMode":"Proxy"},{"hostname":"x"}]}}}));
        let ports = service_ports(&s, &mut Vec::new());
        let (spn, sp) = &ports[0];
        assert_eq!(spn.to_string(), "d/lb");
        assert_eq!(sp.cluster_ip, Ipv4Addr::new(10, 43, 0, 5));
        assert_eq!(sp.external_ips, vec![Ipv4Addr::new(192, 0, 2, 9)]);
        assert_eq!(sp.load_balancer_ips, vec![Ipv4Addr::new(198, 51, 100, 1)]);
        assert_eq!(sp.node_port, Some(30080));
        assert!(sp.external_policy_local);
        assert_eq!(sp.health_check_node_port, Some(31000));
        assert_eq!(sp.affinity_timeout, Some(DEFAULT_AFFINITY_TIMEOUT_SECONDS));
    }

    fn ep(ip: [u8; 4], ready: bool, serving: bool, terminating: bool, local: bool) -> Endpoint {
        Endpoint {
            ip: ip.into(),
            port: 80,
            ready,
            serving,
            terminating,
            local,
        }
    }

    fn port(internal_local: bool, external_local: bool, node_port: Option<u16>) -> ServicePort {
        ServicePort {
            cluster_ip: Ipv4Addr::new(10, 43, 0, 1),
            port: 80,
            node_port,
            external_ips: vec![],
            load_balancer_ips: vec![],
            load_balancer_source_ranges: vec![],
            affinity_timeout: None,
            external_policy_local: external_local,
            internal_policy_local: internal_local,
            health_check_node_port: None,
        }
    }

    #[test]
    fn terminating_endpoints_are_used_only_without_ready_ones() {
        let ready = ep([10, 42, 0, 2], true, true, false, false);
        let term = ep([10, 42, 0, 3], false, true, true, false);
        let unready = ep([10, 42, 0, 4], false, false, false, false);
        let c = categorize(
            &port(false, false, None),
            &[ready.clone(), term.clone(), unready.clone()],
        );
        assert_eq!(c.cluster, vec![ready]);
        assert!(c.has_any);
        let c = categorize(&port(false, false, None), &[term.clone(), unready.clone()]);
        assert_eq!(c.cluster, vec![term]);
        let c = categorize(&port(false, false, None), &[unready]);
        assert!(c.cluster.is_empty() && !c.has_any);
    }

    #[test]
    fn local_policies_pick_local_endpoints() {
        let remote = ep([10, 42, 1, 2], true, true, false, false);
        let local = ep([10, 42, 0, 2], true, true, false, true);
        let c = categorize(
            &port(false, true, Some(30001)),
            &[remote.clone(), local.clone()],
        );
        assert_eq!(c.cluster, vec![remote.clone(), local.clone()]);
        assert_eq!(c.local, vec![local.clone()]);
        assert_eq!(c.reachable.len(), 2);
        // internalTrafficPolicy Local, not externally reachable: only local endpoints matter.
        let c = categorize(&port(true, false, None), std::slice::from_ref(&remote));
        assert!(c.local.is_empty() && c.reachable.is_empty());
        assert!(c.has_any, "endpoints exist elsewhere in the cluster");
    }

    #[test]
    fn slices_map_to_service_ports_and_merge() {
        let slice = |name: &str, eps: serde_json::Value| -> EndpointSlice {
            serde_json::from_value(json!({"metadata":{"name":name,"namespace":"d","labels":{SERVICE_NAME_LABEL:"web"}},
                "addressType":"IPv4","endpoints":eps,"ports":[{"name":"http","port":8080,"protocol":"TCP"}]})).unwrap()
        };
        let a = slice(
            "web-a",
            json!([{"addresses":["10.42.0.3"],"nodeName":"n1"},{"addresses":["10.42.0.2"],"conditions":{"ready":false}}]),
        );
        let b = slice(
            "web-b",
            json!([{"addresses":["10.42.0.3"],"conditions":{"ready":true}}]),
        );
        let v6: EndpointSlice = serde_json::from_value(json!({"metadata":{"name":"v6","namespace":"d","labels":{SERVICE_NAME_LABEL:"web"}},
            "addressType":"IPv6","endpoints":[{"addresses":["fd00::1"]}],"ports":[{"name":"http","port":8080}]})).unwrap();
        let snap = build_snapshot([], [&a, &b, &v6], "n1", &mut Vec::new());
        let spn = ServicePortName {
            namespace: "d".into(),
            name: "web".into(),
            port: "http".into(),
            protocol: Protocol::Tcp,
        };
        let eps = &snap.endpoints[&spn];
        assert_eq!(
            eps.iter().map(Endpoint::addr).collect::<Vec<_>>(),
            vec!["10.42.0.2:8080", "10.42.0.3:8080"]
        );
        assert!(!eps[0].ready);
        assert!(eps[1].local);
    }
}
