//! NodeResourcesBalancedAllocation: favors nodes whose resources would be used evenly with the
//! pod. Score = (1 − standard deviation of the requested fractions of the configured resources,
//! default cpu and memory) × 100, each fraction capped at 1. As upstream (1.33) it counts the
//! plain requests (no 100m / 200Mi defaults) and skips pods requesting none of the resources,
//! so best-effort pods are not all drawn to the same node.

use std::collections::BTreeSet;
use std::sync::Arc;

use rkube_api::status::FieldCause;
use rkube_api::validation::Path;
use serde::Deserialize;
use serde_json::json;

use crate::framework::{
    ClusterEvent, CycleState, NodeInfo, Plugin, PodInfo, PreScore, Score, Status,
};

use super::resource_scoring::{
    ResourceAllocationScorer, ResourceSpec, Strategy, aggregate, decode_args, default_weights,
};

/// The plugin's name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";
/// The kind of its args object.
pub const ARGS_KIND: &str = "NodeResourcesBalancedAllocationArgs";

const PRE_SCORE_KEY: &str = "PreScoreNodeResourcesBalancedAllocation";

/// `NodeResourcesBalancedAllocationArgs` as written in `pluginConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BalancedAllocationArgs {
    /// The resources to balance (default cpu and memory); every weight must be 1.
    pub resources: Option<Vec<ResourceSpec>>,
}

/// Scores nodes by how evenly the pod would leave their resources requested.
pub struct BalancedAllocation {
    scorer: ResourceAllocationScorer,
}

impl BalancedAllocation {
    /// Builds the plugin from its args (`None`: defaults), validating them as upstream does.
    pub fn new(args: Option<&serde_json::Value>) -> Result<BalancedAllocation, String> {
        let args: BalancedAllocationArgs = decode_args(args, ARGS_KIND)?;
        let resources = default_weights(args.resources);
        let path = Path::new("resources");
        let mut seen = BTreeSet::new();
        let mut errs = Vec::new();
        for (i, r) in resources.iter().enumerate() {
            if !seen.insert(r.name.as_str()) {
                errs.push(FieldCause::duplicate(
                    path.index(i).child("name"),
                    &json!(r.name),
                ));
            }
            if r.weight != 1 {
                errs.push(FieldCause::invalid(
                    path.index(i).child("weight"),
                    &json!(r.weight),
                    "must be 1",
                ));
            }
        }
        aggregate(errs)?;
        Ok(BalancedAllocation {
            scorer: ResourceAllocationScorer {
                resources,
                strategy: Strategy::Balanced,
                use_requested: true,
            },
        })
    }
}

/// What PreScore computed: the pod's request of each configured resource.
#[derive(Clone, Debug)]
struct PreScoreState(Vec<i64>);

fn is_best_effort(requests: &[i64]) -> bool {
    requests.iter().all(|r| *r == 0)
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        // Only scores: it never rejects a pod, so no event needs to retry one.
        &[]
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}

impl PreScore for BalancedAllocation {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, _nodes: &[Arc<NodeInfo>]) -> Status {
        let requests = self.scorer.pod_requests(pod);
        if is_best_effort(&requests) {
            return Status::skip();
        }
        state.write(PRE_SCORE_KEY, PreScoreState(requests));
        Status::success()
    }
}

impl Score for BalancedAllocation {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        if let Some(s) = state.read::<PreScoreState>(PRE_SCORE_KEY) {
            return Ok(self.scorer.score(node, &s.0));
        }
        let requests = self.scorer.pod_requests(pod);
        if is_best_effort(&requests) {
            return Ok(0);
        }
        Ok(self.scorer.score(node, &requests))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{
        node_with, resource_node, resource_node_json, resource_pod, state,
    };
    use serde_json::Value;

    fn plugin(args: Value) -> BalancedAllocation {
        BalancedAllocation::new(Some(&args)).expect("valid args")
    }

    fn scores(pl: &BalancedAllocation, p: &PodInfo, nodes: &[NodeInfo]) -> Vec<i64> {
        let mut st = state();
        let status = pl.pre_score(&mut st, p, &[]);
        assert!(status.is_success(), "{status:?}");
        nodes
            .iter()
            .map(|n| pl.score(&st, p, n).expect("score"))
            .collect()
    }

    #[test]
    fn scores_by_deviation_of_requested_fractions() {
        let existing = |requests: Value| vec![Arc::new(resource_pod("old", requests))];
        let cases = [
            (
                // Upstream's differently sized nodes: cpu 3000/4000 = 0.75, memory
                // 5000/10000 = 0.5 → σ 0.125 → 87.
                "differently sized node, unbalanced",
                json!([{"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}]),
                resource_node("n", json!({"cpu": "4000", "memory": "10000"})),
                json!({}),
                87,
            ),
            (
                "differently sized node, balanced",
                json!([{"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}]),
                resource_node("n", json!({"cpu": "6000", "memory": "10000"})),
                json!({}),
                100,
            ),
            (
                // cpu (3 + 1) / 10 = 0.4, memory 5/20 = 0.25 → σ 0.075 → 92.
                "existing pods' requests count",
                json!([{"cpu": "1", "memory": "5Gi"}]),
                node_with(
                    resource_node_json("n", json!({"cpu": "10", "memory": "20Gi"})),
                    existing(json!([{"cpu": "3"}])),
                ),
                json!({}),
                92,
            ),
            (
                // Plain requests: the best-effort pod on the node counts as nothing, so cpu
                // 0.5 and memory 0.5 (non-zero defaults would make it 0.6 / 0.7).
                "no defaults for pods without requests",
                json!([{"cpu": "500m", "memory": "512Mi"}]),
                node_with(
                    resource_node_json("n", json!({"cpu": "1", "memory": "1Gi"})),
                    existing(json!([{}])),
                ),
                json!({}),
                100,
            ),
            (
                // cpu 0.25, memory 0 → σ 0.125.
                "one resource requested",
                json!([{"cpu": "1"}]),
                resource_node("n", json!({"cpu": "4", "memory": "8Gi"})),
                json!({}),
                87,
            ),
            (
                // cpu 9/6 capped at 1, memory 0.5 → σ 0.25.
                "fractions capped at 1",
                json!([{"cpu": "9", "memory": "5Gi"}]),
                resource_node("n", json!({"cpu": "6", "memory": "10Gi"})),
                json!({}),
                75,
            ),
            (
                // 0.6, 0.4, 0.2: σ = sqrt(0.08 / 3) ≈ 0.163 → 83.
                "three resources",
                json!([{"cpu": "6", "memory": "4Gi", "example.com/gpu": "1"}]),
                resource_node(
                    "n",
                    json!({"cpu": "10", "memory": "10Gi", "example.com/gpu": "5"}),
                ),
                json!({"resources": [{"name": "cpu"}, {"name": "memory"}, {"name": "example.com/gpu", "weight": 1}]}),
                83,
            ),
            (
                // An extended resource the pod does not request is left out: 0.6, 0.4 → 90.
                "unrequested extended resource left out",
                json!([{"cpu": "6", "memory": "4Gi"}]),
                resource_node(
                    "n",
                    json!({"cpu": "10", "memory": "10Gi", "example.com/gpu": "5"}),
                ),
                json!({"resources": [{"name": "cpu"}, {"name": "memory"}, {"name": "example.com/gpu"}]}),
                90,
            ),
            (
                // The node has no memory to report: only cpu is left, no deviation.
                "resource the node lacks left out",
                json!([{"cpu": "1", "memory": "1Gi"}]),
                resource_node("n", json!({"cpu": "4"})),
                json!({}),
                100,
            ),
        ];
        for (name, requests, node, args, want) in cases {
            let pl = plugin(args);
            let p = resource_pod("p", requests);
            assert_eq!(
                scores(&pl, &p, std::slice::from_ref(&node)),
                vec![want],
                "{name}"
            );
            // Score without PreScore computes the same.
            assert_eq!(
                pl.score(&state(), &p, &node),
                Ok(want),
                "{name} without PreScore"
            );
        }
    }

    #[test]
    fn best_effort_pods_skip_scoring() {
        let pl = plugin(json!({}));
        let node = resource_node("n", json!({"cpu": "4", "memory": "8Gi"}));
        let cases = [
            ("no requests", json!([{}]), true),
            (
                "only an unconfigured resource",
                json!([{"example.com/gpu": "1"}]),
                true,
            ),
            ("cpu", json!([{"cpu": "1m"}]), false),
        ];
        for (name, requests, skip) in cases {
            let p = resource_pod("p", requests);
            let mut st = state();
            let status = pl.pre_score(&mut st, &p, &[]);
            assert_eq!(status.code == Code::Skip, skip, "{name}: {status:?}");
            if skip {
                assert_eq!(pl.score(&state(), &p, &node), Ok(0), "{name}");
            }
        }
    }

    #[test]
    fn args_are_validated() {
        let cases = [
            (
                json!({"resources": [{"name": "cpu", "weight": 2}]}),
                "resources[0].weight: Invalid value: 2: must be 1",
            ),
            (
                json!({"resources": [{"name": "cpu"}, {"name": "cpu"}]}),
                "resources[1].name: Duplicate value: \"cpu\"",
            ),
            (
                json!({"resources": [{"name": "cpu"}, {"name": "cpu", "weight": -1}]}),
                "[resources[1].name: Duplicate value: \"cpu\", resources[1].weight: Invalid value: -1: must be 1]",
            ),
            (json!({"resource": []}), "unknown field `resource`"),
            (
                json!({"resources": "cpu"}),
                "decoding NodeResourcesBalancedAllocationArgs",
            ),
        ];
        for (args, want) in cases {
            let err = BalancedAllocation::new(Some(&args))
                .err()
                .unwrap_or_default();
            assert!(err.contains(want), "{args}:\n got {err}\nwant {want}");
        }
        for args in [
            json!({}),
            json!(null),
            json!({"resources": []}),
            json!({"resources": [{"name": "cpu", "weight": 0}, {"name": "memory", "weight": 1}]}),
            json!({"kind": "NodeResourcesBalancedAllocationArgs", "apiVersion": "kubescheduler.config.k8s.io/v1"}),
        ] {
            assert!(BalancedAllocation::new(Some(&args)).is_ok(), "{args}");
        }
    }

    #[test]
    fn registered_by_name() {
        let pl = crate::plugins::factory(NAME).expect("registered")(None).expect("builds");
        assert_eq!(pl.name(), NAME);
        assert!(pl.as_pre_score().is_some() && pl.as_score().is_some());
        assert!(pl.as_filter().is_none());
        let err = crate::plugins::factory(NAME).expect("registered")(Some(
            &json!({"resources": [{"name": "cpu", "weight": 3}]}),
        ));
        assert!(err.is_err());
    }
}
