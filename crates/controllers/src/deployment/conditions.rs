//! Deployment conditions with upstream's types, reasons and update rules: setting a condition
//! with the same status and reason is a no-op; a new reason with the same status keeps the
//! transition time; the replaced condition moves to the end.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Condition types.
pub mod types {
    /// Enough pods are available.
    pub const AVAILABLE: &str = "Available";
    /// The rollout is making progress (or has failed to).
    pub const PROGRESSING: &str = "Progressing";
    /// A ReplicaSet could not create or delete pods.
    pub const REPLICA_FAILURE: &str = "ReplicaFailure";
}

/// Upstream's condition reasons (and the matching event reasons).
pub mod reasons {
    /// A new ReplicaSet was created.
    pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
    /// An existing ReplicaSet matches the template.
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    /// The rollout moved on.
    pub const RS_UPDATED: &str = "ReplicaSetUpdated";
    /// The rollout finished.
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    /// The rollout made no progress within progressDeadlineSeconds.
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    /// The new ReplicaSet could not be created.
    pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
    /// Paused.
    pub const PAUSED: &str = "DeploymentPaused";
    /// Resumed.
    pub const RESUMED: &str = "DeploymentResumed";
    /// At least replicas − maxUnavailable pods are available.
    pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
    /// Fewer than replicas − maxUnavailable pods are available.
    pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
}

/// Now, to the second (the precision conditions have on the wire), so a condition compares
/// equal to itself read back.
pub fn now_seconds(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// A condition stamped `now` (update and transition time).
pub fn new(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(now_seconds(now)),
        last_transition_time: Some(now_seconds(now)),
    }
}

/// The condition of `type_`.
pub fn get<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Sets `c` (see the module doc for the rules).
pub fn set(status: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(current) = get(status, &c.type_) {
        if current.status == c.status && current.reason == c.reason {
            return;
        }
        if current.status == c.status {
            c.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove(status, &c.type_);
    status.conditions.get_or_insert_with(Vec::new).push(c);
}

/// Removes the condition of `type_`.
pub fn remove(status: &mut DeploymentStatus, type_: &str) {
    if let Some(cs) = status.conditions.as_mut() {
        cs.retain(|c| c.type_ != type_);
        if cs.is_empty() {
            status.conditions = None;
        }
    }
}

/// The ReplicaFailure conditions of the new ReplicaSet, else of any other, as Deployment
/// conditions.
pub fn replica_failures(all: &[&ReplicaSet], new: Option<&ReplicaSet>) -> Vec<DeploymentCondition> {
    let of = |rs: &ReplicaSet| -> Vec<DeploymentCondition> {
        rs.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.type_ == types::REPLICA_FAILURE)
            .map(|c| DeploymentCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_update_time: c.last_transition_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            })
            .collect()
    };
    if let Some(new) = new {
        let own = of(new);
        if !own.is_empty() {
            return own;
        }
    }
    all.iter().flat_map(|rs| of(rs)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_status_and_reason_is_a_no_op_and_a_new_reason_keeps_the_transition_time() {
        let t0 = Timestamp::from_second(1000).unwrap();
        let t1 = Timestamp::from_second(2000).unwrap();
        let mut s = DeploymentStatus::default();
        set(
            &mut s,
            new(
                types::PROGRESSING,
                "True",
                reasons::NEW_RS_CREATED,
                "a".into(),
                t0,
            ),
        );
        set(
            &mut s,
            new(
                types::AVAILABLE,
                "False",
                reasons::MIN_UNAVAILABLE,
                "b".into(),
                t0,
            ),
        );
        set(
            &mut s,
            new(
                types::PROGRESSING,
                "True",
                reasons::NEW_RS_CREATED,
                "x".into(),
                t1,
            ),
        );
        assert_eq!(
            get(&s, types::PROGRESSING).unwrap().message.as_deref(),
            Some("a")
        );
        set(
            &mut s,
            new(
                types::PROGRESSING,
                "True",
                reasons::RS_UPDATED,
                "c".into(),
                t1,
            ),
        );
        let p = get(&s, types::PROGRESSING).unwrap();
        assert_eq!(p.last_transition_time, Some(Time(t0)));
        assert_eq!(p.last_update_time, Some(Time(t1)));
        let order: Vec<&str> = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(
            order,
            [types::AVAILABLE, types::PROGRESSING],
            "replaced goes last"
        );
        set(
            &mut s,
            new(
                types::PROGRESSING,
                "False",
                reasons::TIMED_OUT,
                "d".into(),
                t1,
            ),
        );
        assert_eq!(
            get(&s, types::PROGRESSING).unwrap().last_transition_time,
            Some(Time(t1))
        );
        remove(&mut s, types::PROGRESSING);
        remove(&mut s, types::AVAILABLE);
        assert!(s.conditions.is_none());
    }
}
