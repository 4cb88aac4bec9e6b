//! TaintToleration: nodes repel pods with taints. A `NoSchedule` or `NoExecute` taint keeps out
//! every pod that does not tolerate it (Filter); `PreferNoSchedule` taints only make a node
//! less attractive, by how many of them the pod does not tolerate (Score, reversed so fewer
//! untolerated taints score higher).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Taint, Toleration};

use crate::framework::plugin::default_normalize;
use crate::framework::taints::tolerated_by;
use crate::framework::{
    ClusterEvent, CycleState, Filter, NodeInfo, NodeScore, Plugin, PodInfo, PreScore, Score, Status,
};

/// The plugin's name.
pub const NAME: &str = "TaintToleration";
/// The CycleState key of the PreScore state.
const PRE_SCORE_KEY: &str = "PreScoreTaintToleration";

/// Why a node was rejected: the first taint the pod does not tolerate, as upstream words it
/// (`node(s) had untolerated taint {key: value}`).
pub fn err_reason_untolerated(taint: &Taint) -> String {
    format!(
        "node(s) had untolerated taint {{{}: {}}}",
        taint.key,
        taint.value.as_deref().unwrap_or("")
    )
}

/// Filters on and scores by taints.
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        // A new node, or a node's taints changing, may let a rejected pod in.
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeUpdate]
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

fn node_taints(node: &NodeInfo) -> &[Taint] {
    node.taints.as_deref().unwrap_or_default()
}

fn pod_tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.spec().tolerations.as_deref().unwrap_or_default()
}

impl Filter for TaintToleration {
    fn filter(&self, _state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let tolerations = pod_tolerations(pod);
        let untolerated = node_taints(node).iter().find(|t| {
            matches!(t.effect.as_str(), "NoSchedule" | "NoExecute") && !tolerated_by(tolerations, t)
        });
        match untolerated {
            Some(taint) => Status::unresolvable(err_reason_untolerated(taint)),
            None => Status::success(),
        }
    }
}

/// The pod's tolerations that can tolerate a `PreferNoSchedule` taint (that effect, or none).
#[derive(Clone)]
struct PreScoreState {
    tolerations: Arc<Vec<Toleration>>,
}

fn prefer_no_schedule_tolerations(pod: &PodInfo) -> Vec<Toleration> {
    pod_tolerations(pod)
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect()
}

/// How many `PreferNoSchedule` taints of the node none of `tolerations` tolerates.
fn count_untolerated_prefer_no_schedule(node: &NodeInfo, tolerations: &[Toleration]) -> i64 {
    let n = node_taints(node)
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerated_by(tolerations, t))
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PreScore for TaintToleration {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                tolerations: Arc::new(prefer_no_schedule_tolerations(pod)),
            },
        );
        Status::success()
    }
}

impl Score for TaintToleration {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        Ok(match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) => count_untolerated_prefer_no_schedule(node, &s.tolerations),
            // PreScore disabled: compute here.
            None => {
                count_untolerated_prefer_no_schedule(node, &prefer_no_schedule_tolerations(pod))
            }
        })
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize(scores, true);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{node, pod, score_nodes, state};
    use serde_json::{Value, json};

    fn tainted(name: &str, taints: Value) -> NodeInfo {
        node(json!({"metadata": {"name": name}, "spec": {"taints": taints}}))
    }

    fn tolerating(tolerations: Value) -> PodInfo {
        pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [], "tolerations": tolerations}}),
        )
    }

    #[test]
    fn filter_needs_no_schedule_and_no_execute_taints_tolerated() {
        let dedicated = json!([{"key": "dedicated", "value": "web", "effect": "NoSchedule"}]);
        let cases: Vec<(&str, Value, Value, Option<&str>)> = vec![
            ("no taints", json!(null), json!(null), None),
            (
                "untolerated NoSchedule",
                dedicated.clone(),
                json!(null),
                Some("node(s) had untolerated taint {dedicated: web}"),
            ),
            (
                "tolerated by Equal",
                dedicated.clone(),
                json!([{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "value differs",
                dedicated.clone(),
                json!([{"key": "dedicated", "operator": "Equal", "value": "db"}]),
                Some("node(s) had untolerated taint {dedicated: web}"),
            ),
            (
                "tolerated by Exists without effect",
                dedicated.clone(),
                json!([{"key": "dedicated", "operator": "Exists"}]),
                None,
            ),
            (
                "effect differs",
                dedicated,
                json!([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]),
                Some("node(s) had untolerated taint {dedicated: web}"),
            ),
            (
                "NoExecute without value",
                json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
                json!(null),
                Some("node(s) had untolerated taint {node.kubernetes.io/not-ready: }"),
            ),
            (
                "PreferNoSchedule does not filter",
                json!([{"key": "soft", "value": "x", "effect": "PreferNoSchedule"}]),
                json!(null),
                None,
            ),
            (
                "first untolerated taint is reported",
                json!([
                    {"key": "a", "value": "1", "effect": "NoSchedule"},
                    {"key": "b", "value": "2", "effect": "NoSchedule"}
                ]),
                json!([{"key": "a", "operator": "Exists"}]),
                Some("node(s) had untolerated taint {b: 2}"),
            ),
            (
                "tolerate everything",
                json!([{"key": "a", "value": "1", "effect": "NoExecute"}]),
                json!([{"operator": "Exists"}]),
                None,
            ),
        ];
        for (name, taints, tolerations, want) in cases {
            let status =
                TaintToleration.filter(&state(), &tolerating(tolerations), &tainted("n", taints));
            match want {
                None => assert!(status.is_success(), "{name}: {status:?}"),
                Some(reason) => {
                    assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
                    assert_eq!(status.reasons, vec![reason], "{name}");
                }
            }
        }
    }

    #[test]
    fn score_prefers_fewer_untolerated_prefer_no_schedule_taints() {
        let soft = |k: &str| json!({"key": k, "value": "x", "effect": "PreferNoSchedule"});
        let cases: Vec<(&str, Value, Vec<Value>, Vec<i64>)> = vec![
            (
                "no taints anywhere",
                json!(null),
                vec![json!(null), json!(null)],
                vec![100, 100],
            ),
            (
                "fewer untolerated taints score higher",
                json!(null),
                vec![
                    json!(null),
                    json!([soft("a")]),
                    json!([soft("a"), soft("b")]),
                ],
                vec![100, 50, 0],
            ),
            (
                "tolerated PreferNoSchedule taints do not count",
                json!([{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}]),
                vec![json!([soft("a")]), json!([soft("b")])],
                vec![100, 0],
            ),
            (
                "tolerations for other effects do not count",
                json!([{"key": "a", "operator": "Exists", "effect": "NoSchedule"}]),
                vec![json!([soft("a")]), json!(null)],
                vec![0, 100],
            ),
            (
                "NoSchedule taints do not count",
                json!(null),
                vec![
                    json!([{"key": "hard", "effect": "NoSchedule"}]),
                    json!([soft("a")]),
                ],
                vec![100, 0],
            ),
        ];
        for (name, tolerations, taints, want) in cases {
            let nodes: Vec<NodeInfo> = taints
                .into_iter()
                .enumerate()
                .map(|(i, t)| tainted(&format!("n{i}"), t))
                .collect();
            let scores = score_nodes(&TaintToleration, &tolerating(tolerations), nodes);
            assert_eq!(scores, want, "{name}");
        }
    }
}
