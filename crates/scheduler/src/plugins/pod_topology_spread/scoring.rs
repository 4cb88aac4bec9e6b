//! Soft constraints (`whenUnsatisfiable: ScheduleAnyway`, and the default constraints):
//! PreScore counts matching pods per topology value of the feasible nodes, Score weighs them
//! by the log of the number of domains, and normalization reverses them (fewer pods, higher
//! score).

use std::collections::HashMap;
use std::sync::Arc;

use super::common::{Constraint, SCHEDULE_ANYWAY, count_matching, has_all_keys, tolerations};
use super::{LABEL_HOSTNAME, PodTopologySpread};
use crate::framework::node_affinity::RequiredNodeAffinity;
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, NodeScore, PodInfo, PreScore, Score, Status,
};
use crate::plugins::inter_pod_affinity::topology::par_fold;

/// Where PreScore leaves its state in the cycle.
pub(crate) const PRE_SCORE_STATE_KEY: &str = "PreScorePodTopologySpread";

/// The raw score of a node that lacks a topology key (it gets 0 after normalization).
const INVALID_SCORE: i64 = -1;

/// What PreScore computed.
#[derive(Clone, Debug)]
pub(crate) struct PreScoreState {
    pub(crate) constraints: Arc<Vec<Constraint>>,
    /// Nodes lacking any topology key are not scored (custom constraints); with the system
    /// defaults, nodes without a zone still get host spreading.
    pub(crate) require_all_topologies: bool,
    /// Per constraint, topology value of a feasible node → slot in `counts` (empty for
    /// `kubernetes.io/hostname`: those are counted on the node itself in Score).
    pub(crate) slots: Vec<HashMap<String, usize>>,
    /// Per constraint, matching pods per slot.
    pub(crate) counts: Vec<Vec<i64>>,
    /// Per constraint, `ln(number of domains + 2)`.
    pub(crate) weights: Vec<f64>,
}

/// Upstream's `topologyNormalizingWeight`: smaller topologies weigh less.
fn topology_normalizing_weight(size: usize) -> f64 {
    ((size + 2) as f64).ln()
}

/// Upstream's `scoreForCount`: `maxSkew - 1` waters differences down.
fn score_for_count(count: i64, max_skew: i32, weight: f64) -> f64 {
    count as f64 * weight + f64::from(max_skew - 1)
}

impl PreScore for PodTopologySpread {
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status {
        let snapshot = state.snapshot().clone();
        if snapshot.nodes.is_empty() {
            return Status::skip();
        }
        let own = pod
            .spec()
            .topology_spread_constraints
            .as_ref()
            .is_some_and(|c| !c.is_empty());
        // Only custom constraints require every topology key: with the system defaults, nodes
        // without a zone label still get host spreading.
        let require_all = own || !self.system_defaulted;
        let constraints = match self.constraints(pod, SCHEDULE_ANYWAY) {
            Ok(c) => c,
            Err(e) => {
                return Status::error(format!("calculating preScoreState: {e}"));
            }
        };
        if constraints.is_empty() {
            return Status::skip();
        }

        let n = constraints.len();
        let mut slots: Vec<HashMap<String, usize>> = vec![HashMap::new(); n];
        let mut ignored = 0usize;
        for node in nodes {
            let labels = node.labels();
            if require_all && !has_all_keys(labels, &constraints) {
                ignored += 1;
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    continue;
                }
                let value = labels.get(&c.topology_key).map_or("", String::as_str);
                if !slots[i].contains_key(value) {
                    let next = slots[i].len();
                    slots[i].insert(value.to_string(), next);
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&slots)
            .map(|(c, s)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    nodes.len() - ignored
                } else {
                    s.len()
                };
                topology_normalizing_weight(size)
            })
            .collect();

        let node_affinity = RequiredNodeAffinity::from_pod(pod).ok();
        let tolerations = tolerations(pod);
        let counts = if slots.iter().all(HashMap::is_empty) {
            vec![Vec::new(); n]
        } else {
            par_fold(
                &snapshot.nodes,
                || {
                    slots
                        .iter()
                        .map(|s| vec![0i64; s.len()])
                        .collect::<Vec<_>>()
                },
                |acc, node| {
                    let labels = node.labels();
                    if require_all && !has_all_keys(labels, &constraints) {
                        return;
                    }
                    for (i, c) in constraints.iter().enumerate() {
                        if slots[i].is_empty()
                            || !c.includes(tolerations, node, node_affinity.as_ref())
                        {
                            continue;
                        }
                        let value = labels.get(&c.topology_key).map_or("", String::as_str);
                        // Domains without a feasible node are not counted.
                        if let Some(&slot) = slots[i].get(value) {
                            acc[i][slot] += count_matching(&node.pods, &c.selector, &pod.namespace);
                        }
                    }
                },
                |mut a, b| {
                    for (into, from) in a.iter_mut().zip(b) {
                        for (x, y) in into.iter_mut().zip(from) {
                            *x += y;
                        }
                    }
                    a
                },
            )
        };
        state.write(
            PRE_SCORE_STATE_KEY,
            PreScoreState {
                constraints: Arc::new(constraints),
                require_all_topologies: require_all,
                slots,
                counts,
                weights,
            },
        );
        Status::success()
    }
}

impl Score for PodTopologySpread {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>(PRE_SCORE_STATE_KEY)
            .ok_or_else(|| super::missing_state(PRE_SCORE_STATE_KEY))?;
        let labels = node.labels();
        if s.require_all_topologies && !has_all_keys(labels, &s.constraints) {
            return Ok(INVALID_SCORE);
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == LABEL_HOSTNAME {
                count_matching(&node.pods, &c.selector, &pod.namespace)
            } else {
                s.slots[i]
                    .get(value.as_str())
                    .and_then(|&slot| s.counts[i].get(slot))
                    .copied()
                    .unwrap_or(0)
            };
            score += score_for_count(count, c.max_skew, s.weights[i]);
        }
        Ok((score.round() as i64).max(0))
    }

    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, scores: &mut [NodeScore]) -> Status {
        normalize_reversed(scores);
        Status::success()
    }
}

/// Upstream's PodTopologySpread `NormalizeScore`: ignored nodes get 0; otherwise
/// `100 * (max + min - score) / max` (all 100 when the maximum is 0).
pub(crate) fn normalize_reversed(scores: &mut [NodeScore]) {
    let mut min = i64::MAX;
    let mut max = 0;
    for s in scores.iter().filter(|s| s.score != INVALID_SCORE) {
        min = min.min(s.score);
        max = max.max(s.score);
    }
    for s in scores.iter_mut() {
        s.score = if s.score == INVALID_SCORE {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - s.score) / max
        };
    }
}
