//! The Endpoints a Service should have (pure): addresses of its pods, ready or not, grouped
//! into subsets by the ports they serve (upstream's `RepackSubsets`), capped at
//! [`MAX_CAPACITY`] addresses (upstream's `truncateEndpoints`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, ObjectReference, Pod, Service,
};

use super::pods;

/// At most this many addresses in one Endpoints object.
pub const MAX_CAPACITY: usize = 1000;

/// An address's sort key: by IP (numerically), then target UID.
fn addr_key(a: &EndpointAddress) -> (Option<IpAddr>, String, Option<String>) {
    (
        a.ip.parse().ok(),
        a.ip.clone(),
        a.target_ref.as_ref().and_then(|r| r.uid.clone()),
    )
}

/// A port's identity and order.
type PortKey = (String, i32, String, Option<String>);

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone().unwrap_or_default(),
        p.port,
        p.protocol.clone().unwrap_or_default(),
        p.app_protocol.clone(),
    )
}

fn port_of(k: &PortKey) -> EndpointPort {
    EndpointPort {
        name: (!k.0.is_empty()).then(|| k.0.clone()),
        port: k.1,
        protocol: Some(k.2.clone()),
        app_protocol: k.3.clone(),
    }
}

/// The address of `pod` for `svc`.
pub fn address(pod: &Pod, svc: &Service, ip: &str) -> EndpointAddress {
    EndpointAddress {
        ip: ip.to_string(),
        hostname: pods::hostname(pod, svc),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        }),
    }
}

/// The subsets of `svc` over `pods` (the pods its selector matches).
pub fn subsets<'a>(svc: &Service, pods: impl IntoIterator<Item = &'a Pod>) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.clone().unwrap_or_default();
    // address (by IP and UID) → (address, ready, ports)
    type Entry = (EndpointAddress, bool, BTreeSet<PortKey>);
    let mut by_addr: BTreeMap<(Option<IpAddr>, String, Option<String>), Entry> = BTreeMap::new();
    for pod in pods {
        if !pods::should_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(ip) = pods::pod_ip(pod) else {
            continue;
        };
        let ready = publish_not_ready || pods::is_ready(pod);
        let addr = address(pod, svc, ip);
        let mut served = BTreeSet::new();
        for p in &ports {
            // A named port the pod does not have: the pod is not an endpoint of that port.
            if let Some(n) = pods::find_port(pod, p) {
                served.insert((
                    p.name.clone().unwrap_or_default(),
                    n,
                    p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    p.app_protocol.clone(),
                ));
            }
        }
        if served.is_empty() && !(ports.is_empty() && pods::is_headless(svc)) {
            continue;
        }
        by_addr.insert(addr_key(&addr), (addr, ready, served));
    }
    // Group addresses serving the same ports.
    let mut groups: BTreeMap<Vec<PortKey>, (Vec<EndpointAddress>, Vec<EndpointAddress>)> =
        BTreeMap::new();
    for (_, (addr, ready, served)) in by_addr {
        let g = groups.entry(served.into_iter().collect()).or_default();
        if ready {
            g.0.push(addr);
        } else {
            g.1.push(addr);
        }
    }
    groups
        .into_iter()
        .map(|(ports, (ready, not_ready))| EndpointSubset {
            addresses: (!ready.is_empty()).then_some(ready),
            not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
            ports: (!ports.is_empty()).then(|| ports.iter().map(port_of).collect()),
        })
        .collect()
}

/// Orders every list inside `subsets` canonically, to compare with what is stored.
pub fn canonical(mut subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    for s in &mut subsets {
        for list in [&mut s.addresses, &mut s.not_ready_addresses] {
            if let Some(l) = list {
                l.sort_by_key(addr_key);
            }
            if list.as_ref().is_some_and(Vec::is_empty) {
                *list = None;
            }
        }
        if let Some(p) = &mut s.ports {
            p.sort_by_key(port_key);
        }
    }
    subsets.sort_by_key(|s| s.ports.iter().flatten().map(port_key).collect::<Vec<_>>());
    subsets
}

/// Cuts `subsets` to [`MAX_CAPACITY`] addresses, keeping ready ones first and each subset's
/// share proportional to its size; true if anything was cut.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let len = |l: &Option<Vec<EndpointAddress>>| l.as_ref().map_or(0, Vec::len);
    let ready: usize = subsets.iter().map(|s| len(&s.addresses)).sum();
    let not_ready: usize = subsets.iter().map(|s| len(&s.not_ready_addresses)).sum();
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let cut_ready = ready > MAX_CAPACITY;
    let (room, total) = if cut_ready {
        (MAX_CAPACITY, ready)
    } else {
        (MAX_CAPACITY - ready, not_ready)
    };
    let mut left = room;
    for s in subsets.iter_mut() {
        let list = if cut_ready {
            s.not_ready_addresses = None;
            &mut s.addresses
        } else {
            &mut s.not_ready_addresses
        };
        let n = len(list);
        let share = (n * room).div_ceil(total.max(1)).min(left);
        if let Some(l) = list.as_mut() {
            l.truncate(share);
            left -= l.len();
            if l.is_empty() {
                *list = None;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(prefix: &str, n: usize) -> Option<Vec<EndpointAddress>> {
        Some(
            (0..n)
                .map(|i| EndpointAddress {
                    ip: format!("{prefix}.{}.{}", i / 250, i % 250),
                    ..Default::default()
                })
                .collect(),
        )
    }

    #[test]
    fn truncation_keeps_ready_addresses_first() {
        let mut s = vec![
            EndpointSubset {
                addresses: addrs("10.0", 600),
                not_ready_addresses: addrs("10.1", 600),
                ports: None,
            },
            EndpointSubset {
                addresses: addrs("10.2", 200),
                not_ready_addresses: addrs("10.3", 200),
                ports: None,
            },
        ];
        assert!(truncate(&mut s));
        let count = |l: &Option<Vec<EndpointAddress>>| l.as_ref().map_or(0, Vec::len);
        assert_eq!(count(&s[0].addresses) + count(&s[1].addresses), 800);
        let nr = count(&s[0].not_ready_addresses) + count(&s[1].not_ready_addresses);
        assert_eq!(nr, 200);
        assert_eq!(count(&s[0].not_ready_addresses), 150);

        let mut all_ready = vec![EndpointSubset {
            addresses: addrs("10.0", 1200),
            not_ready_addresses: addrs("10.1", 5),
            ports: None,
        }];
        assert!(truncate(&mut all_ready));
        assert_eq!(count(&all_ready[0].addresses), 1000);
        assert_eq!(all_ready[0].not_ready_addresses, None);
        assert!(!truncate(&mut all_ready));
    }
}
