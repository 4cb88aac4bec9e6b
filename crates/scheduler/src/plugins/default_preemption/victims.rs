//! Choosing victims on one node (upstream's `SelectVictimsOnNode`): remove every lower-priority
//! pod, check the preemptor fits, then give back as many pods as still leave room for it —
//! PDB-protected ones first, most important first.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rkube_api::selector::LabelSelector;

use crate::framework::{CycleState, Framework, NodeInfo, PodInfo, Status};

use super::ERR_NO_VICTIMS;

/// A PodDisruptionBudget with its selector parsed once per preemption attempt.
pub(crate) struct Pdb<'a> {
    namespace: &'a str,
    /// `None`: the selector is absent, empty or invalid — it protects no pod.
    selector: Option<LabelSelector>,
    disruptions_allowed: i32,
    disrupted_pods: Option<&'a BTreeMap<String, Time>>,
}

impl<'a> Pdb<'a> {
    /// Parses `pdb`'s selector. An absent or empty selector matches nothing, as does an invalid
    /// one (upstream skips PDBs whose selector fails to convert).
    pub(crate) fn new(pdb: &'a PodDisruptionBudget) -> Pdb<'a> {
        let selector = pdb
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| LabelSelector::from_meta(s).ok())
            .filter(|s| !s.is_everything() && !s.is_nothing());
        let status = pdb.status.as_ref();
        Pdb {
            namespace: pdb.metadata.namespace.as_deref().unwrap_or_default(),
            selector,
            disruptions_allowed: status.map_or(0, |s| s.disruptions_allowed),
            disrupted_pods: status.and_then(|s| s.disrupted_pods.as_ref()),
        }
    }
}

/// When `pod` started (`status.startTime`), or `now` if it has not (upstream's
/// `GetPodStartTime`).
pub(crate) fn start_time(pod: &PodInfo, now: Timestamp) -> Timestamp {
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map_or(now, |t| t.0)
}

/// Upstream's `MoreImportantPod` as an ordering (more important first): higher priority,
/// then the one that started earlier.
pub(crate) fn importance(a: &PodInfo, b: &PodInfo, now: Timestamp) -> Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| start_time(a, now).cmp(&start_time(b, now)))
}

/// Splits `pods` (order kept) into those whose eviction would violate a PDB and the rest
/// (upstream's `filterPodsWithPDBViolation`). Each matching PDB's budget is spent in order, so
/// the later pods of a PDB with one disruption allowed are the violating ones.
pub(crate) fn split_by_pdb_violation(
    pods: Vec<Arc<PodInfo>>,
    pdbs: &[Pdb<'_>],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let mut violating = Vec::new();
    let mut non_violating = Vec::new();
    for pod in pods {
        let mut violated = false;
        // A pod without labels matches no PDB.
        if !pod.labels.is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != pod.namespace {
                    continue;
                }
                let Some(selector) = &pdb.selector else {
                    continue;
                };
                if !selector.matches(&pod.labels) {
                    continue;
                }
                // Already counted by the disruption controller: not a new violation.
                if pdb
                    .disrupted_pods
                    .is_some_and(|d| d.contains_key(&pod.name))
                {
                    continue;
                }
                allowed[i] = allowed[i].saturating_sub(1);
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(pod);
        } else {
            non_violating.push(pod);
        }
    }
    (violating, non_violating)
}

/// The victims on one node and how many of them violate a PDB.
pub(crate) type Victims = (Vec<Arc<PodInfo>>, usize);

/// Simulates preemption on a copy of `node` with a copy of `state`: the smallest set of
/// lower-priority pods (most important first) whose removal lets `pod` pass every filter, and
/// how many of them violate a PDB. Errs with the node's status when no victim set helps.
pub(crate) fn select_victims_on_node(
    framework: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    pdbs: &[Pdb<'_>],
    now: Timestamp,
) -> Result<Victims, Status> {
    let mut state = state.clone();
    let mut node = node.clone();
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    for victim in &potential {
        remove(framework, &mut state, pod, victim, &mut node)?;
    }
    // Nothing can be removed: the node's state did not change, so it cannot help.
    if potential.is_empty() {
        return Err(Status::unresolvable(ERR_NO_VICTIMS));
    }
    // Even an empty node (of lower-priority pods) does not fit: not a candidate. Affinity of
    // the preemptor to a victim is not considered, as upstream.
    let status = framework.run_filters(&state, pod, &node);
    if !status.is_success() {
        return Err(status);
    }
    potential.sort_by(|a, b| importance(a, b, now));
    let (violating, non_violating) = split_by_pdb_violation(potential, pdbs);
    let reprieve_both = !violating.is_empty() && !non_violating.is_empty();
    let mut victims = Vec::new();
    let mut num_violating = 0;
    for (is_violating, candidate) in violating
        .into_iter()
        .map(|p| (true, p))
        .chain(non_violating.into_iter().map(|p| (false, p)))
    {
        // Give the pod back; keep it only if the preemptor still fits.
        node.add_pod(candidate.clone());
        let status = framework.run_pre_filter_add_pod(&mut state, pod, &candidate, &node);
        if !status.is_success() {
            return Err(as_error(status));
        }
        if !framework.run_filters(&state, pod, &node).is_success() {
            remove(framework, &mut state, pod, &candidate, &mut node)?;
            if is_violating {
                num_violating += 1;
            }
            victims.push(candidate);
        }
    }
    // Keep the victims ordered most important first (the node choice reads the first).
    if reprieve_both {
        victims.sort_by(|a, b| importance(a, b, now));
    }
    Ok((victims, num_violating))
}

fn remove(
    framework: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    victim: &Arc<PodInfo>,
    node: &mut NodeInfo,
) -> Result<(), Status> {
    if !node.remove_pod(&victim.uid) {
        return Err(Status::error(format!(
            "no corresponding pod {} in pods of node {}",
            victim.name, node.name
        )));
    }
    let status = framework.run_pre_filter_remove_pod(state, pod, victim, node);
    if status.is_success() {
        Ok(())
    } else {
        Err(as_error(status))
    }
}

/// A failed PreFilter extension is an internal error (upstream's `AsStatus(status.AsError())`).
fn as_error(status: Status) -> Status {
    Status::error(status.message()).with_plugin(status.plugin)
}
