//! Rollout progress (upstream's `syncRolloutStatus`): the status with the Progressing
//! condition brought up to date — NewReplicaSetAvailable once complete, ReplicaSetUpdated
//! whenever progress is seen (refreshing its update time), ProgressDeadlineExceeded once no
//! progress was seen for progressDeadlineSeconds — and ReplicaSet failures surfaced. When
//! nothing changed, when to look again so a stuck rollout times out on time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};

use super::conditions::{self, reasons, types};
use super::status::{calculate, complete, progress_deadline, progressing, timed_out};

fn name_of(rs: &ReplicaSet) -> &str {
    rs.metadata.name.as_deref().unwrap_or_default()
}

/// The status a rollout sync writes.
pub fn rollout_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let mut status = calculate(d, all, new, now);
    let has_deadline = progress_deadline(d).is_some();
    if !has_deadline {
        conditions::remove(&mut status, types::PROGRESSING);
    }
    let current = d
        .status
        .as_ref()
        .and_then(|s| conditions::get(s, types::PROGRESSING))
        .cloned();
    let already_complete = status.replicas == status.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some(reasons::NEW_RS_AVAILABLE));
    let d_name = d.metadata.name.as_deref().unwrap_or_default();
    let subject = |verb: &str| match new {
        Some(rs) => format!("ReplicaSet \"{}\" {verb}.", name_of(rs)),
        None => format!("Deployment \"{d_name}\" {verb}."),
    };
    if has_deadline && !already_complete {
        if complete(d, &status) {
            let c = conditions::new(
                types::PROGRESSING,
                "True",
                reasons::NEW_RS_AVAILABLE,
                subject("has successfully progressed"),
                now,
            );
            conditions::set(&mut status, c);
        } else if progressing(d, &status) {
            let mut c = conditions::new(
                types::PROGRESSING,
                "True",
                reasons::RS_UPDATED,
                subject("is progressing"),
                now,
            );
            // Progress refreshes the update time even with an unchanged reason.
            if let Some(cur) = &current {
                if cur.status == "True" {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                conditions::remove(&mut status, types::PROGRESSING);
            }
            conditions::set(&mut status, c);
        } else if timed_out(d, &status, now) {
            let c = conditions::new(
                types::PROGRESSING,
                "False",
                reasons::TIMED_OUT,
                subject("has timed out progressing"),
                now,
            );
            conditions::set(&mut status, c);
        }
    }
    match conditions::replica_failures(all, new).into_iter().next() {
        Some(c) => conditions::set(&mut status, c),
        None => conditions::remove(&mut status, types::REPLICA_FAILURE),
    }
    status
}

/// When to check a rollout that shows no progress again: when its Progressing condition's
/// deadline passes (`None`: complete, timed out, or no deadline).
pub fn requeue_stuck(d: &Deployment, new: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
    let deadline = progress_deadline(d)?;
    let current = conditions::get(d.status.as_ref()?, types::PROGRESSING)?;
    if complete(d, new) || current.reason.as_deref() == Some(reasons::TIMED_OUT) {
        return None;
    }
    let at = current.last_update_time.as_ref()?.0 + SignedDuration::from_secs(deadline.into());
    let after = at.duration_since(now);
    // Under a second: soon (the condition's times are whole seconds, so a little past it).
    Some(if after < SignedDuration::from_secs(1) {
        Duration::from_millis(500)
    } else {
        Duration::try_from(after).unwrap_or(Duration::from_secs(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(status: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 2},
            "spec": {"replicas": 2, "progressDeadlineSeconds": 10, "selector": {},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {}},
            "status": status
        }))
        .unwrap()
    }

    fn rs(name: &str, replicas: i32, available: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": replicas, "readyReplicas": available, "availableReplicas": available}
        }))
        .unwrap()
    }

    fn progressing_cond(s: &DeploymentStatus) -> (String, String) {
        let c = conditions::get(s, types::PROGRESSING).unwrap();
        (c.status.clone(), c.reason.clone().unwrap())
    }

    #[test]
    fn complete_then_progressing_then_timed_out() {
        let now = Timestamp::from_second(10_000).unwrap();
        let new = rs("web-new", 2, 2);
        let d = deployment(json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1}));
        let s = rollout_status(&d, &[&new], Some(&new), now);
        assert_eq!(
            progressing_cond(&s),
            ("True".into(), reasons::NEW_RS_AVAILABLE.into())
        );
        assert_eq!(
            conditions::get(&s, types::PROGRESSING)
                .unwrap()
                .message
                .as_deref(),
            Some("ReplicaSet \"web-new\" has successfully progressed.")
        );
        assert_eq!(
            (
                s.updated_replicas,
                s.available_replicas,
                s.unavailable_replicas
            ),
            (Some(2), Some(2), None)
        );

        // An old pod left and a new one unavailable: progress relative to the old status.
        let old = rs("web-old", 1, 1);
        let new = rs("web-new", 2, 1);
        let d = deployment(json!({"replicas": 3, "updatedReplicas": 1, "conditions": [
            {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
             "lastUpdateTime": "1970-01-01T02:46:00Z", "lastTransitionTime": "1970-01-01T02:40:00Z"}]}));
        let s = rollout_status(&d, &[&old, &new], Some(&new), now);
        let c = conditions::get(&s, types::PROGRESSING).unwrap();
        assert_eq!(c.reason.as_deref(), Some(reasons::RS_UPDATED));
        assert_eq!(c.last_update_time.as_ref().unwrap().0, now, "refreshed");
        assert_eq!(
            c.last_transition_time.as_ref().unwrap().0.as_second(),
            9600,
            "kept"
        );

        // No progress since the condition's update 400 s ago with a 10 s deadline.
        let d = deployment(
            json!({"replicas": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
            "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
             "lastUpdateTime": "1970-01-01T02:40:00Z", "lastTransitionTime": "1970-01-01T02:40:00Z"}]}),
        );
        let s = rollout_status(&d, &[&old, &new], Some(&new), now);
        assert_eq!(
            progressing_cond(&s),
            ("False".into(), reasons::TIMED_OUT.into())
        );
        assert_eq!(
            conditions::get(&s, types::AVAILABLE)
                .unwrap()
                .reason
                .as_deref(),
            Some(reasons::MIN_AVAILABLE),
            "2 available of 2 required (maxUnavailable 0)"
        );
    }

    #[test]
    fn a_stuck_rollout_is_looked_at_when_its_deadline_passes() {
        let now = Timestamp::from_second(10_000).unwrap();
        let d = deployment(
            json!({"replicas": 1, "conditions": [{"type": "Progressing", "status": "True",
            "reason": "NewReplicaSetCreated", "lastUpdateTime": "1970-01-01T02:46:36Z"}]}),
        );
        let s = DeploymentStatus::default();
        assert_eq!(requeue_stuck(&d, &s, now), Some(Duration::from_secs(6)));
        let timed: Deployment = deployment(json!({"conditions": [{"type": "Progressing",
            "status": "False", "reason": "ProgressDeadlineExceeded"}]}));
        assert_eq!(requeue_stuck(&timed, &s, now), None);
    }
}
