//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use crate::framework::taints::tolerated_by;
use crate::framework::{ClusterEvent, CycleState, Filter, NodeInfo, Plugin, PodInfo, Status};

/// The plugin's name.
pub const NAME: &str = "NodeUnschedulable";
/// Why a node was rejected (upstream's `ErrReasonUnschedulable`).
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// The taint key a cordoned node implies.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Rejects cordoned nodes.
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeUpdate]
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl Filter for NodeUnschedulable {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_UNSCHEDULABLE.into(),
            effect: "NoSchedule".into(),
            value: None,
            time_added: None,
        };
        let tolerated = tolerated_by(
            pod.spec().tolerations.as_deref().unwrap_or_default(),
            &taint,
        );
        if tolerated {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_UNSCHEDULABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, state};
    use serde_json::json;

    #[test]
    fn cordoned_nodes_need_a_toleration() {
        let tol =
            json!([{"key": TAINT_UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"}]);
        let cases = [
            (false, json!(null), true),
            (true, json!(null), false),
            (true, tol, true),
            (true, json!([{"operator": "Exists"}]), true),
            (true, json!([{"key": "other", "operator": "Exists"}]), false),
        ];
        for (cordoned, tolerations, fits) in cases {
            let p = pod(
                json!({"metadata": {"name": "p"}, "spec": {"containers": [], "tolerations": tolerations}}),
            );
            let n = node(json!({"metadata": {"name": "n"}, "spec": {"unschedulable": cordoned}}));
            let status = NodeUnschedulable.filter(&state(), &p, &n);
            assert_eq!(
                status.is_success(),
                fits,
                "cordoned={cordoned} {:?}",
                p.spec().tolerations
            );
            if !fits {
                assert_eq!(
                    status.code,
                    crate::framework::Code::UnschedulableAndUnresolvable
                );
                assert_eq!(status.reasons, vec![ERR_REASON_UNSCHEDULABLE]);
            }
        }
    }
}
