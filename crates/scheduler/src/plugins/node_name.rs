//! NodeName: a pod that names its node (`spec.nodeName` set before scheduling) fits only there.

use crate::framework::{ClusterEvent, CycleState, Filter, NodeInfo, Plugin, PodInfo, Status};

/// The plugin's name.
pub const NAME: &str = "NodeName";
/// Why a node was rejected (upstream's `ErrReason`).
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Matches `spec.nodeName`.
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[ClusterEvent::NodeAdd]
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
}

impl Filter for NodeName {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.spec().node_name.as_deref() {
            Some(name) if !name.is_empty() && name != node.name => Status::unresolvable(ERR_REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, state};

    #[test]
    fn only_the_named_node_fits() {
        let cases = [
            (None, "n1", true),
            (Some("n1"), "n1", true),
            (Some("n2"), "n1", false),
        ];
        for (wanted, actual, fits) in cases {
            let mut p = serde_json::json!({"metadata": {"name": "p"}, "spec": {"containers": []}});
            if let Some(w) = wanted {
                p["spec"]["nodeName"] = w.into();
            }
            let status = NodeName.filter(
                &state(),
                &pod(p),
                &node(serde_json::json!({"metadata": {"name": actual}})),
            );
            assert_eq!(status.is_success(), fits, "{wanted:?} on {actual}");
            if !fits {
                assert_eq!(status.reasons, vec![ERR_REASON]);
            }
        }
    }
}
