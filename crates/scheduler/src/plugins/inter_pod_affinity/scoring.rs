//! PreScore (weights per topology pair), Score and min–max normalization.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::topology::{TopologyCounts, par_fold};
use super::{IncomingTerm, InterPodAffinity, missing_state, namespace_labels};
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, NodeScore, PodInfo, PreScore, Score, Status,
};

/// Where PreScore leaves its state in the cycle.
pub(crate) const PRE_SCORE_STATE_KEY: &str = "PreScoreInterPodAffinity";

/// What PreScore computed: the summed weights per topology pair.
#[derive(Clone, Debug)]
pub(crate) struct PreScoreState {
    pub(crate) scores: TopologyCounts,
}

/// What scoring one existing pod needs to know about the incoming one.
struct ScoreContext<'a> {
    pod: &'a PodInfo,
    /// The incoming pod's preferred affinity terms, namespaces resolved.
    affinity: Vec<IncomingTerm>,
    /// The incoming pod's preferred anti-affinity terms, namespaces resolved.
    anti_affinity: Vec<IncomingTerm>,
    /// The incoming pod's namespace labels.
    ns_labels: BTreeMap<String, String>,
    hard_weight: i64,
}

impl ScoreContext<'_> {
    /// Adds the weights `existing` (on a node with `labels`) contributes (upstream's
    /// `processExistingPod`).
    fn process_existing(
        &self,
        acc: &mut TopologyCounts,
        existing: &PodInfo,
        labels: &BTreeMap<String, String>,
    ) {
        let mut add = |key: &str, weight: i64| {
            if let Some(value) = labels.get(key) {
                acc.accumulate(key, value, weight);
            }
        };
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
        let ns = Some(&self.ns_labels);
        if self.hard_weight > 0 {
            for t in &existing.required_affinity {
                if t.matches(self.pod, ns) {
                    add(&t.topology_key, self.hard_weight);
                }
            }
        }
        for w in &existing.preferred_affinity {
            if w.term.matches(self.pod, ns) {
                add(&w.term.topology_key, i64::from(w.weight));
            }
        }
        for w in &existing.preferred_anti_affinity {
            if w.term.matches(self.pod, ns) {
                add(&w.term.topology_key, -i64::from(w.weight));
            }
        }
    }

    fn process_node(&self, acc: &mut TopologyCounts, node: &NodeInfo, pods: &[Arc<PodInfo>]) {
        let labels = node.labels();
        if labels.is_empty() {
            return;
        }
        for existing in pods {
            self.process_existing(acc, existing, labels);
        }
    }
}

fn merge(mut a: TopologyCounts, b: TopologyCounts) -> TopologyCounts {
    a.merge(b, false);
    a
}

impl PreScore for InterPodAffinity {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        if nodes.is_empty() {
            return Status::skip();
        }
        let has_constraints =
            !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
        if self.args.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Status::skip();
        }
        let snapshot = state.snapshot().clone();
        let resolve = |terms: &[crate::framework::WeightedAffinityTerm]| -> Vec<IncomingTerm> {
            terms
                .iter()
                .map(|w| IncomingTerm::resolve(&w.term, w.weight, &snapshot.namespaces))
                .collect()
        };
        let ctx = ScoreContext {
            pod,
            affinity: resolve(&pod.preferred_affinity),
            anti_affinity: resolve(&pod.preferred_anti_affinity),
            ns_labels: namespace_labels(&snapshot.namespaces, &pod.namespace),
            hard_weight: i64::from(self.args.hard_pod_affinity_weight),
        };
        // Unless the incoming pod has preferred terms, only existing pods with affinity terms
        // contribute.
        let scores = if has_constraints {
            par_fold(
                &snapshot.nodes,
                TopologyCounts::default,
                |acc, node| ctx.process_node(acc, node, &node.pods),
                merge,
            )
        } else {
            par_fold(
                &snapshot.with_affinity,
                TopologyCounts::default,
                |acc, &i| {
                    if let Some(node) = snapshot.nodes.get(i) {
                        ctx.process_node(acc, node, &node.pods_with_affinity);
                    }
                },
                merge,
            )
        };
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
            .ok_or_else(|| missing_state(PRE_SCORE_STATE_KEY))?;
        Ok(s.scores.sum_on(node.labels()))
    }

    fn normalize(&self, state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let Some(s) = state.read::<PreScoreState>(PRE_SCORE_STATE_KEY) else {
            return missing_state(PRE_SCORE_STATE_KEY);
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
