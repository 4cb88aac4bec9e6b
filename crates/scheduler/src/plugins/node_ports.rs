//! NodePorts: a pod that binds host ports fits only on nodes where no pod already binds the
//! same protocol and port on an overlapping address (`0.0.0.0` overlaps every address).
//! PreFilter collects the pod's host ports once and skips the Filter for pods without any.

use std::sync::Arc;

use crate::framework::{
    ClusterEvent, CycleState, Filter, HostPort, NodeInfo, Plugin, PodInfo, PreFilter,
    PreFilterResult, Status,
};

/// The plugin's name.
pub const NAME: &str = "NodePorts";
/// Why a node was rejected (upstream's `ErrReason`).
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";
/// The address that binds every address.
pub const BIND_ALL_HOST_IP: &str = "0.0.0.0";

const PRE_FILTER_KEY: &str = "PreFilterNodePorts";

/// Rejects nodes whose host ports are taken.
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        // Ports are freed when a pod goes away; a new node has all of them free.
        &[ClusterEvent::AssignedPodDelete, ClusterEvent::NodeAdd]
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

/// The host ports the pod wants.
#[derive(Clone)]
struct PreFilterState {
    wanted: Arc<Vec<HostPort>>,
}

/// Whether `used` (a port bound on the node) conflicts with `wanted`: same protocol and port,
/// and the addresses overlap. Empty addresses mean `0.0.0.0`, empty protocols TCP.
pub fn conflicts(used: &HostPort, wanted: &HostPort) -> bool {
    fn ip(p: &HostPort) -> &str {
        if p.ip.is_empty() {
            BIND_ALL_HOST_IP
        } else {
            &p.ip
        }
    }
    fn protocol(p: &HostPort) -> &str {
        if p.protocol.is_empty() {
            "TCP"
        } else {
            &p.protocol
        }
    }
    if wanted.port <= 0 || used.port != wanted.port || protocol(used) != protocol(wanted) {
        return false;
    }
    let (a, b) = (ip(used), ip(wanted));
    a == b || a == BIND_ALL_HOST_IP || b == BIND_ALL_HOST_IP
}

/// Whether none of `wanted` conflicts with a port in use on `node`.
pub fn fits_ports(wanted: &[HostPort], node: &NodeInfo) -> bool {
    wanted
        .iter()
        .all(|w| !node.used_ports.iter().any(|u| conflicts(u, w)))
}

impl PreFilter for NodePorts {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        if pod.host_ports.is_empty() {
            return (None, Status::skip());
        }
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                wanted: Arc::new(pod.host_ports.clone()),
            },
        );
        (None, Status::success())
    }
}

impl Filter for NodePorts {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let fits = match state.read::<PreFilterState>(PRE_FILTER_KEY) {
            Some(s) => fits_ports(&s.wanted, node),
            // PreFilter disabled: read the pod directly.
            None => fits_ports(&pod.host_ports, node),
        };
        if fits {
            Status::success()
        } else {
            Status::unschedulable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{arc_pod, node, node_with, pod, pre_filter_and_filter, state};
    use serde_json::{Value, json};

    /// A pod binding `ports`, each `(hostIP, protocol, hostPort)` ("" leaves the field unset).
    fn port_pod(name: &str, ports: &[(&str, &str, i32)]) -> Value {
        let ports: Vec<Value> = ports
            .iter()
            .map(|(ip, proto, port)| {
                let mut p = json!({"containerPort": 8080, "hostPort": port});
                if !ip.is_empty() {
                    p["hostIP"] = json!(ip);
                }
                if !proto.is_empty() {
                    p["protocol"] = json!(proto);
                }
                p
            })
            .collect();
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"containers": [{"name": "c", "ports": ports}]}
        })
    }

    #[test]
    fn host_port_conflicts_as_upstream() {
        type Ports<'a> = &'a [(&'a str, &'a str, i32)];
        let cases: Vec<(&str, Ports, Ports, bool)> = vec![
            ("nothing used", &[("", "", 80)], &[], true),
            ("same port", &[("", "", 80)], &[("", "", 80)], false),
            ("other port", &[("", "", 80)], &[("", "", 81)], true),
            (
                "other protocol",
                &[("", "UDP", 80)],
                &[("", "TCP", 80)],
                true,
            ),
            (
                "TCP is the default protocol",
                &[("", "TCP", 80)],
                &[("", "", 80)],
                false,
            ),
            (
                "different IPs",
                &[("10.0.0.1", "", 80)],
                &[("10.0.0.2", "", 80)],
                true,
            ),
            (
                "same IP",
                &[("10.0.0.1", "", 80)],
                &[("10.0.0.1", "", 80)],
                false,
            ),
            (
                "wanted on all IPs",
                &[("0.0.0.0", "", 80)],
                &[("10.0.0.2", "", 80)],
                false,
            ),
            (
                "used on all IPs",
                &[("10.0.0.1", "", 80)],
                &[("", "", 80)],
                false,
            ),
            (
                "any of several conflicts",
                &[("", "", 80), ("", "", 443)],
                &[("", "", 443)],
                false,
            ),
        ];
        for (name, wanted, used, fits) in cases {
            let p = pod(port_pod("p", wanted));
            let n = node_with(
                json!({"metadata": {"name": "n"}}),
                vec![arc_pod(port_pod("existing", used))],
            );
            let status = pre_filter_and_filter(&NodePorts, &p, &n, vec![]);
            assert_eq!(status.is_success(), fits, "{name}: {status:?}");
            if !fits {
                assert_eq!(status.code, Code::Unschedulable, "{name}");
                assert_eq!(status.reasons, vec![ERR_REASON], "{name}");
            }
            // Without PreFilter the Filter reads the pod itself.
            assert_eq!(
                NodePorts.filter(&state(), &p, &n).is_success(),
                fits,
                "{name}"
            );
        }
    }

    #[test]
    fn pods_without_host_ports_skip_the_filter() {
        let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "ports": [{"containerPort": 80}]}
        ]}}));
        let (_, status) = NodePorts.pre_filter(&mut state(), &p);
        assert!(status.is_skip());
        let n = node(json!({"metadata": {"name": "n"}}));
        assert!(NodePorts.filter(&state(), &p, &n).is_success());
    }
}
