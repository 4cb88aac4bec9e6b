//! The endpoint groups a Service should have (pure): one endpoint per pod of each address
//! family the Service uses, with upstream's conditions (`ready`: ready and not terminating, or
//! `publishNotReadyAddresses`; `serving`: ready; `terminating`: being deleted), grouped by the
//! ports resolved on each pod.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};

use super::plan::Group;
use crate::endpoints::pods;

/// The zone label of nodes.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The address types the Service uses (`spec.ipFamilies`, IPv4 by default).
pub fn address_types(svc: &Service) -> Vec<String> {
    let fams = svc
        .spec
        .as_ref()
        .and_then(|s| s.ip_families.clone())
        .unwrap_or_default();
    if fams.is_empty() {
        vec!["IPv4".into()]
    } else {
        fams
    }
}

/// The pod's IP of `family`.
fn ip_of(pod: &Pod, family: &str) -> Option<String> {
    let s = pod.status.as_ref()?;
    let all = s
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .chain(s.pod_ip.clone());
    for ip in all {
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) if family == "IPv4" => return Some(ip),
            Ok(IpAddr::V6(_)) if family == "IPv6" => return Some(ip),
            _ => {}
        }
    }
    None
}

/// The groups of `svc` over `pods` (those its selector matches); `zone_of` gives a node's zone.
pub fn groups<'a>(
    svc: &Service,
    pods: impl IntoIterator<Item = &'a Pod>,
    nodes: &dyn Fn(&str) -> Option<std::sync::Arc<Node>>,
) -> Vec<Group> {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let svc_ports = spec.ports.clone().unwrap_or_default();
    let families = address_types(svc);
    let mut out: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut pods: Vec<&Pod> = pods.into_iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for pod in pods {
        if !pods::should_be_in_endpoints(pod, true) {
            continue;
        }
        let mut ports: Vec<EndpointPort> = svc_ports
            .iter()
            .filter_map(|p| {
                Some(EndpointPort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(pods::find_port(pod, p)?),
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        ports.sort_by(|a, b| (&a.name, a.port).cmp(&(&b.name, b.port)));
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let serving = pods::is_ready(pod);
        let ready = publish_not_ready || (serving && !terminating);
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let zone = node_name
            .as_deref()
            .and_then(nodes)
            .and_then(|n| n.metadata.labels.as_ref()?.get(ZONE_LABEL).cloned());
        for fam in &families {
            let Some(ip) = ip_of(pod, fam) else {
                continue;
            };
            let endpoint = Endpoint {
                addresses: vec![ip],
                conditions: Some(EndpointConditions {
                    ready: Some(ready),
                    serving: Some(serving),
                    terminating: Some(terminating),
                }),
                hostname: pods::hostname(pod, svc),
                node_name: node_name.clone(),
                zone: zone.clone(),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    namespace: pod.metadata.namespace.clone(),
                    name: pod.metadata.name.clone(),
                    uid: pod.metadata.uid.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let key = (
                fam.clone(),
                serde_json::to_string(&ports).unwrap_or_default(),
            );
            out.entry(key)
                .or_insert_with(|| Group {
                    address_type: fam.clone(),
                    ports: ports.clone(),
                    endpoints: Vec::new(),
                })
                .endpoints
                .push(endpoint);
        }
    }
    out.into_values().collect()
}
