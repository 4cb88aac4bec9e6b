//! NodeAffinity: a pod runs only on nodes matching its `spec.nodeSelector` and required node
//! affinity (Filter), and prefers nodes matching its preferred node affinity terms (Score: the
//! sum of the weights of the terms a node matches). The PreFilter parses the pod's
//! requirements once per cycle and, when every required term pins `metadata.name`, narrows the
//! cycle to those nodes. The profile's `addedAffinity` arg applies extra required/preferred
//! terms to every pod of the profile.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::NodeAffinity as NodeAffinitySpec;

use crate::framework::node_affinity::{
    OBJECT_NAME_FIELD, ParsedNodeSelector, PreferredSchedulingTerms, RequiredNodeAffinity,
};
use crate::framework::plugin::default_normalize;
use crate::framework::{
    ClusterEvent, CycleState, Filter, NodeInfo, NodeScore, Plugin, PodInfo, PreFilter,
    PreFilterResult, PreScore, Score, Status,
};

/// The plugin's name.
pub const NAME: &str = "NodeAffinity";
/// Why a node was rejected: the pod's own selector/affinity (upstream's `ErrReasonPod`).
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Why a node was rejected: the profile's `addedAffinity` (upstream's `errReasonEnforced`).
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// Why no node can fit: the required terms pin disjoint node names (upstream's
/// `errReasonConflict`).
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

const PRE_FILTER_KEY: &str = "PreFilterNodeAffinity";
const PRE_SCORE_KEY: &str = "PreScoreNodeAffinity";

/// Filters on required node affinity and scores by preferred node affinity.
#[derive(Default)]
pub struct NodeAffinity {
    /// `addedAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    added_required: Option<ParsedNodeSelector>,
    /// `addedAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    added_preferred: Option<PreferredSchedulingTerms>,
}

impl NodeAffinity {
    /// Builds the plugin from its `NodeAffinityArgs` (`addedAffinity`); errors name the field.
    pub fn new(args: Option<&serde_json::Value>) -> Result<NodeAffinity, String> {
        let Some(added) = args
            .and_then(|a| a.get("addedAffinity"))
            .filter(|v| !v.is_null())
        else {
            return Ok(NodeAffinity::default());
        };
        let added: NodeAffinitySpec =
            serde_json::from_value(added.clone()).map_err(|e| format!("addedAffinity: {e}"))?;
        let added_required = match &added.required_during_scheduling_ignored_during_execution {
            Some(sel) => {
                let path = "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms";
                let parsed = ParsedNodeSelector::parse(sel, path);
                let errors: Vec<&String> = parsed.errors().collect();
                if !errors.is_empty() {
                    return Err(errors
                        .into_iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", "));
                }
                Some(parsed)
            }
            None => None,
        };
        let added_preferred = match &added.preferred_during_scheduling_ignored_during_execution {
            Some(terms) => Some(PreferredSchedulingTerms::parse(
                terms,
                "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            )?),
            None => None,
        };
        Ok(NodeAffinity {
            added_required,
            added_preferred,
        })
    }
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        // A new node, or a node's labels changing, may match the pod.
        &[ClusterEvent::NodeAdd, ClusterEvent::NodeUpdate]
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
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

/// The pod's parsed requirements, computed once per cycle.
#[derive(Clone)]
struct PreFilterState {
    required: Arc<RequiredNodeAffinity>,
}

/// The pod's parsed preferences, computed once per cycle.
#[derive(Clone)]
struct PreScoreState {
    preferred: Option<Arc<PreferredSchedulingTerms>>,
}

fn required_affinity_spec(pod: &PodInfo) -> Option<&k8s_openapi::api::core::v1::NodeSelector> {
    pod.spec()
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()
}

/// The node names the required terms pin through `matchFields` `metadata.name In`: `None`
/// when some term does not pin names (terms are ORed, so any node may match that one).
fn pinned_node_names(pod: &PodInfo) -> Option<HashSet<String>> {
    let terms = &required_affinity_spec(pod)?.node_selector_terms;
    if terms.is_empty() {
        return None;
    }
    let mut names: HashSet<String> = HashSet::new();
    for term in terms {
        let mut term_names: Option<HashSet<String>> = None;
        for r in term.match_fields.iter().flatten() {
            if r.key == OBJECT_NAME_FIELD && r.operator == "In" {
                let values: HashSet<String> = r.values.iter().flatten().cloned().collect();
                // Requirements within a term are ANDed: intersect.
                term_names = Some(match term_names {
                    None => values,
                    Some(prev) => prev.intersection(&values).cloned().collect(),
                });
            }
        }
        names.extend(term_names?);
    }
    Some(names)
}

fn preferred_terms(pod: &PodInfo) -> Result<Option<PreferredSchedulingTerms>, String> {
    let terms = pod
        .spec()
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        });
    terms
        .map(|t| {
            PreferredSchedulingTerms::parse(
                t,
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            )
        })
        .transpose()
}

impl PreFilter for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        let has_required = required_affinity_spec(pod).is_some();
        if !has_required && self.added_required.is_none() && pod.spec().node_selector.is_none() {
            return (None, Status::skip());
        }
        let required = match RequiredNodeAffinity::from_pod(pod) {
            Ok(r) => r,
            Err(e) => return (None, Status::unresolvable(e)),
        };
        state.write(
            PRE_FILTER_KEY,
            PreFilterState {
                required: Arc::new(required),
            },
        );
        match pinned_node_names(pod) {
            Some(names) if names.is_empty() => (None, Status::unresolvable(ERR_REASON_CONFLICT)),
            Some(names) => (
                Some(PreFilterResult {
                    node_names: Some(names),
                }),
                Status::success(),
            ),
            None => (None, Status::success()),
        }
    }
}

impl Filter for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(added) = &self.added_required
            && !added.matches(node)
        {
            return Status::unresolvable(ERR_REASON_ENFORCED);
        }
        let matches = match state.read::<PreFilterState>(PRE_FILTER_KEY) {
            Some(s) => s.required.matches(node),
            // PreFilter disabled or skipped: compute here.
            None => match RequiredNodeAffinity::from_pod(pod) {
                Ok(r) => r.matches(node),
                Err(e) => return Status::unresolvable(e),
            },
        };
        if matches {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

impl PreScore for NodeAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        if nodes.is_empty() {
            return Status::success();
        }
        let preferred = match preferred_terms(pod) {
            Ok(p) => p,
            Err(e) => return Status::error(e),
        };
        if preferred.is_none() && self.added_preferred.is_none() {
            return Status::skip();
        }
        state.write(
            PRE_SCORE_KEY,
            PreScoreState {
                preferred: preferred.map(Arc::new),
            },
        );
        Status::success()
    }
}

impl Score for NodeAffinity {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let mut count = self.added_preferred.as_ref().map_or(0, |p| p.score(node));
        match state.read::<PreScoreState>(PRE_SCORE_KEY) {
            Some(s) => count += s.preferred.as_ref().map_or(0, |p| p.score(node)),
            // PreScore disabled: compute here.
            None => {
                let preferred = preferred_terms(pod).map_err(Status::error)?;
                count += preferred.map_or(0, |p| p.score(node));
            }
        }
        Ok(count)
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize(scores, false);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{node, pod, pre_filter_and_filter, score_nodes, state};
    use serde_json::{Value, json};

    fn labelled(name: &str, labels: Value) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": labels}}))
    }

    fn pod_with(node_selector: Value, node_affinity: Value) -> PodInfo {
        let mut spec = json!({"containers": []});
        if !node_selector.is_null() {
            spec["nodeSelector"] = node_selector;
        }
        if !node_affinity.is_null() {
            spec["affinity"] = json!({"nodeAffinity": node_affinity});
        }
        pod(json!({"metadata": {"name": "p"}, "spec": spec}))
    }

    fn required(terms: Value) -> Value {
        json!({"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}})
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> Value {
        json!({"key": key, "operator": op, "values": values})
    }

    #[test]
    fn filter_on_selector_and_required_affinity() {
        let n = labelled("n1", json!({"zone": "a"}));
        let cases: Vec<(&str, Value, Value, Option<Code>)> = vec![
            ("no constraints", Value::Null, Value::Null, None),
            ("selector fits", json!({"zone": "a"}), Value::Null, None),
            (
                "selector does not fit",
                json!({"zone": "b"}),
                Value::Null,
                Some(Code::UnschedulableAndUnresolvable),
            ),
            (
                "required fits",
                Value::Null,
                required(json!([{"matchExpressions": [expr("zone", "In", &["a"])]}])),
                None,
            ),
            (
                "required does not fit",
                Value::Null,
                required(json!([{"matchExpressions": [expr("zone", "NotIn", &["a"])]}])),
                Some(Code::UnschedulableAndUnresolvable),
            ),
            (
                "zero terms fit nowhere",
                Value::Null,
                required(json!([])),
                Some(Code::UnschedulableAndUnresolvable),
            ),
            (
                "malformed term fits nowhere",
                Value::Null,
                required(json!([{"matchExpressions": [expr("zone", "Bogus", &["a"])]}])),
                Some(Code::UnschedulableAndUnresolvable),
            ),
            (
                "only preferred terms",
                Value::Null,
                json!({"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 1, "preference": {"matchExpressions": [expr("zone", "In", &["b"])]}}
                ]}),
                None,
            ),
        ];
        for (name, selector, affinity, want) in cases {
            let p = pod_with(selector, affinity);
            // With and without PreFilter (Filter falls back to parsing itself).
            for status in [
                pre_filter_and_filter(&NodeAffinity::default(), &p, &n, vec![n.clone()]),
                NodeAffinity::default().filter(&state(), &p, &n),
            ] {
                match want {
                    None => assert!(status.is_success(), "{name}: {status:?}"),
                    Some(code) => {
                        assert_eq!(status.code, code, "{name}");
                        assert_eq!(status.reasons, vec![ERR_REASON_POD], "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn pre_filter_skips_and_pins_node_names() {
        let name_in = |names: &[&str]| json!({"matchFields": [expr("metadata.name", "In", names)]});
        type Case<'a> = (&'a str, Value, Value, Code, Option<Vec<&'a str>>);
        let cases: Vec<Case> = vec![
            ("nothing to do", Value::Null, Value::Null, Code::Skip, None),
            (
                "selector only",
                json!({"zone": "a"}),
                Value::Null,
                Code::Success,
                None,
            ),
            (
                "one term pins a name",
                Value::Null,
                required(json!([name_in(&["n1"])])),
                Code::Success,
                Some(vec!["n1"]),
            ),
            (
                "ORed terms union their names",
                Value::Null,
                required(json!([name_in(&["n1"]), name_in(&["n2"])])),
                Code::Success,
                Some(vec!["n1", "n2"]),
            ),
            (
                "a term without names leaves every node",
                Value::Null,
                required(
                    json!([name_in(&["n1"]), {"matchExpressions": [expr("zone", "Exists", &[])]}]),
                ),
                Code::Success,
                None,
            ),
            (
                "ANDed requirements intersect",
                Value::Null,
                required(json!([{"matchFields": [
                    expr("metadata.name", "In", &["n1"]), expr("metadata.name", "In", &["n2"])
                ]}])),
                Code::UnschedulableAndUnresolvable,
                None,
            ),
            (
                "NotIn does not pin",
                Value::Null,
                required(json!([{"matchFields": [expr("metadata.name", "NotIn", &["n1"])]}])),
                Code::Success,
                None,
            ),
            (
                "zero terms",
                Value::Null,
                required(json!([])),
                Code::Success,
                None,
            ),
        ];
        for (name, selector, affinity, code, names) in cases {
            let p = pod_with(selector, affinity);
            let mut st = state();
            let (result, status) = NodeAffinity::default().pre_filter(&mut st, &p);
            assert_eq!(status.code, code, "{name}");
            if code == Code::UnschedulableAndUnresolvable {
                assert_eq!(status.reasons, vec![ERR_REASON_CONFLICT], "{name}");
            }
            let got = result.and_then(|r| r.node_names);
            let want = names.map(|n| n.into_iter().map(String::from).collect::<HashSet<_>>());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn score_sums_matching_preferred_weights() {
        let nodes = || {
            vec![
                labelled("n1", json!({"zone": "a", "disk": "ssd"})),
                labelled("n2", json!({"zone": "a"})),
                labelled("n3", json!({"zone": "b"})),
            ]
        };
        let pref = |w: i32, e: Value| json!({"weight": w, "preference": {"matchExpressions": [e]}});
        let cases: Vec<(&str, Value, Vec<i64>)> = vec![
            ("no preferences", Value::Null, vec![0, 0, 0]),
            (
                "one term",
                json!([pref(10, expr("zone", "In", &["a"]))]),
                vec![100, 100, 0],
            ),
            (
                "weights add up and normalize to the best",
                json!([
                    pref(3, expr("zone", "In", &["a"])),
                    pref(1, expr("disk", "In", &["ssd"]))
                ]),
                vec![100, 75, 0],
            ),
            (
                "nobody matches",
                json!([pref(3, expr("zone", "In", &["c"]))]),
                vec![0, 0, 0],
            ),
        ];
        for (name, preferred, want) in cases {
            let affinity = if preferred.is_null() {
                Value::Null
            } else {
                json!({"preferredDuringSchedulingIgnoredDuringExecution": preferred})
            };
            let p = pod_with(Value::Null, affinity);
            assert_eq!(
                score_nodes(&NodeAffinity::default(), &p, nodes()),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn malformed_preferred_terms_are_an_error() {
        let p = pod_with(
            Value::Null,
            json!({"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [expr("zone", "Gt", &["x"])]}}
            ]}),
        );
        let mut st = state();
        let n = Arc::new(labelled("n1", json!({})));
        let status = NodeAffinity::default().pre_score(&mut st, &p, &[n]);
        assert_eq!(status.code, Code::Error);
        assert!(
            status
                .message()
                .contains("preferredDuringSchedulingIgnoredDuringExecution[0]"),
            "{status:?}"
        );
    }

    #[test]
    fn added_affinity_applies_to_every_pod() {
        let plugin = NodeAffinity::new(Some(&json!({
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "NodeAffinityArgs",
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [expr("pool", "In", &["batch"])]}
                ]},
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 2, "preference": {"matchExpressions": [expr("zone", "In", &["a"])]}}
                ]
            }
        })))
        .expect("valid args");
        let p = pod_with(Value::Null, Value::Null);
        let batch = labelled("n1", json!({"pool": "batch", "zone": "a"}));
        let other = labelled("n2", json!({"pool": "web", "zone": "a"}));
        assert!(pre_filter_and_filter(&plugin, &p, &batch, vec![]).is_success());
        let status = pre_filter_and_filter(&plugin, &p, &other, vec![]);
        assert_eq!(status.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(status.reasons, vec![ERR_REASON_ENFORCED]);
        let scores = score_nodes(
            &plugin,
            &p,
            vec![batch, labelled("n3", json!({"pool": "batch"}))],
        );
        assert_eq!(scores, vec![100, 0]);

        let bad = NodeAffinity::new(Some(&json!({"addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [expr("pool", "Bogus", &[])]}
            ]}
        }})));
        assert!(bad.is_err_and(|e| {
            e.contains("addedAffinity.requiredDuringSchedulingIgnoredDuringExecution")
        }));
        assert!(NodeAffinity::new(Some(&json!({"addedAffinity": 5}))).is_err());
        assert!(NodeAffinity::new(None).is_ok());
    }
}
