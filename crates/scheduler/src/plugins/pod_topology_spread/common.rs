//! Constraints as the plugin uses them (selector parsed, matchLabelKeys merged, policies
//! defaulted), and the helpers PreFilter and PreScore share.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelector, Taint, Toleration, TopologySpreadConstraint};
use rkube_api::selector::LabelSelector;

use super::PodTopologySpread;
use crate::framework::node_affinity::RequiredNodeAffinity;
use crate::framework::taints::tolerated_by;
use crate::framework::{NodeInfo, PodInfo, Snapshot};

/// `whenUnsatisfiable: DoNotSchedule` (hard: PreFilter/Filter).
pub(crate) const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
/// `whenUnsatisfiable: ScheduleAnyway` (soft: PreScore/Score).
pub(crate) const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";

/// A topology spread constraint, parsed (upstream's internal `topologySpreadConstraint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Constraint {
    pub(crate) max_skew: i32,
    pub(crate) topology_key: String,
    pub(crate) selector: LabelSelector,
    /// At least 1.
    pub(crate) min_domains: i32,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the pod's node
    /// selector and required node affinity count.
    pub(crate) honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore): only nodes whose NoSchedule/NoExecute
    /// taints the pod tolerates count.
    pub(crate) honor_node_taints: bool,
}

impl Constraint {
    /// Whether `node` counts for this constraint under its inclusion policies.
    pub(crate) fn includes(
        &self,
        tolerations: &[Toleration],
        node: &NodeInfo,
        affinity: Option<&RequiredNodeAffinity>,
    ) -> bool {
        if self.honor_node_affinity && !affinity.is_some_and(|a| a.matches(node)) {
            return false;
        }
        if self.honor_node_taints && has_untolerated_taint(tolerations, node) {
            return false;
        }
        true
    }
}

/// What of the incoming pod decides which nodes and pods count for its constraints: the
/// constraints, its namespace, and what the inclusion policies look at (cache key).
#[derive(Debug, PartialEq)]
pub(crate) struct CountKey {
    pub(crate) constraints: Vec<Constraint>,
    namespace: String,
    node_selector: Option<BTreeMap<String, String>>,
    required_node_affinity: Option<NodeSelector>,
    tolerations: Vec<Toleration>,
    /// Nodes must have every topology key (always for hard constraints).
    pub(crate) require_all_topologies: bool,
}

impl CountKey {
    pub(crate) fn new(pod: &PodInfo, constraints: Vec<Constraint>, require_all: bool) -> CountKey {
        let spec = pod.spec();
        CountKey {
            constraints,
            namespace: pod.namespace.clone(),
            node_selector: spec.node_selector.clone(),
            required_node_affinity: spec
                .affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .clone()
                }),
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            require_all_topologies: require_all,
        }
    }

    /// Calls `f(i, value, count)` for each constraint `i` the node counts for, with the node's
    /// topology value (`""` when missing and not required) and its matching pods.
    pub(crate) fn for_each_count(
        &self,
        node: &NodeInfo,
        affinity: Option<&RequiredNodeAffinity>,
        skip_hostname: bool,
        mut f: impl FnMut(usize, &str, i64),
    ) {
        let labels = node.labels();
        if self.require_all_topologies && !has_all_keys(labels, &self.constraints) {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if skip_hostname && c.topology_key == super::LABEL_HOSTNAME {
                continue;
            }
            if !c.includes(&self.tolerations, node, affinity) {
                continue;
            }
            let value = labels.get(&c.topology_key).map_or("", String::as_str);
            f(
                i,
                value,
                count_matching(&node.pods, &c.selector, &self.namespace),
            );
        }
    }
}

/// Whether `node` has a NoSchedule/NoExecute taint none of `tolerations` tolerates.
fn has_untolerated_taint(tolerations: &[Toleration], node: &NodeInfo) -> bool {
    let taints: &[Taint] = node
        .node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .any(|t| !tolerated_by(tolerations, t))
}

/// The pod's tolerations.
pub(crate) fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.spec().tolerations.as_deref().unwrap_or_default()
}

/// Whether `labels` have every constraint's topology key.
pub(crate) fn has_all_keys(labels: &BTreeMap<String, String>, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.contains_key(&c.topology_key))
}

/// How many of `pods` in namespace `ns`, not terminating, `selector` matches (0 for an empty
/// selector, as upstream's `countPodsMatchSelector`).
pub(crate) fn count_matching(
    pods: &[std::sync::Arc<PodInfo>],
    selector: &LabelSelector,
    ns: &str,
) -> i64 {
    if selector.is_everything() {
        return 0;
    }
    pods.iter()
        .filter(|p| {
            p.namespace == ns
                && p.pod.metadata.deletion_timestamp.is_none()
                && selector.matches(&p.labels)
        })
        .count() as i64
}

/// The constraints with `whenUnsatisfiable == action`, parsed; `matchLabelKeys` values taken
/// from the pod's labels are ANDed into the selector (upstream's
/// `filterTopologySpreadConstraints`).
pub(crate) fn filter_constraints(
    constraints: &[TopologySpreadConstraint],
    pod_labels: &BTreeMap<String, String>,
    action: &str,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == action)
    {
        let mut selector = LabelSelector::from_meta_option(c.label_selector.as_ref())
            .map_err(|e| e.to_string())?;
        let keys = c.match_label_keys.as_deref().unwrap_or_default();
        if !keys.is_empty() && !selector.is_nothing() {
            let match_labels: BTreeMap<String, String> = keys
                .iter()
                .filter_map(|k| pod_labels.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            if !match_labels.is_empty() {
                let mut requirements = LabelSelector::from_map(&match_labels)
                    .requirements()
                    .to_vec();
                requirements.extend(selector.requirements().iter().cloned());
                selector = LabelSelector::from_requirements(requirements);
            }
        }
        out.push(Constraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1).max(1),
            honor_node_affinity: c.node_affinity_policy.as_deref().unwrap_or("Honor") == "Honor",
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    Ok(out)
}

impl PodTopologySpread {
    /// The pod's constraints for `action`: its own if it has any, else the defaults with the
    /// selector derived from what selects the pod (none when nothing can be derived).
    pub(crate) fn constraints(
        &self,
        snapshot: &Snapshot,
        pod: &PodInfo,
        action: &str,
    ) -> Result<Vec<Constraint>, String> {
        let own = pod
            .spec()
            .topology_spread_constraints
            .as_deref()
            .unwrap_or_default();
        if !own.is_empty() {
            return filter_constraints(own, &pod.labels, action);
        }
        let mut constraints = filter_constraints(&self.default_constraints, &pod.labels, action)?;
        if constraints.is_empty() {
            return Ok(constraints);
        }
        let selector = snapshot.selecting.default_selector(pod);
        if selector.is_everything() || selector.is_nothing() {
            return Ok(Vec::new());
        }
        for c in &mut constraints {
            c.selector = selector.clone();
        }
        Ok(constraints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tsc(v: serde_json::Value) -> TopologySpreadConstraint {
        serde_json::from_value(v).expect("constraint")
    }

    #[test]
    fn match_label_keys_are_merged_into_the_selector() {
        let labels: BTreeMap<String, String> =
            [("app".into(), "web".into()), ("rev".into(), "7".into())].into();
        let cases = [
            (
                json!({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "web"}}, "matchLabelKeys": ["rev", "missing"]}),
                "app=web,rev=7",
            ),
            (
                json!({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "web"}}}),
                "app=web",
            ),
            (
                json!({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {}, "matchLabelKeys": ["rev"]}),
                "rev=7",
            ),
        ];
        for (c, want) in cases {
            let got = filter_constraints(&[tsc(c.clone())], &labels, DO_NOT_SCHEDULE).expect("ok");
            assert_eq!(got[0].selector.to_string(), want, "{c}");
        }
        // No selector matches nothing, whatever matchLabelKeys say.
        let got = filter_constraints(
            &[tsc(json!({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule", "matchLabelKeys": ["rev"]}))],
            &labels,
            DO_NOT_SCHEDULE,
        )
        .expect("ok");
        assert!(got[0].selector.is_nothing());
    }

    #[test]
    fn policies_and_min_domains_default() {
        let c =
            tsc(json!({"maxSkew": 2, "topologyKey": "z", "whenUnsatisfiable": "ScheduleAnyway"}));
        let got = filter_constraints(std::slice::from_ref(&c), &BTreeMap::new(), SCHEDULE_ANYWAY)
            .expect("ok");
        assert_eq!(got.len(), 1);
        assert!(got[0].honor_node_affinity && !got[0].honor_node_taints);
        assert_eq!(got[0].min_domains, 1);
        assert!(
            filter_constraints(&[c], &BTreeMap::new(), DO_NOT_SCHEDULE)
                .expect("ok")
                .is_empty()
        );
        let c = tsc(
            json!({"maxSkew": 2, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule",
                           "minDomains": 3, "nodeAffinityPolicy": "Ignore", "nodeTaintsPolicy": "Honor"}),
        );
        let got = filter_constraints(&[c], &BTreeMap::new(), DO_NOT_SCHEDULE).expect("ok");
        assert!(!got[0].honor_node_affinity && got[0].honor_node_taints);
        assert_eq!(got[0].min_domains, 3);
        let bad = tsc(
            json!({"maxSkew": 1, "topologyKey": "z", "whenUnsatisfiable": "DoNotSchedule",
                             "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}),
        );
        assert!(filter_constraints(&[bad], &BTreeMap::new(), DO_NOT_SCHEDULE).is_err());
    }
}
