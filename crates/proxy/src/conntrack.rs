//! Stale UDP conntrack entries. A UDP "connection" lives in conntrack as long as packets keep
//! flowing, so a client keeps talking to a removed endpoint (or to nothing, if its first
//! packets were rejected before the Service had endpoints) unless the entry is deleted.
//! Computed as a pure difference between the old and new snapshots, as upstream does:
//! - a UDP service IP/port or NodePort that went away: every entry to it;
//! - an endpoint no longer used: entries to the service that were DNATed to it;
//! - a service that gained its first endpoint: every entry to it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::model::{Protocol, ServicePortName, Snapshot, categorize};

/// What conntrack cleanup needs of one UDP service port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdpView {
    /// ClusterIP, external and LoadBalancer IPs with the service port.
    pub addrs: BTreeSet<(Ipv4Addr, u16)>,
    /// The NodePort.
    pub node_port: Option<u16>,
    /// Endpoints traffic may be DNATed to.
    pub endpoints: BTreeSet<(Ipv4Addr, u16)>,
}

/// The UDP service ports of `snap`.
pub fn udp_views(snap: &Snapshot) -> BTreeMap<ServicePortName, UdpView> {
    let empty = Vec::new();
    snap.services
        .iter()
        .filter(|(spn, _)| spn.protocol == Protocol::Udp)
        .map(|(spn, sp)| {
            let cat = categorize(sp, snap.endpoints.get(spn).unwrap_or(&empty));
            let addrs = std::iter::once(sp.cluster_ip)
                .chain(sp.external_ips.iter().copied())
                .chain(sp.load_balancer_ips.iter().copied())
                .map(|ip| (ip, sp.port))
                .collect();
            let endpoints = cat.reachable.iter().map(|e| (e.ip, e.port)).collect();
            (
                spn.clone(),
                UdpView {
                    addrs,
                    node_port: sp.node_port,
                    endpoints,
                },
            )
        })
        .collect()
}

fn to_service(ip: Ipv4Addr, port: u16) -> Vec<String> {
    [
        "-p",
        "udp",
        "--orig-dst",
        &ip.to_string(),
        "--orig-port-dst",
        &port.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

fn to_node_port(port: u16) -> Vec<String> {
    ["-p", "udp", "--orig-port-dst", &port.to_string()]
        .map(String::from)
        .to_vec()
}

fn via_endpoint(mut filter: Vec<String>, ep: (Ipv4Addr, u16)) -> Vec<String> {
    filter.extend([
        "--reply-src".into(),
        ep.0.to_string(),
        "--reply-port-src".into(),
        ep.1.to_string(),
    ]);
    filter
}

/// conntrack `-D` filters for the entries made stale by going from `old` to `new`.
pub fn stale_flows(
    old: &BTreeMap<ServicePortName, UdpView>,
    new: &BTreeMap<ServicePortName, UdpView>,
) -> Vec<Vec<String>> {
    let mut out = BTreeSet::new();
    let none = UdpView::default();
    for (spn, o) in old {
        let n = new.get(spn).unwrap_or(&none);
        for a in o.addrs.difference(&n.addrs) {
            out.insert(to_service(a.0, a.1));
        }
        if o.node_port.is_some() && o.node_port != n.node_port {
            out.insert(to_node_port(o.node_port.unwrap_or_default()));
        }
        for ep in o.endpoints.difference(&n.endpoints) {
            for a in n.addrs.intersection(&o.addrs) {
                out.insert(via_endpoint(to_service(a.0, a.1), *ep));
            }
            if let (Some(p), true) = (n.node_port, n.node_port == o.node_port) {
                out.insert(via_endpoint(to_node_port(p), *ep));
            }
        }
    }
    for (spn, n) in new {
        let had_endpoints = old.get(spn).is_some_and(|o| !o.endpoints.is_empty());
        if had_endpoints || n.endpoints.is_empty() {
            continue;
        }
        for a in &n.addrs {
            out.insert(to_service(a.0, a.1));
        }
        if let Some(p) = n.node_port {
            out.insert(to_node_port(p));
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spn() -> ServicePortName {
        ServicePortName {
            namespace: "d".into(),
            name: "dns".into(),
            port: "".into(),
            protocol: Protocol::Udp,
        }
    }

    fn view(eps: &[[u8; 4]]) -> UdpView {
        UdpView {
            addrs: [(Ipv4Addr::new(10, 43, 0, 10), 53)].into(),
            node_port: Some(30053),
            endpoints: eps.iter().map(|e| (Ipv4Addr::from(*e), 5353)).collect(),
        }
    }

    #[test]
    fn removed_endpoint_flushes_its_entries_only() {
        let old = BTreeMap::from([(spn(), view(&[[10, 42, 0, 2], [10, 42, 0, 3]]))]);
        let new = BTreeMap::from([(spn(), view(&[[10, 42, 0, 3]]))]);
        let flows = stale_flows(&old, &new);
        assert_eq!(flows.len(), 2, "{flows:?}");
        assert!(flows.iter().all(|f| {
            f.join(" ")
                .contains("--reply-src 10.42.0.2 --reply-port-src 5353")
        }));
        assert!(flows.iter().any(|f| {
            f.join(" ")
                .starts_with("-p udp --orig-dst 10.43.0.10 --orig-port-dst 53")
        }));
        assert!(
            flows
                .iter()
                .any(|f| f.join(" ").starts_with("-p udp --orig-port-dst 30053"))
        );
    }

    #[test]
    fn first_endpoint_flushes_everything_to_the_service() {
        let old = BTreeMap::from([(spn(), view(&[]))]);
        let new = BTreeMap::from([(spn(), view(&[[10, 42, 0, 3]]))]);
        let flows: Vec<String> = stale_flows(&old, &new)
            .iter()
            .map(|f| f.join(" "))
            .collect();
        assert_eq!(
            flows,
            vec![
                "-p udp --orig-dst 10.43.0.10 --orig-port-dst 53",
                "-p udp --orig-port-dst 30053"
            ]
        );
        // A brand-new service with endpoints too.
        assert_eq!(stale_flows(&BTreeMap::new(), &new).len(), 2);
        // Nothing changes: nothing to flush.
        assert!(stale_flows(&new, &new).is_empty());
    }

    #[test]
    fn deleted_service_flushes_its_addresses() {
        let old = BTreeMap::from([(spn(), view(&[[10, 42, 0, 3]]))]);
        let flows: Vec<String> = stale_flows(&old, &BTreeMap::new())
            .iter()
            .map(|f| f.join(" "))
            .collect();
        assert_eq!(
            flows,
            vec![
                "-p udp --orig-dst 10.43.0.10 --orig-port-dst 53",
                "-p udp --orig-port-dst 30053"
            ]
        );
    }
}
