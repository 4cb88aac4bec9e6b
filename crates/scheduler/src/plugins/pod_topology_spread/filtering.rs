//! Hard constraints (`whenUnsatisfiable: DoNotSchedule`): PreFilter counts matching pods per
//! topology value over eligible nodes; Filter checks the skew.

use std::sync::Arc;

use super::common::{CountKey, DO_NOT_SCHEDULE, has_all_keys, tolerations};
use super::{ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH, PodTopologySpread};
use crate::framework::node_affinity::RequiredNodeAffinity;
use crate::framework::{
    CycleState, Filter, NodeInfo, PodInfo, PreFilter, PreFilterResult, Snapshot, Status,
};
use crate::plugins::inter_pod_affinity::topology::{ShardedMap, par_fold};

/// Where PreFilter leaves its state in the cycle.
pub(crate) const PRE_FILTER_STATE_KEY: &str = "PreFilterPodTopologySpread";

/// The two topology values with the fewest matching pods (upstream's `criticalPaths`):
/// `[0]` always holds the minimum; `[1]` is at least `[0]` but not necessarily the second
/// minimum. Enough because preemption only removes pods from one node per state copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CriticalPaths([(String, i64); 2]);

impl CriticalPaths {
    fn new() -> CriticalPaths {
        let max = i64::from(i32::MAX);
        CriticalPaths([(String::new(), max), (String::new(), max)])
    }

    /// The minimum matching count.
    pub(crate) fn min(&self) -> i64 {
        self.0[0].1
    }

    fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let i = if value == p[0].0 {
            Some(0)
        } else if value == p[1].0 {
            Some(1)
        } else {
            None
        };
        match i {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None => {
                if num < p[0].1 {
                    p[1] = std::mem::replace(&mut p[0], (value.to_string(), num));
                } else if num < p[1].1 {
                    p[1] = (value.to_string(), num);
                }
            }
        }
    }
}

/// Matching pods and eligible nodes of one topology domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Domain {
    pub(crate) pods: i64,
    pub(crate) nodes: i64,
}

/// Per constraint, topology value → domain (every eligible domain is present).
pub(crate) type DomainCounts = Vec<ShardedMap<Domain>>;

/// What does not change while preemption adds and removes pods.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) key: CountKey,
    /// Whether each constraint's selector matches the incoming pod.
    pub(crate) self_match: Vec<bool>,
    /// The incoming pod's node selector and required node affinity (`None`: unparsable, so
    /// no node matches).
    pub(crate) node_affinity: Option<RequiredNodeAffinity>,
}

/// What PreFilter computed.
#[derive(Clone, Debug)]
pub(crate) struct PreFilterState {
    pub(crate) prepared: Arc<Prepared>,
    /// Per constraint, the minimum counts.
    pub(crate) critical_paths: Vec<CriticalPaths>,
    /// Per constraint, the domains.
    pub(crate) counts: Arc<DomainCounts>,
}

impl PreFilterState {
    /// The global minimum for constraint `i`: 0 while fewer than `minDomains` domains exist.
    pub(crate) fn min_match_num(&self, i: usize, min_domains: i32) -> i64 {
        let domains = self.counts.get(i).map_or(0, ShardedMap::len);
        if domains < usize::try_from(min_domains).unwrap_or(0) {
            return 0;
        }
        self.critical_paths.get(i).map_or(0, CriticalPaths::min)
    }

    /// Updates the counts as if `pod` were added to (`delta` 1) or removed from (-1) `node`
    /// (upstream's `updateWithPod`).
    fn update_with_pod(&mut self, incoming: &PodInfo, pod: &PodInfo, node: &NodeInfo, delta: i64) {
        if pod.namespace != incoming.namespace {
            return;
        }
        let labels = node.labels();
        let prepared = self.prepared.clone();
        let constraints = &prepared.key.constraints;
        if !has_all_keys(labels, constraints) {
            return;
        }
        let tolerations = tolerations(incoming);
        for (i, c) in constraints.iter().enumerate() {
            if !c.selector.matches(&pod.labels)
                || !c.includes(tolerations, node, prepared.node_affinity.as_ref())
            {
                continue;
            }
            let Some(value) = labels.get(&c.topology_key) else {
                continue;
            };
            let Some(counts) = Arc::make_mut(&mut self.counts).get_mut(i) else {
                continue;
            };
            let n = counts.update(value, Domain::default, |d| {
                d.pods += delta;
                (true, d.pods)
            });
            if let Some(paths) = self.critical_paths.get_mut(i) {
                paths.update(value, n);
            }
        }
    }
}

/// Adds `sign` × the node's contribution: its matching pods and itself as an eligible node,
/// per constraint it counts for; drops domains left without eligible nodes.
fn add_node(
    acc: &mut DomainCounts,
    key: &CountKey,
    node: &NodeInfo,
    affinity: Option<&RequiredNodeAffinity>,
    sign: i64,
) {
    key.for_each_count(node, affinity, false, |i, value, count| {
        let Some(map) = acc.get_mut(i) else {
            return;
        };
        map.update(value, Domain::default, |d| {
            d.pods += sign * count;
            d.nodes += sign;
            (d.nodes != 0 || d.pods != 0, ())
        });
    });
}

/// Counts, per constraint and topology value, the pods `constraints` select in the pod's
/// namespace over every node that has all topology keys and passes the inclusion policies.
fn count_domains(
    snapshot: &Snapshot,
    key: &CountKey,
    affinity: Option<&RequiredNodeAffinity>,
) -> DomainCounts {
    let n = key.constraints.len();
    par_fold(
        &snapshot.nodes,
        || vec![ShardedMap::default(); n],
        |acc, node| add_node(acc, key, node, affinity, 1),
        |mut a, b| {
            for (into, from) in a.iter_mut().zip(b) {
                if into.is_empty() {
                    *into = from;
                    continue;
                }
                for (value, d) in from.iter() {
                    into.update(value, Domain::default, |e| {
                        e.pods += d.pods;
                        e.nodes += d.nodes;
                        (true, ())
                    });
                }
            }
            a
        },
    )
}

impl PreFilter for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        let constraints = match self.constraints(state.snapshot(), pod, DO_NOT_SCHEDULE) {
            Ok(c) => c,
            Err(e) => {
                return (
                    None,
                    Status::error(format!("get constraints from pod: {e}")),
                );
            }
        };
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let self_match = constraints
            .iter()
            .map(|c| c.selector.matches(&pod.labels))
            .collect();
        let node_affinity = RequiredNodeAffinity::from_pod(pod).ok();
        let snapshot = state.snapshot().clone();
        let affinity = node_affinity.as_ref();
        let counts = self.filter_cache.totals(
            &snapshot,
            CountKey::new(pod, constraints.clone(), true),
            |k| count_domains(&snapshot, k, affinity),
            |acc, k, node, sign| add_node(acc, k, node, affinity, sign),
        );
        let critical_paths = counts
            .iter()
            .map(|domains| {
                let mut paths = CriticalPaths::new();
                for (value, d) in domains.iter() {
                    paths.update(value, d.pods);
                }
                paths
            })
            .collect();
        state.write(
            PRE_FILTER_STATE_KEY,
            PreFilterState {
                prepared: Arc::new(Prepared {
                    key: CountKey::new(pod, constraints, true),
                    self_match,
                    node_affinity,
                }),
                critical_paths,
                counts,
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

impl Filter for PodTopologySpread {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>(PRE_FILTER_STATE_KEY) else {
            return Status::missing_state(PRE_FILTER_STATE_KEY);
        };
        let labels = &node.label_index;
        for (i, c) in s.prepared.key.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            // 'existing matching num' + 'if self-match (1 or 0)' - 'global minimum' <= 'maxSkew'
            let min = s.min_match_num(i, c.min_domains);
            let self_match = i64::from(s.prepared.self_match.get(i).copied().unwrap_or(false));
            let matching = s
                .counts
                .get(i)
                .and_then(|m| m.get(value))
                .map_or(0, |d| d.pods);
            if matching + self_match - min > i64::from(c.max_skew) {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_paths_track_the_minimum() {
        let mut p = CriticalPaths::new();
        for (v, n) in [("a", 3), ("b", 1), ("c", 2)] {
            p.update(v, n);
        }
        assert_eq!(p.min(), 1);
        assert_eq!(p.0[0].0, "b");
        p.update("b", 4);
        assert_eq!((p.0[0].0.as_str(), p.min()), ("c", 2));
        p.update("c", 0);
        assert_eq!((p.0[0].0.as_str(), p.min()), ("c", 0));
    }
}
