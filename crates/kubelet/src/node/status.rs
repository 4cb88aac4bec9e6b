//! The Node's status: capacity, addresses, node info and the four conditions, reported when it
//! changes and at least every `status_report_interval`.

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use super::NodeError;
use super::machine::Machine;
use crate::config::KubeletConfig;

/// Whether the container runtime and its network are usable, as the Ready condition reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuntimeHealth {
    /// Runtime and network ready.
    Ready,
    /// Not ready, with upstream's explanation (e.g. `container runtime network not ready: …`).
    NotReady(String),
}

/// The status the kubelet would report now; `previous` keeps transition times of conditions
/// that did not change.
pub fn desired_status(
    config: &KubeletConfig,
    machine: &Machine,
    node_info: &NodeSystemInfo,
    health: &RuntimeHealth,
    previous: Option<&NodeStatus>,
    now: Time,
) -> NodeStatus {
    let cond = |type_: &str, status: &str, reason: &str, message: &str| {
        let transition = previous
            .and_then(|p| p.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        NodeCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: Some(transition),
        }
    };
    let ready = match health {
        RuntimeHealth::Ready => cond(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
        RuntimeHealth::NotReady(why) => cond("Ready", "False", "KubeletNotReady", why),
    };
    NodeStatus {
        capacity: Some(machine.capacity(config.max_pods)),
        allocatable: Some(machine.allocatable(config.max_pods)),
        conditions: Some(vec![
            cond(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            cond(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            cond(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            ready,
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: config.node_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: config.node_name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            // The port the kubelet API is bound to (the apiserver dials it for logs and exec).
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(config.server_port),
            }),
        }),
        node_info: Some(node_info.clone()),
        ..Default::default()
    }
}

/// Whether two statuses differ in anything but heartbeat times (a change to report at once).
pub fn changed(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        s
    };
    strip(a) != strip(b)
}

/// Writes `status` to the Node's `/status`.
pub async fn report(client: &Client, node: &str, status: &NodeStatus) -> Result<Node, NodeError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = serde_json::json!({ "status": status });
    Ok(nodes
        .patch_status(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// How often the kubelet checks whether its status changed (upstream's
/// `nodeStatusUpdateFrequency`).
pub const CHECK_INTERVAL: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            memory_bytes: 4 << 30,
            ephemeral_storage_bytes: 10 << 30,
            kernel_version: "6.1".into(),
            os_image: "Debian".into(),
            machine_id: "m".into(),
            boot_id: "b".into(),
        }
    }

    fn t(s: i64) -> Time {
        Time(jiff::Timestamp::from_second(s).unwrap())
    }

    #[test]
    fn daemon_endpoint_is_the_bound_port() {
        let mut config = KubeletConfig::new("n1", [10, 0, 0, 1].into(), "/tmp/x");
        config.server_port = 34567;
        let info = machine().node_info("containerd://1.6.20", "v1.33.0");
        let s = desired_status(
            &config,
            &machine(),
            &info,
            &RuntimeHealth::Ready,
            None,
            t(1),
        );
        let port = s
            .daemon_endpoints
            .and_then(|d| d.kubelet_endpoint)
            .map(|e| e.port);
        assert_eq!(port, Some(34567));
    }

    #[test]
    fn transition_time_kept_until_status_flips() {
        let config = KubeletConfig::new("n1", [10, 0, 0, 1].into(), "/tmp/x");
        let info = machine().node_info("containerd://1.6.20", "v1.33.0");
        let first = desired_status(
            &config,
            &machine(),
            &info,
            &RuntimeHealth::Ready,
            None,
            t(100),
        );
        let second = desired_status(
            &config,
            &machine(),
            &info,
            &RuntimeHealth::Ready,
            Some(&first),
            t(200),
        );
        let ready = |s: &NodeStatus| {
            s.conditions
                .clone()
                .unwrap()
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .unwrap()
        };
        assert_eq!(ready(&second).last_transition_time, Some(t(100)));
        assert_eq!(ready(&second).last_heartbeat_time, Some(t(200)));
        assert!(!changed(&first, &second), "only heartbeats moved");
        let third = desired_status(
            &config,
            &machine(),
            &info,
            &RuntimeHealth::NotReady("container runtime network not ready".into()),
            Some(&second),
            t(300),
        );
        assert!(changed(&second, &third));
        assert_eq!(ready(&third).status, "False");
        assert_eq!(ready(&third).reason.as_deref(), Some("KubeletNotReady"));
        assert_eq!(ready(&third).last_transition_time, Some(t(300)));
    }
}
