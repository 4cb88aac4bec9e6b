//! A StatefulSet's status (upstream's `computeReplicaStatus`, `completeRollingUpdate` and
//! `inconsistentStatus`): counts of created, ready, available, current and updated pods, the
//! two revisions, the collision count and the observed generation.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;

use super::identity::revision;
use crate::replicaset::pods::availability;

/// The pod has a phase (the apiserver has it).
pub fn is_created(pod: &Pod) -> bool {
    phase(pod).is_some_and(|p| !p.is_empty())
}

/// The pod's phase.
pub fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

/// Being deleted.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Running with a True Ready condition.
pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == Some("Running") && crate::replicaset::pods::is_ready(pod)
}

/// Ready for at least `min_ready_seconds` at `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    availability(pod, min_ready_seconds, now).is_ok()
}

/// Upstream's `isUnavailable`: not available, or being deleted.
pub fn is_unavailable(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    !is_available(pod, min_ready_seconds, now) || is_terminating(pod)
}

/// The counts of `pods` into `status` (replacing them).
pub fn count(
    status: &mut StatefulSetStatus,
    pods: &[&Pod],
    min_ready_seconds: i32,
    now: Timestamp,
) {
    let (current, update) = (
        status.current_revision.clone().unwrap_or_default(),
        status.update_revision.clone().unwrap_or_default(),
    );
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for pod in pods {
        if is_created(pod) {
            replicas += 1;
        }
        if is_running_and_ready(pod) {
            ready += 1;
            if is_available(pod, min_ready_seconds, now) {
                available += 1;
            }
        }
        if is_created(pod) && !is_terminating(pod) {
            let r = revision(pod);
            if r == current {
                cur += 1;
            }
            if r == update {
                upd += 1;
            }
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(cur);
    status.updated_replicas = Some(upd);
}

/// Counts `pods` (the cache's, `Arc`ed) into `status`.
pub fn count_arcs(
    status: &mut StatefulSetStatus,
    pods: &[Arc<Pod>],
    min_ready: i32,
    now: Timestamp,
) {
    let refs: Vec<&Pod> = pods.iter().map(|p| &**p).collect();
    count(status, &refs, min_ready, now);
}

/// A RollingUpdate whose pods are all updated and ready is complete: the update revision
/// becomes current.
pub fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let rolling = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if rolling
        && status.updated_replicas.unwrap_or(0) == status.replicas
        && status.ready_replicas.unwrap_or(0) == status.replicas
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Whether `status` differs from what the set shows (so it must be written).
pub fn differs(set: &StatefulSet, status: &StatefulSetStatus) -> bool {
    let Some(old) = set.status.as_ref() else {
        return true;
    };
    old.observed_generation.is_none()
        || status.observed_generation > old.observed_generation
        || status.replicas != old.replicas
        || n(status.ready_replicas) != n(old.ready_replicas)
        || n(status.available_replicas) != n(old.available_replicas)
        || n(status.current_replicas) != n(old.current_replicas)
        || n(status.updated_replicas) != n(old.updated_replicas)
        || status.current_revision != old.current_revision
        || status.update_revision != old.update_revision
        || n(status.collision_count) != n(old.collision_count)
}

/// The merge patch writing `status` (zero counts omitted, as upstream's JSON).
pub fn patch(status: &StatefulSetStatus) -> serde_json::Value {
    let opt = |v: Option<i32>| v.filter(|v| *v != 0);
    serde_json::json!({"status": {
        "observedGeneration": status.observed_generation,
        "replicas": status.replicas,
        "readyReplicas": opt(status.ready_replicas),
        "availableReplicas": opt(status.available_replicas),
        "currentReplicas": opt(status.current_replicas),
        "updatedReplicas": opt(status.updated_replicas),
        "currentRevision": status.current_revision,
        "updateRevision": status.update_revision,
        "collisionCount": status.collision_count,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(rev: &str, phase: &str, ready: bool, deleting: bool) -> Pod {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": {"controller-revision-hash": rev}},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap();
        if deleting {
            p.metadata.deletion_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
            );
        }
        p
    }

    #[test]
    fn counts_and_completion() {
        let mut s = StatefulSetStatus {
            current_revision: Some("a".into()),
            update_revision: Some("b".into()),
            ..Default::default()
        };
        let pods = [
            pod("a", "Running", true, false),
            pod("b", "Running", true, false),
            pod("b", "Pending", false, false),
            pod("a", "Running", true, true),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        count(&mut s, &refs, 0, Timestamp::now());
        assert_eq!(s.replicas, 4);
        assert_eq!(s.ready_replicas, Some(3));
        assert_eq!(s.available_replicas, Some(3));
        assert_eq!(
            s.current_replicas,
            Some(1),
            "the terminating pod is not current"
        );
        assert_eq!(s.updated_replicas, Some(2));
        let set = StatefulSet::default();
        complete_rolling_update(&set, &mut s);
        assert_eq!(s.current_revision.as_deref(), Some("a"), "not complete");
        let mut done = StatefulSetStatus {
            replicas: 2,
            ready_replicas: Some(2),
            updated_replicas: Some(2),
            current_replicas: Some(0),
            current_revision: Some("a".into()),
            update_revision: Some("b".into()),
            ..Default::default()
        };
        complete_rolling_update(&set, &mut done);
        assert_eq!(done.current_revision.as_deref(), Some("b"));
        assert_eq!(done.current_replicas, Some(2));
    }
}
