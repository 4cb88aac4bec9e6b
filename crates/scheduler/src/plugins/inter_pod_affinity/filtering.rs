//! PreFilter (topology-pair counts), its add/remove-pod extensions, and Filter.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::topology::{TopologyCounts, par_fold};
use super::{
    ERR_REASON_AFFINITY_RULES_NOT_MATCH, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH, IncomingTerm, InterPodAffinity, matches_all,
    namespace_labels,
};
use crate::framework::{
    CycleState, Filter, NodeInfo, PodInfo, PreFilter, PreFilterResult, Snapshot, Status,
};

/// Where PreFilter leaves its state in the cycle.
pub(crate) const PRE_FILTER_STATE_KEY: &str = "PreFilterInterPodAffinity";

/// What existing pods' required anti-affinity terms are matched against: the incoming pod's
/// namespace, labels and namespace labels.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ExistingKey {
    namespace: String,
    labels: BTreeMap<String, String>,
    namespace_labels: BTreeMap<String, String>,
}

/// The incoming pod's required affinity and anti-affinity terms, resolved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct IncomingKey {
    affinity: Vec<IncomingTerm>,
    anti_affinity: Vec<IncomingTerm>,
}

/// Existing pods matching all of the incoming pod's required affinity terms, and each of its
/// required anti-affinity terms, per topology pair.
#[derive(Clone, Debug, Default)]
pub(crate) struct IncomingCounts {
    pub(crate) affinity: TopologyCounts,
    pub(crate) anti_affinity: TopologyCounts,
}

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
    pub(crate) existing_anti_affinity: Arc<TopologyCounts>,
    /// Existing pods matching the incoming pod's required terms.
    pub(crate) incoming: Arc<IncomingCounts>,
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
                Arc::make_mut(&mut self.existing_anti_affinity).add_on(
                    labels,
                    &t.topology_key,
                    delta,
                );
            }
        }
        let terms = &self.terms;
        let mut counts = IncomingCounts::default();
        add_incoming(
            &mut counts,
            pod,
            labels,
            &terms.affinity,
            &terms.anti_affinity,
            delta,
        );
        if !counts.affinity.is_empty() || !counts.anti_affinity.is_empty() {
            let into = Arc::make_mut(&mut self.incoming);
            into.affinity.merge(counts.affinity);
            into.anti_affinity.merge(counts.anti_affinity);
        }
    }

    /// Whether the node satisfies the incoming pod's required affinity: it has every term's
    /// topology key and each domain holds a matching pod, or no pod in the cluster matches and
    /// the pod matches its own terms (the first of a group with affinity to itself).
    pub(crate) fn satisfies_pod_affinity(&self, labels: &BTreeMap<String, String>) -> bool {
        let counts = &self.incoming.affinity;
        let mut pods_exist = true;
        for t in &self.terms.affinity {
            match labels.get(&t.topology_key) {
                Some(value) => {
                    if counts.get(&t.topology_key, value) <= 0 {
                        pods_exist = false;
                    }
                }
                None => return false,
            }
        }
        pods_exist || (counts.is_empty() && self.terms.self_match)
    }

    /// Whether no pod matching one of the incoming pod's anti-affinity terms is in the node's
    /// domain of that term.
    pub(crate) fn satisfies_pod_anti_affinity(&self, labels: &BTreeMap<String, String>) -> bool {
        let counts = &self.incoming.anti_affinity;
        if counts.is_empty() {
            return true;
        }
        !self.terms.anti_affinity.iter().any(|t| {
            labels
                .get(&t.topology_key)
                .is_some_and(|v| counts.get(&t.topology_key, v) > 0)
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

/// Adds `sign` per topology pair for each of `node`'s pods whose required anti-affinity terms
/// match `pod`.
fn add_existing(
    acc: &mut TopologyCounts,
    node: &NodeInfo,
    pod: &PodInfo,
    ns_labels: &BTreeMap<String, String>,
    sign: i64,
) {
    if node.pods_with_required_anti_affinity.is_empty() {
        return;
    }
    let labels = node.labels();
    for existing in &node.pods_with_required_anti_affinity {
        for t in &existing.required_anti_affinity {
            if t.matches(pod, Some(ns_labels)) {
                acc.add_on(labels, &t.topology_key, sign);
            }
        }
    }
}

/// Adds `sign` per topology pair if `existing` (on a node with `labels`) matches all of
/// `affinity`, and per term of `anti_affinity` it matches.
fn add_incoming(
    acc: &mut IncomingCounts,
    existing: &PodInfo,
    labels: &BTreeMap<String, String>,
    affinity: &[IncomingTerm],
    anti_affinity: &[IncomingTerm],
    sign: i64,
) {
    if matches_all(affinity, existing) {
        for t in affinity {
            acc.affinity.add_on(labels, &t.topology_key, sign);
        }
    }
    for t in anti_affinity {
        if t.matches(existing) {
            acc.anti_affinity.add_on(labels, &t.topology_key, sign);
        }
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
            if let Some(node) = snapshot.nodes.get(i) {
                add_existing(acc, node, pod, ns_labels, 1);
            }
        },
        |mut a, b| {
            a.merge(b);
            a
        },
    )
}

/// Counts, per topology pair, existing pods matching all of `key.affinity` and each of
/// `key.anti_affinity`.
fn incoming_counts(key: &IncomingKey, snapshot: &Snapshot) -> IncomingCounts {
    par_fold(
        &snapshot.nodes,
        IncomingCounts::default,
        |acc, node| add_incoming_node(acc, node, key, 1),
        |mut a, b| {
            a.affinity.merge(b.affinity);
            a.anti_affinity.merge(b.anti_affinity);
            a
        },
    )
}

fn add_incoming_node(acc: &mut IncomingCounts, node: &NodeInfo, key: &IncomingKey, sign: i64) {
    if node.pods.is_empty() {
        return;
    }
    let labels = node.labels();
    for existing in &node.pods {
        add_incoming(
            acc,
            existing,
            labels,
            &key.affinity,
            &key.anti_affinity,
            sign,
        );
    }
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
        let key = IncomingKey {
            affinity: resolve(&pod.required_affinity),
            anti_affinity: resolve(&pod.required_anti_affinity),
        };
        let no_terms = key.affinity.is_empty() && key.anti_affinity.is_empty();
        // Nothing to count: skip before the cache walks every node to find that out.
        if no_terms && snapshot.with_required_anti_affinity.is_empty() {
            return (None, Status::skip());
        }
        let ns_labels = namespace_labels(&snapshot.namespaces, &pod.namespace);

        let existing_anti_affinity = self.existing_cache.totals(
            &snapshot,
            ExistingKey {
                namespace: pod.namespace.clone(),
                labels: pod.labels.clone(),
                namespace_labels: ns_labels.clone(),
            },
            |k| existing_anti_affinity_counts(pod, &k.namespace_labels, &snapshot),
            |acc, k, node, sign| add_existing(acc, node, pod, &k.namespace_labels, sign),
        );
        if existing_anti_affinity.is_empty() && no_terms {
            return (None, Status::skip());
        }
        let incoming = if no_terms {
            Arc::new(IncomingCounts::default())
        } else {
            self.incoming_cache.totals(
                &snapshot,
                IncomingKey {
                    affinity: key.affinity.clone(),
                    anti_affinity: key.anti_affinity.clone(),
                },
                |k| incoming_counts(k, &snapshot),
                |acc, k, node, sign| add_incoming_node(acc, node, k, sign),
            )
        };
        let self_match = matches_all(&key.affinity, pod);
        state.write(
            PRE_FILTER_STATE_KEY,
            PreFilterState {
                existing_anti_affinity,
                incoming,
                terms: Arc::new(RequiredTerms {
                    affinity: key.affinity,
                    anti_affinity: key.anti_affinity,
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
            return Status::missing_state(PRE_FILTER_STATE_KEY);
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
            return Status::missing_state(PRE_FILTER_STATE_KEY);
        };
        s.update_with_pod(pod, removed, node, -1);
        Status::success()
    }
}

impl Filter for InterPodAffinity {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return Status::missing_state(PRE_FILTER_STATE_KEY);
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
