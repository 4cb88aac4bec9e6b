//! DefaultPreemption: when no node fits a pod, find a node where evicting lower-priority pods
//! would make it fit, and the fewest, least important pods to evict there (upstream's
//! `defaultpreemption` plugin with the `preemption.Evaluator`).
//!
//! The plugin only decides; the scheduler runtime acts on its [`PostFilterResult`]: it deletes
//! the victims (after marking them with a `DisruptionTarget` condition, see
//! [`DISRUPTION_TARGET`]), clears lower-priority nominations on the node and sets the
//! preemptor's `status.nominatedNodeName`.
//!
//! Steps, as upstream:
//! 1. The pod must be eligible ([`MSG_NEVER`], [`MSG_TERMINATING`]).
//! 2. Only nodes the filters rejected as `Unschedulable` (not `UnschedulableAndUnresolvable`)
//!    are potential nodes. From a random offset, they are dry-run until enough candidates are
//!    found (`minCandidateNodesPercentage` / `minCandidateNodesAbsolute`, and at least one
//!    candidate that violates no PodDisruptionBudget).
//! 3. The candidate with the fewest PDB violations, then the lowest highest victim priority,
//!    the smallest priority sum, the fewest victims, the latest start of its most important
//!    victims, then the first, is nominated.

mod args;
mod victims;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use jiff::Timestamp;
use rayon::prelude::*;

use crate::algorithm::FitError;
use crate::framework::{
    Code, CycleState, Framework, NodeInfo, NodeStatuses, Plugin, PodInfo, PostFilter,
    PostFilterResult, Snapshot, Status,
};

pub use args::DefaultPreemptionArgs;
use args::aggregate;
use victims::{Pdb, select_victims_on_node, start_time};

/// The plugin's name.
pub const NAME: &str = "DefaultPreemption";
/// Prefix of every message the plugin returns.
pub const MESSAGE_PREFIX: &str = "preemption: ";
/// The pod's `preemptionPolicy` is `Never`.
pub const MSG_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
/// An earlier preemption for this pod is still evicting pods on its nominated node.
pub const MSG_TERMINATING: &str = "not eligible due to a terminating pod on the nominated node.";
/// A node has no pod of lower priority than the preemptor.
pub const ERR_NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// A node the filters rejected as unresolvable (or never looked at).
pub const ERR_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// The pod condition type the runtime sets on a victim before deleting it.
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// The `DisruptionTarget` condition's reason for a victim of preemption.
pub const REASON_PREEMPTION_BY_SCHEDULER: &str = "PreemptionByScheduler";

/// The `DisruptionTarget` condition's message for a victim, as upstream.
pub fn disruption_message(scheduler_name: &str) -> String {
    format!("{scheduler_name}: preempting to accommodate a higher priority pod")
}

/// Dry runs are spread over threads only from this many nodes per batch up.
const PARALLEL_THRESHOLD: usize = 16;

/// Evicts lower-priority pods to make room for a pod that fits nowhere.
#[derive(Clone, Debug, Default)]
pub struct DefaultPreemption {
    args: DefaultPreemptionArgs,
}

/// A node where preemption would work, with its victims (most important first).
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub(crate) node: String,
    pub(crate) victims: Vec<Arc<PodInfo>>,
    pub(crate) num_pdb_violations: usize,
}

impl DefaultPreemption {
    /// The plugin with `args`.
    pub fn new(args: DefaultPreemptionArgs) -> DefaultPreemption {
        DefaultPreemption { args }
    }

    /// The registry's factory: decodes and validates `pluginConfig` args.
    pub fn factory(args: Option<&serde_json::Value>) -> Result<Arc<dyn Plugin>, String> {
        Ok(Arc::new(DefaultPreemption::new(
            DefaultPreemptionArgs::from_json(args)?,
        )))
    }

    /// The args in effect.
    pub fn args(&self) -> &DefaultPreemptionArgs {
        &self.args
    }

    /// Upstream's `Evaluator.Preempt` without the API calls; `offset` picks where the dry run
    /// starts among the given number of potential nodes. Messages are without the prefix.
    pub(crate) fn preempt(
        &self,
        framework: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeStatuses,
        offset: impl FnOnce(usize) -> usize,
    ) -> (Option<PostFilterResult>, Status) {
        let snapshot = state.snapshot().clone();
        // 1) Eligibility.
        if let Err(msg) = eligible_to_preempt_others(pod, &snapshot, statuses) {
            return (None, Status::unschedulable(msg));
        }
        if snapshot.nodes.is_empty() {
            return (None, Status::error("no nodes available"));
        }
        // 2) Candidates among the nodes preemption may help.
        let potential: Vec<&Arc<NodeInfo>> = snapshot
            .nodes
            .iter()
            .filter(|n| {
                statuses
                    .get(&n.name)
                    .is_some_and(|s| s.code == Code::Unschedulable)
            })
            .collect();
        let (candidates, mut node_statuses, errors) = if potential.is_empty() {
            (Vec::new(), NodeStatuses::new(), Vec::new())
        } else {
            let pdbs: Vec<Pdb<'_>> = snapshot.pdbs.iter().map(Pdb::new).collect();
            let start = offset(potential.len()) % potential.len();
            let wanted = self.args.num_candidates(potential.len());
            dry_run(framework, state, pod, &potential, &pdbs, start, wanted)
        };
        if candidates.is_empty() {
            if !errors.is_empty() {
                return (None, Status::error(aggregate(&errors)));
            }
            // Every node not dry-run is one preemption cannot help.
            for n in &snapshot.nodes {
                node_statuses
                    .entry(n.name.clone())
                    .or_insert_with(|| Status::unresolvable(ERR_NOT_HELPFUL));
            }
            let fit_error = FitError {
                num_all_nodes: snapshot.nodes.len(),
                statuses: node_statuses,
                ..FitError::default()
            };
            // A result without a node: the pod's own nomination, if any, is to be cleared.
            return (
                Some(PostFilterResult::default()),
                Status::unschedulable(fit_error.message()),
            );
        }
        // 3) The best candidate.
        let best = pick_one_node(&candidates, Timestamp::now());
        let Some(best) = candidates.into_iter().nth(best) else {
            return (
                None,
                Status::unschedulable("no candidate node for preemption"),
            );
        };
        // Lower-priority pods nominated to that node lose the room they were promised.
        let clear_nominations = state
            .nominated_on(&best.node)
            .iter()
            .filter(|p| p.priority < pod.priority && p.uid != pod.uid)
            .cloned()
            .collect();
        (
            Some(PostFilterResult {
                nominated_node: Some(best.node),
                victims: best.victims,
                clear_nominations,
            }),
            Status::success(),
        )
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        Some(self)
    }
}

impl PostFilter for DefaultPreemption {
    /// `(None, Unschedulable)`: not eligible, the pod keeps its nomination.
    /// `(Some(no node), Unschedulable)`: no candidate; the pod's nomination is to be cleared.
    /// `(Some(node and victims), Success)`: evict the victims, nominate the node.
    /// `(None, Error)`: every dry run failed unexpectedly.
    fn post_filter(
        &self,
        framework: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeStatuses,
    ) -> (Option<PostFilterResult>, Status) {
        let (result, status) = self.preempt(framework, state, pod, statuses, |n| {
            rand::random_range(0..n)
        });
        let message = status.message();
        if message.is_empty() {
            return (result, status);
        }
        (
            result,
            Status::new(status.code, format!("{MESSAGE_PREFIX}{message}")),
        )
    }
}

/// Upstream's `PodEligibleToPreemptOthers`: not with `preemptionPolicy: Never`, and not while
/// lower-priority pods on the pod's nominated node are still terminating because of an
/// earlier preemption (unless that node is now unresolvable for the pod).
fn eligible_to_preempt_others(
    pod: &PodInfo,
    snapshot: &Snapshot,
    statuses: &NodeStatuses,
) -> Result<(), &'static str> {
    if pod.spec().preemption_policy.as_deref() == Some("Never") {
        return Err(MSG_NEVER);
    }
    let nominated = pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty());
    let Some(nominated) = nominated else {
        return Ok(());
    };
    // A node without a status was not evaluated: upstream counts it as unresolvable.
    let code = statuses
        .get(nominated)
        .map_or(Code::UnschedulableAndUnresolvable, |s| s.code);
    if code == Code::UnschedulableAndUnresolvable {
        return Ok(());
    }
    if let Some(node) = snapshot.get(nominated)
        && node
            .pods
            .iter()
            .any(|p| p.priority < pod.priority && terminating_by_preemption(p))
    {
        return Err(MSG_TERMINATING);
    }
    Ok(())
}

/// Whether `pod` is being deleted because the scheduler preempted it (deletion started and a
/// true `DisruptionTarget` condition with reason `PreemptionByScheduler`).
fn terminating_by_preemption(pod: &PodInfo) -> bool {
    if pod.pod.metadata.deletion_timestamp.is_none() {
        return false;
    }
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == DISRUPTION_TARGET))
        .is_some_and(|c| {
            c.status == "True" && c.reason.as_deref() == Some(REASON_PREEMPTION_BY_SCHEDULER)
        })
}

/// The dry run's candidates (non-violating first), the statuses of the nodes that are not
/// candidates, and the unexpected errors.
type DryRun = (Vec<Candidate>, NodeStatuses, Vec<String>);

/// Upstream's `DryRunPreemption`: simulates preemption on the potential nodes from `start`
/// round, until `wanted` candidates are found of which at least one violates no PDB. Batches
/// run in parallel; the outcome is the sequential one.
fn dry_run(
    framework: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    potential: &[&Arc<NodeInfo>],
    pdbs: &[Pdb<'_>],
    start: usize,
    wanted: usize,
) -> DryRun {
    let now = Timestamp::now();
    let order: Vec<&Arc<NodeInfo>> = potential[start..]
        .iter()
        .chain(potential[..start].iter())
        .copied()
        .collect();
    let mut non_violating: Vec<Candidate> = Vec::new();
    let mut violating: Vec<Candidate> = Vec::new();
    let mut statuses = NodeStatuses::new();
    let mut errors = Vec::new();
    let simulate = |n: &&Arc<NodeInfo>| select_victims_on_node(framework, state, pod, n, pdbs, now);
    'batches: for batch in order.chunks(wanted.max(PARALLEL_THRESHOLD)) {
        let results: Vec<_> = if batch.len() >= PARALLEL_THRESHOLD {
            batch.par_iter().map(simulate).collect()
        } else {
            batch.iter().map(simulate).collect()
        };
        for (node, result) in batch.iter().zip(results) {
            let status = match result {
                Ok((victims, num_pdb_violations)) if !victims.is_empty() => {
                    let list = if num_pdb_violations == 0 {
                        &mut non_violating
                    } else {
                        &mut violating
                    };
                    // Each list holds at most `wanted` candidates, as upstream's.
                    if list.len() < wanted {
                        list.push(Candidate {
                            node: node.name.clone(),
                            victims,
                            num_pdb_violations,
                        });
                    }
                    if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted
                    {
                        break 'batches;
                    }
                    continue;
                }
                Ok(_) => Status::error(format!(
                    "expected at least one victim pod on node {:?}",
                    node.name
                )),
                Err(status) => status,
            };
            if status.code == Code::Error {
                errors.push(status.message());
            }
            statuses.insert(node.name.clone(), status);
        }
    }
    non_violating.append(&mut violating);
    (non_violating, statuses, errors)
}

/// Upstream's `pickOneNodeForPreemption`: the index of the candidate with the fewest PDB
/// violations, then the lowest priority of its most important victim, then the smallest sum of
/// victim priorities, then the fewest victims, then the latest start among its most important
/// victims; the first on a tie. `now` stands for the start of pods not started.
pub(crate) fn pick_one_node(candidates: &[Candidate], now: Timestamp) -> usize {
    type ScoreFn = fn(&Candidate, Timestamp) -> i128;
    let scores: [ScoreFn; 5] = [
        |c, _| -(c.num_pdb_violations as i128),
        |c, _| -i128::from(c.victims.first().map_or(i32::MIN, |p| p.priority)),
        // Priorities are shifted to be non-negative, so that more pods never sum lower.
        |c, _| {
            -c.victims
                .iter()
                .map(|p| i128::from(p.priority) + i128::from(i32::MAX) + 1)
                .sum::<i128>()
        },
        |c, _| -(c.victims.len() as i128),
        |c, now| {
            earliest_start_of_most_important(&c.victims, now)
                .map_or(i128::MIN, |t| t.as_nanosecond())
        },
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for score in scores {
        if remaining.len() <= 1 {
            break;
        }
        let values: Vec<i128> = remaining
            .iter()
            .map(|&i| score(&candidates[i], now))
            .collect();
        let Some(best) = values.iter().max().copied() else {
            break;
        };
        remaining = remaining
            .into_iter()
            .zip(values)
            .filter(|(_, v)| *v == best)
            .map(|(i, _)| i)
            .collect();
    }
    remaining.first().copied().unwrap_or(0)
}

/// The earliest start among the victims of the highest priority (upstream's
/// `GetEarliestPodStartTime`).
fn earliest_start_of_most_important(victims: &[Arc<PodInfo>], now: Timestamp) -> Option<Timestamp> {
    let top = victims.iter().map(|p| p.priority).max()?;
    victims
        .iter()
        .filter(|p| p.priority == top)
        .map(|p| start_time(p, now))
        .min()
}
