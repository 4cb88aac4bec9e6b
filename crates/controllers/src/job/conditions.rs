//! Job conditions as upstream sets them: reasons, messages, and the rule that a condition is
//! replaced (with new times) only when its status, reason or message changes.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Condition types.
pub mod types {
    /// The Job finished successfully.
    pub const COMPLETE: &str = "Complete";
    /// The Job failed.
    pub const FAILED: &str = "Failed";
    /// The Job is suspended.
    pub const SUSPENDED: &str = "Suspended";
    /// The Job will fail once its pods are gone (interim).
    pub const FAILURE_TARGET: &str = "FailureTarget";
    /// The Job will complete once its pods are gone (interim).
    pub const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
}

/// Upstream's reasons and messages.
pub mod reasons {
    /// Too many failed pods.
    pub const BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
    /// Message of [`BACKOFF_LIMIT_EXCEEDED`].
    pub const BACKOFF_LIMIT_MESSAGE: &str = "Job has reached the specified backoff limit";
    /// activeDeadlineSeconds passed.
    pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
    /// Message of [`DEADLINE_EXCEEDED`].
    pub const DEADLINE_MESSAGE: &str = "Job was active longer than specified deadline";
    /// A FailJob rule of the pod failure policy matched.
    pub const POD_FAILURE_POLICY: &str = "PodFailurePolicy";
    /// All completions reached.
    pub const COMPLETIONS_REACHED: &str = "CompletionsReached";
    /// Message of [`COMPLETIONS_REACHED`].
    pub const COMPLETIONS_MESSAGE: &str = "Reached expected number of succeeded pods";
    /// Suspended condition True.
    pub const JOB_SUSPENDED: &str = "JobSuspended";
    /// Suspended condition False after a resume.
    pub const JOB_RESUMED: &str = "JobResumed";
}

/// A new condition at `now`.
pub fn new(type_: &str, status: &str, reason: &str, message: &str, now: Timestamp) -> JobCondition {
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: (!reason.is_empty()).then(|| reason.into()),
        message: (!message.is_empty()).then(|| message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of `type_`, if any.
pub fn find<'a>(status: &'a JobStatus, type_: &str) -> Option<&'a JobCondition> {
    status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is True.
pub fn is_true(status: &JobStatus, type_: &str) -> bool {
    find(status, type_).is_some_and(|c| c.status == "True")
}

/// Whether the Job is finished (Complete or Failed is True).
pub fn is_finished(status: &JobStatus) -> bool {
    is_true(status, types::COMPLETE) || is_true(status, types::FAILED)
}

/// Sets the condition of `type_` to `status`/`reason`/`message`: replaces an existing one that
/// differs, adds a missing one unless it would be False. Whether anything changed.
pub fn ensure(
    js: &mut JobStatus,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let list = js.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = list.iter_mut().find(|c| c.type_ == type_) {
        let same = c.status == status
            && c.reason.as_deref().unwrap_or_default() == reason
            && c.message.as_deref().unwrap_or_default() == message;
        if same {
            return false;
        }
        *c = new(type_, status, reason, message, now);
        return true;
    }
    if status == "False" {
        return false;
    }
    list.push(new(type_, status, reason, message, now));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_replaces_only_on_change_and_never_adds_false() {
        let t0: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2024-01-01T00:01:00Z".parse().unwrap();
        let mut s = JobStatus::default();
        assert!(!ensure(
            &mut s,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            t0
        ));
        assert!(s.conditions.as_ref().unwrap().is_empty());
        assert!(ensure(
            &mut s,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            t0
        ));
        assert!(!ensure(
            &mut s,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
            t1
        ));
        assert!(ensure(
            &mut s,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
            t1
        ));
        let c = find(&s, "Suspended").unwrap();
        assert_eq!(
            (
                c.status.as_str(),
                c.last_transition_time.as_ref().unwrap().0
            ),
            ("False", t1)
        );
        assert!(!is_finished(&s));
    }
}
