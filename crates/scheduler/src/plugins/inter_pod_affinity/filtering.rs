//! PreFilter (topology-pair counts), its add/remove-pod extensions, and Filter.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::topology::{TopologyCounts, par_fold};
use super::{
    ERR_REASON_AFFINITY_RULES_NOT_MATCH, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH, IncomingTerm, InterPodAffinity, matches_all,
    missing_state, namespace_labels,
};
use crate::framework::{
    CycleState, Filter, NodeInfo, PodInfo, PreFilter, PreFilterResult, Snapshot, Status,
};

/// Where PreFilter leaves its state in the cycle.
pub(crate) const PRE_FILTER_STATE_KEY: &str = "PreFilterInterPodAffinity";

/// The incoming pod's required terms, resolved once per cycle (shared by state copies).
#[derive(Debug)]
pub(crate) struct RequiredTerms {
    pub(crate) affinity: Vec<IncomingTerm>,
    pub(crate) anti_affinity: Vec<IncomingTerm>,
    /// The pod matches all of its own required affinity terms.
    pub(crate) self_match: bool,
    /// The labels of the pod's namespace (for existing pods' namespace selectors).
    pub(crate) namespace_labels: BTreeMap<String, String>,
}

/// What PreFilter computed: counts per topology pair.
#[derive(Clone, Debug)]
pub(crate) struct PreFilterState {
    /// Existing pods whose required anti-affinity terms match the incoming pod.
    pub(crate) existing_anti_affinity: TopologyCounts,
    /// Existing pods matching all of the incoming pod's required affinity terms.
    pub(crate) affinity: TopologyCounts,
    /// Existing pods matching each of the incoming pod's required anti-affinity terms.
    pub(crate) anti_affinity: TopologyCounts,
    pub(crate) terms: Arc<RequiredTerms>,
}

impl PreFilterState {
    /// Updates the counts as if `pod` were added to (`delta` 1) or removed from (-1) `node`
    /// (upstream's `updateWithPod`).
    fn update_with_pod(&mut self, incoming: &PodInfo, pod: &PodInfo, node: &NodeInfo, delta: i64) {
        let labels = node.labels();
        let ns_labels = Some(&self.terms.namespace_labels);
        for t in &pod.required_anti_affinity {
            if t.matches(incoming, ns_labels) {
                self.existing_anti_affinity
                    .add_on(labels, &t.topology_key, delta);
            }
        }
        if matches_all(&self.terms.affinity, pod) {
            for t in &self.terms.affinity {
                self.affinity.add_on(labels, &t.topology_key, delta);
            }
        }
        for t in &self.terms.anti_affinity {
            if t.matches(pod) {
                self.anti_affinity.add_on(labels, &t.topology_key, delta);
            }
        }
    }

    /// Whether the node satisfies the incoming pod's required affinity: it has every term's
    /// topology key and each domain holds a matching pod, or no pod in the cluster matches and
    /// the pod matches its own terms (the first of a group with affinity to itself).
    pub(crate) fn satisfies_pod_affinity(&self, labels: &BTreeMap<String, String>) -> bool {
        let mut pods_exist = true;
        for t in &self.terms.affinity {
            match labels.get(&t.topology_key) {
                Some(value) => {
                    if self.affinity.get(&t.topology_key, value) <= 0 {
                        pods_exist = false;
                    }
                }
                None => return false,
            }
        }
        pods_exist || (self.affinity.is_empty() && self.terms.self_match)
    }

    /// Whether no pod matching one of the incoming pod's anti-affinity terms is in the node's
    /// domain of that term.
    pub(crate) fn satisfies_pod_anti_affinity(&self, labels: &BTreeMap<String, String>) -> bool {
        if self.anti_affinity.is_empty() {
            return true;
        }
        !self.terms.anti_affinity.iter().any(|t| {
            labels
                .get(&t.topology_key)
                .is_some_and(|v| self.anti_affinity.get(&t.topology_key, v) > 0)
        })
    }

    /// Whether the node lies in no domain where an existing pod's anti-affinity forbids the
    /// incoming pod.
    pub(crate) fn satisfies_existing_pods_anti_affinity(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        !self.existing_anti_affinity.any_positive_on(labels)
    }
}

/// Counts, per topology pair, existing pods whose required anti-affinity terms match `pod`,
/// visiting only nodes that hold such pods.
fn existing_anti_affinity_counts(
    pod: &PodInfo,
    ns_labels: &BTreeMap<String, String>,
    snapshot: &Snapshot,
) -> TopologyCounts {
    par_fold(
        &snapshot.with_required_anti_affinity,
        TopologyCounts::default,
        |acc, &i| {
            let Some(node) = snapshot.nodes.get(i) else {
                return;
            };
            let labels = node.labels();
            for existing in &node.pods_with_required_anti_affinity {
                for t in &existing.required_anti_affinity {
                    if t.matches(pod, Some(ns_labels)) {
                        acc.add_on(labels, &t.topology_key, 1);
                    }
                }
            }
        },
        |mut a, b| {
            a.merge(b, true);
            a
        },
    )
}

/// Counts, per topology pair, existing pods matching all of `affinity` and each of
/// `anti_affinity`.
fn incoming_counts(
    affinity: &[IncomingTerm],
    anti_affinity: &[IncomingTerm],
    snapshot: &Snapshot,
) -> (TopologyCounts, TopologyCounts) {
    if affinity.is_empty() && anti_affinity.is_empty() {
        return Default::default();
    }
    par_fold(
        &snapshot.nodes,
        <(TopologyCounts, TopologyCounts)>::default,
        |(aff, anti), node| {
            if node.pods.is_empty() {
                return;
            }
            let labels = node.labels();
            for existing in &node.pods {
                if matches_all(affinity, existing) {
                    for t in affinity {
                        aff.add_on(labels, &t.topology_key, 1);
                    }
                }
                for t in anti_affinity {
                    if t.matches(existing) {
                        anti.add_on(labels, &t.topology_key, 1);
                    }
                }
            }
        },
        |(mut a1, mut a2), (b1, b2)| {
            a1.merge(b1, true);
            a2.merge(b2, true);
            (a1, a2)
        },
    )
}

impl PreFilter for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        if let Some(e) = &pod.parse_error {
            return (None, Status::unresolvable(format!("parsing pod: {e}")));
        }
        let snapshot = state.snapshot().clone();
        let resolve = |terms: &[crate::framework::AffinityTerm]| -> Vec<IncomingTerm> {
            terms
                .iter()
                .map(|t| IncomingTerm::resolve(t, 1, &snapshot.namespaces))
                .collect()
        };
        let affinity = resolve(&pod.required_affinity);
        let anti_affinity = resolve(&pod.required_anti_affinity);
        let ns_labels = namespace_labels(&snapshot.namespaces, &pod.namespace);

        let existing_anti_affinity = existing_anti_affinity_counts(pod, &ns_labels, &snapshot);
        let (affinity_counts, anti_affinity_counts) =
            incoming_counts(&affinity, &anti_affinity, &snapshot);
        if existing_anti_affinity.is_empty() && affinity.is_empty() && anti_affinity.is_empty() {
            return (None, Status::skip());
        }
        let self_match = matches_all(&affinity, pod);
        state.write(
            PRE_FILTER_STATE_KEY,
            PreFilterState {
                existing_anti_affinity,
                affinity: affinity_counts,
                anti_affinity: anti_affinity_counts,
                terms: Arc::new(RequiredTerms {
                    affinity,
                    anti_affinity,
                    self_match,
                    namespace_labels: ns_labels,
                }),
            },
        );
        (None, Status::success())
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return missing_state(PRE_FILTER_STATE_KEY);
        };
        s.update_with_pod(pod, added, node, 1);
        Status::success()
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        let Some(s) = state.read_mut::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return missing_state(PRE_FILTER_STATE_KEY);
        };
        s.update_with_pod(pod, removed, node, -1);
        Status::success()
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return missing_state(PRE_FILTER_STATE_KEY);
        };
        let labels = node.labels();
        if !s.satisfies_pod_affinity(labels) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        if !s.satisfies_pod_anti_affinity(labels) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        if !s.satisfies_existing_pods_anti_affinity(labels) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        Status::success()
    }
}
