//! The Deployment's status computed from its ReplicaSets (upstream's `calculateStatus`), and
//! the predicates the rollout decides with: complete, progressing, timed out.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};

use super::conditions::{self, reasons, types};
use super::fenceposts::{desired, max_unavailable};
use super::replicasets::{actual, sum_actual, sum_available, sum_ready, sum_replicas};

/// Zero counts as absent (upstream omits them on the wire), so statuses compare by meaning.
pub fn normalized(status: &DeploymentStatus) -> DeploymentStatus {
    let nz = |v: Option<i32>| v.filter(|n| *n != 0);
    DeploymentStatus {
        available_replicas: nz(status.available_replicas),
        collision_count: status.collision_count,
        conditions: status.conditions.clone().filter(|c| !c.is_empty()),
        observed_generation: status.observed_generation.filter(|g| *g != 0),
        ready_replicas: nz(status.ready_replicas),
        replicas: nz(status.replicas),
        terminating_replicas: status.terminating_replicas,
        unavailable_replicas: nz(status.unavailable_replicas),
        updated_replicas: nz(status.updated_replicas),
    }
}

/// The current status of `d` (`d`'s existing conditions carried over, Available recomputed).
pub fn calculate(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let available = sum_available(all.iter().copied());
    let total = sum_replicas(all.iter().copied());
    let unavailable = (total - available).max(0);
    let current = d.status.clone().unwrap_or_default();
    let mut status = normalized(&DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum_actual(all.iter().copied())),
        updated_replicas: Some(new.map_or(0, actual)),
        ready_replicas: Some(sum_ready(all.iter().copied())),
        available_replicas: Some(available),
        unavailable_replicas: Some(unavailable),
        collision_count: current.collision_count,
        conditions: current.conditions.clone(),
        terminating_replicas: None,
    });
    let c = if available >= desired(d) - max_unavailable(d) {
        conditions::new(
            types::AVAILABLE,
            "True",
            reasons::MIN_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        conditions::new(
            types::AVAILABLE,
            "False",
            reasons::MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    conditions::set(&mut status, c);
    status
}

fn count(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Every desired pod is updated and available, no old pod remains, and the status describes
/// the current generation.
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let n = desired(d);
    count(s.updated_replicas) == n
        && count(s.replicas) == n
        && count(s.available_replicas) == n
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Whether `new` shows progress over `d`'s current status: more updated, ready or available
/// pods, or fewer old ones.
pub fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_old = count(old.replicas) - count(old.updated_replicas);
    let new_old = count(new.replicas) - count(new.updated_replicas);
    count(new.updated_replicas) > count(old.updated_replicas)
        || new_old < old_old
        || count(new.ready_replicas) > count(old.ready_replicas)
        || count(new.available_replicas) > count(old.available_replicas)
}

/// `progressDeadlineSeconds`, unless unset or "never" (MaxInt32).
pub fn progress_deadline(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()?
        .progress_deadline_seconds
        .filter(|s| *s != i32::MAX)
}

/// Whether the rollout has made no progress for longer than its deadline at `now`.
pub fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(deadline) = progress_deadline(d) else {
        return false;
    };
    let Some(c) = conditions::get(s, types::PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(reasons::NEW_RS_AVAILABLE) => false,
        Some(reasons::TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|from| from.0 + SignedDuration::from_secs(deadline.into()) < now),
    }
}
