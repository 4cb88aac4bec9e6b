//! PreScore (weights per topology pair), Score and min–max normalization.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::topology::{TopologyCounts, par_fold};
use super::{IncomingTerm, InterPodAffinity, namespace_labels};
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, NodeScore, PodInfo, PreScore, Score, Status,
};

/// Where PreScore leaves its state in the cycle.
pub(crate) const PRE_SCORE_STATE_KEY: &str = "PreScoreInterPodAffinity";

/// What PreScore computed: the summed weights per topology pair.
#[derive(Clone, Debug)]
pub(crate) struct PreScoreState {
    pub(crate) scores: Arc<TopologyCounts>,
}

/// Everything the weights depend on: the incoming pod's preferred terms (resolved), what
/// existing pods' terms are matched against (its namespace, labels and namespace labels), and
/// `hardPodAffinityWeight`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScoreKey {
    /// The incoming pod has preferred terms: every pod counts, not only pods with affinity.
    has_constraints: bool,
    affinity: Vec<IncomingTerm>,
    anti_affinity: Vec<IncomingTerm>,
    namespace: String,
    labels: BTreeMap<String, String>,
    namespace_labels: BTreeMap<String, String>,
    hard_weight: i64,
}

impl ScoreKey {
    /// Adds `sign` × the weights `existing` (on a node with `labels`) contributes (upstream's
    /// `processExistingPod`).
    fn process_existing(
        &self,
        acc: &mut TopologyCounts,
        pod: &PodInfo,
        existing: &PodInfo,
        labels: &BTreeMap<String, String>,
        sign: i64,
    ) {
        let mut add = |key: &str, weight: i64| acc.add_on(labels, key, sign * weight);
        for t in &self.affinity {
            if t.matches(existing) {
                add(&t.topology_key, t.weight);
            }
        }
        for t in &self.anti_affinity {
            if t.matches(existing) {
                add(&t.topology_key, -t.weight);
            }
        }
        let ns = Some(&self.namespace_labels);
        if self.hard_weight > 0 {
            for t in &existing.required_affinity {
                if t.matches(pod, ns) {
                    add(&t.topology_key, self.hard_weight);
                }
            }
        }
        for w in &existing.preferred_affinity {
            if w.term.matches(pod, ns) {
                add(&w.term.topology_key, i64::from(w.weight));
            }
        }
        for w in &existing.preferred_anti_affinity {
            if w.term.matches(pod, ns) {
                add(&w.term.topology_key, -i64::from(w.weight));
            }
        }
    }

    /// Adds `sign` × the weights of the node's pods (all of them if the incoming pod has
    /// preferred terms, else only those with affinity terms).
    fn process_node(&self, acc: &mut TopologyCounts, pod: &PodInfo, node: &NodeInfo, sign: i64) {
        let pods = if self.has_constraints {
            &node.pods
        } else {
            &node.pods_with_affinity
        };
        if pods.is_empty() {
            return;
        }
        let labels = node.labels();
        if labels.is_empty() {
            return;
        }
        for existing in pods {
            self.process_existing(acc, pod, existing, labels, sign);
        }
    }
}

impl PreScore for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let has_constraints =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        // Without terms of its own, only existing pods with affinity terms can score a node.
        if !has_constraints
            && (self.args.ignore_preferred_terms_of_existing_pods
                || state.snapshot().with_affinity.is_empty())
        {
            return Status::skip();
        }
        let snapshot = state.snapshot().clone();
        let resolve = |terms: &[crate::framework::WeightedAffinityTerm]| -> Vec<IncomingTerm> {
            terms
                .iter()
                .map(|w| IncomingTerm::resolve(&w.term, w.weight, &snapshot.namespaces))
                .collect()
        };
        let key = ScoreKey {
            has_constraints,
            affinity: resolve(&pod.preferred_affinity),
            anti_affinity: resolve(&pod.preferred_anti_affinity),
            namespace: pod.namespace.clone(),
            labels: pod.labels.clone(),
            namespace_labels: namespace_labels(&snapshot.namespaces, &pod.namespace),
            hard_weight: i64::from(self.args.hard_pod_affinity_weight),
        };
        let merge = |mut a: TopologyCounts, b: TopologyCounts| {
            a.merge(b);
            a
        };
        let scores = self.score_cache.totals(
            &snapshot,
            key,
            |k| {
                // Unless the incoming pod has preferred terms, only nodes with pods that have
                // affinity terms contribute.
                if k.has_constraints {
                    par_fold(
                        &snapshot.nodes,
                        TopologyCounts::default,
                        |acc, node| k.process_node(acc, pod, node, 1),
                        merge,
                    )
                } else {
                    par_fold(
                        &snapshot.with_affinity,
                        TopologyCounts::default,
                        |acc, &i| {
                            if let Some(node) = snapshot.nodes.get(i) {
                                k.process_node(acc, pod, node, 1);
                            }
                        },
                        merge,
                    )
                }
            },
            |acc, k, node, sign| k.process_node(acc, pod, node, sign),
        );
        if scores.is_empty() {
            return Status::skip();
        }
        state.write(PRE_SCORE_STATE_KEY, PreScoreState { scores });
        Status::success()
    }
}

impl Score for InterPodAffinity {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>(PRE_SCORE_STATE_KEY)
            .ok_or_else(|| Status::missing_state(PRE_SCORE_STATE_KEY))?;
        Ok(s.scores.sum_on(node.labels()))
    }

    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) else {
            return Status::missing_state(PRE_SCORE_STATE_KEY);
        };
        if s.scores.is_empty() {
            return Status::success();
        }
        normalize_min_max(scores);
        Status::success()
    }
}

/// Maps scores linearly so the lowest becomes 0 and the highest [`MAX_NODE_SCORE`] (all 0
/// when they are equal), as upstream's InterPodAffinity `NormalizeScore`.
pub(crate) fn normalize_min_max(scores: &mut [NodeScore]) {
    let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
    let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
    let diff = max.saturating_sub(min);
    for s in scores.iter_mut() {
        s.score = if diff > 0 {
            (MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
}
