//! Soft constraints (`whenUnsatisfiable: ScheduleAnyway`, and the default constraints):
//! PreScore counts matching pods per topology value of the feasible nodes, Score weighs them
//! by the log of the number of domains, and normalization reverses them (fewer pods, higher
//! score).

use std::collections::HashSet;
use std::sync::Arc;

use super::common::{CountKey, SCHEDULE_ANYWAY, count_matching, has_all_keys};
use super::{LABEL_HOSTNAME, PodTopologySpread};
use crate::framework::node_affinity::RequiredNodeAffinity;
use crate::framework::{
    CycleState, MAX_NODE_SCORE, NodeInfo, NodeScore, PodInfo, PreScore, Score, Status,
};
use crate::plugins::inter_pod_affinity::topology::{ShardedMap, par_fold};

/// Where PreScore leaves its state in the cycle.
pub(crate) const PRE_SCORE_STATE_KEY: &str = "PreScorePodTopologySpread";

/// The raw score of a node that lacks a topology key (it gets 0 after normalization).
const INVALID_SCORE: i64 = -1;

/// Per constraint (except `kubernetes.io/hostname`, counted on the node itself in Score),
/// topology value → matching pods over every node that counts.
pub(crate) type ValueCounts = Vec<ShardedMap<i64>>;

/// What PreScore computed.
#[derive(Clone, Debug)]
pub(crate) struct PreScoreState {
    /// The constraints and what decides which nodes count.
    pub(crate) key: Arc<CountKey>,
    pub(crate) counts: Arc<ValueCounts>,
    /// Per constraint, `ln(number of domains among the feasible nodes + 2)`.
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

/// Adds `sign` × the node's matching pods to its topology values.
fn add_node(
    acc: &mut ValueCounts,
    key: &CountKey,
    node: &NodeInfo,
    affinity: Option<&RequiredNodeAffinity>,
    sign: i64,
) {
    key.for_each_count(node, affinity, true, |i, value, count| {
        if count == 0 {
            return;
        }
        let Some(map) = acc.get_mut(i) else {
            return;
        };
        map.update(
            value,
            || 0,
            |n| {
                *n += sign * count;
                (*n != 0, ())
            },
        );
    });
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
        let constraints = match self.constraints(state.snapshot(), pod, SCHEDULE_ANYWAY) {
            Ok(c) => c,
            Err(e) => {
                return Status::error(format!("calculating preScoreState: {e}"));
            }
        };
        if constraints.is_empty() {
            return Status::skip();
        }
        let key = CountKey::new(pod, constraints, require_all);

        // Domains among the feasible nodes (a missing label is the value "" unless every key
        // is required, in which case such nodes are ignored).
        let n = key.constraints.len();
        let mut domains: Vec<HashSet<&str>> = vec![HashSet::new(); n];
        let mut ignored = 0usize;
        for node in nodes {
            let labels = node.labels();
            if require_all && !has_all_keys(labels, &key.constraints) {
                ignored += 1;
                continue;
            }
            for (i, c) in key.constraints.iter().enumerate() {
                if c.topology_key != LABEL_HOSTNAME {
                    domains[i].insert(labels.get(&c.topology_key).map_or("", String::as_str));
                }
            }
        }
        let weights = key
            .constraints
            .iter()
            .zip(&domains)
            .map(|(c, d)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    nodes.len() - ignored
                } else {
                    d.len()
                };
                topology_normalizing_weight(size)
            })
            .collect();
        drop(domains);

        let node_affinity = RequiredNodeAffinity::from_pod(pod).ok();
        let affinity = node_affinity.as_ref();
        let counting = key
            .constraints
            .iter()
            .any(|c| c.topology_key != LABEL_HOSTNAME);
        let key = Arc::new(key);
        let counts = if counting {
            self.score_cache.totals(
                &snapshot,
                key.clone(),
                |k| {
                    par_fold(
                        &snapshot.nodes,
                        || vec![ShardedMap::default(); n],
                        |acc, node| add_node(acc, k, node, affinity, 1),
                        |mut a, b| {
                            for (into, from) in a.iter_mut().zip(b) {
                                for (value, count) in from.iter() {
                                    into.update(
                                        value,
                                        || 0,
                                        |n| {
                                            *n += count;
                                            (*n != 0, ())
                                        },
                                    );
                                }
                            }
                            a
                        },
                    )
                },
                |acc, k, node, sign| add_node(acc, k, node, affinity, sign),
            )
        } else {
            Arc::new(vec![ShardedMap::default(); n])
        };
        state.write(
            PRE_SCORE_STATE_KEY,
            PreScoreState {
                key,
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
            .ok_or_else(|| Status::missing_state(PRE_SCORE_STATE_KEY))?;
        let labels = node.labels();
        let constraints = &s.key.constraints;
        if s.key.require_all_topologies && !has_all_keys(labels, constraints) {
            return Ok(INVALID_SCORE);
        }
        let mut score = 0.0;
        for (i, c) in constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == LABEL_HOSTNAME {
                count_matching(&node.pods, &c.selector, &pod.namespace)
            } else {
                s.counts
                    .get(i)
                    .and_then(|m| m.get(value.as_str()))
                    .copied()
                    .unwrap_or(0)
            };
            score += score_for_count(count, c.max_skew, s.weights.get(i).copied().unwrap_or(0.0));
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
