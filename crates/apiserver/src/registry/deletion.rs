//! What a delete does to an object before (or instead of) removing it, as upstream's generic
//! store: the garbage-collection finalizers `orphan` and `foregroundDeletion` chosen from the
//! `DeleteOptions` and each kind's default policy, the graceful-deletion grace period of pods,
//! and the rule that an object being deleted goes once its last finalizer does.

use super::DeleteOptions;
use super::meta::{finalizers, meta_str};
use rkube_api::resources::ResourceInfo;
use serde_json::Value;

/// The finalizer that makes the garbage collector orphan an owner's dependents.
pub const ORPHAN: &str = "orphan";
/// The finalizer that makes the garbage collector delete an owner's dependents first.
pub const FOREGROUND: &str = "foregroundDeletion";

/// Upstream's warning when a `batch/v1` Job is deleted with its default (orphaning) policy.
pub const JOB_ORPHAN_WARNING: &str = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

/// What happens to a kind's dependents when a delete names no policy
/// (upstream's `DefaultGarbageCollectionPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPolicy {
    /// Dependents are deleted (in the background unless asked otherwise).
    DeleteDependents,
    /// Dependents are orphaned: kept, without the owner reference.
    OrphanDependents,
    /// The kind takes no part in garbage collection: no finalizers are ever added.
    Unsupported,
}

/// The default policy of `info` as requested (upstream decides some by the request's version).
pub fn default_policy(info: &ResourceInfo) -> GcPolicy {
    match (info.group, info.version, info.kind) {
        // Kept for compatibility with clients that predate server-side cascading deletion.
        ("", "v1", "ReplicationController") | ("batch", "v1", "Job") => GcPolicy::OrphanDependents,
        ("", _, "Event") | ("events.k8s.io", _, "Event") => GcPolicy::Unsupported,
        _ => GcPolicy::DeleteDependents,
    }
}

/// The warning a delete of `info` with `opts` gets, if any.
pub fn warning(info: &ResourceInfo, opts: &DeleteOptions) -> Option<&'static str> {
    let defaulted = opts.propagation_policy.is_none() && opts.orphan_dependents.is_none();
    (defaulted && info.group == "batch" && info.kind == "Job" && info.version == "v1")
        .then_some(JOB_ORPHAN_WARNING)
}

fn should_orphan(policy: GcPolicy, opts: &DeleteOptions, existing: &[String]) -> bool {
    if policy == GcPolicy::Unsupported {
        return false;
    }
    if let Some(orphan) = opts.orphan_dependents {
        return orphan;
    }
    if let Some(p) = &opts.propagation_policy {
        return p == "Orphan";
    }
    // A finalizer already on the object decides over the kind's default.
    for f in existing {
        match f.as_str() {
            ORPHAN => return true,
            FOREGROUND => return false,
            _ => {}
        }
    }
    policy == GcPolicy::OrphanDependents
}

fn should_delete_in_foreground(
    policy: GcPolicy,
    opts: &DeleteOptions,
    existing: &[String],
) -> bool {
    if policy == GcPolicy::Unsupported || opts.orphan_dependents.is_some() {
        return false;
    }
    if let Some(p) = &opts.propagation_policy {
        return p == "Foreground";
    }
    for f in existing {
        match f.as_str() {
            FOREGROUND => return true,
            ORPHAN => return false,
            _ => {}
        }
    }
    false
}

/// The finalizers `obj` must carry for this delete, or `None` when they already are right:
/// both garbage-collection finalizers are taken off, then the one the options (or the object's
/// existing finalizers, or the kind's default) ask for is put back.
pub fn gc_finalizers(
    info: &ResourceInfo,
    obj: &Value,
    opts: &DeleteOptions,
) -> Option<Vec<String>> {
    let policy = default_policy(info);
    let existing = finalizers(obj);
    let mut wanted: Vec<String> = existing
        .iter()
        .filter(|f| *f != ORPHAN && *f != FOREGROUND)
        .cloned()
        .collect();
    if should_orphan(policy, opts, &existing) {
        wanted.push(ORPHAN.into());
    }
    if should_delete_in_foreground(policy, opts, &existing) {
        wanted.push(FOREGROUND.into());
    }
    let same = {
        let mut a = existing.clone();
        let mut b = wanted.clone();
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a == b
    };
    (!same).then_some(wanted)
}

/// Graceful deletion (pods only, as upstream's `BeforeDelete` with the pod strategy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grace {
    /// The kind is not deleted gracefully, or a pending graceful deletion ended at 0 seconds:
    /// finalizers alone decide.
    NotGraceful,
    /// A graceful deletion is already under way and this request does not shorten it:
    /// nothing changes (not even finalizers).
    Pending,
    /// Deletion with this many seconds of grace from `deletionTimestamp` (set or shortened).
    Graceful {
        /// The new `deletionTimestamp`.
        at: jiff::Timestamp,
        /// The new `deletionGracePeriodSeconds`.
        seconds: i64,
    },
}

fn is_pod(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.kind == "Pod"
}

/// A pod's grace period for this delete: the one asked for, else its spec's; none when it
/// never ran on a node or has finished (upstream's `CheckGracefulDelete`).
fn pod_grace(obj: &Value, opts: &DeleteOptions) -> i64 {
    let unscheduled = obj["spec"]["nodeName"].as_str().is_none_or(str::is_empty);
    let finished = matches!(
        obj["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if unscheduled || finished {
        return 0;
    }
    requested_grace(opts)
        .or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30)
        .max(0)
}

/// A negative grace period asked for counts as one second (upstream).
fn requested_grace(opts: &DeleteOptions) -> Option<i64> {
    opts.grace_period_seconds.map(|g| if g < 0 { 1 } else { g })
}

/// Decides the graceful part of a delete of `obj` at `now`.
pub fn grace(
    info: &ResourceInfo,
    obj: &Value,
    opts: &DeleteOptions,
    now: jiff::Timestamp,
) -> Grace {
    if !is_pod(info) {
        return Grace::NotGraceful;
    }
    let Some(deleting_at) = meta_str(obj, "deletionTimestamp") else {
        let seconds = pod_grace(obj, opts);
        let at = now
            .checked_add(jiff::SignedDuration::from_secs(seconds))
            .unwrap_or(now);
        return Grace::Graceful { at, seconds };
    };
    // Already being deleted: the grace period may only be shortened.
    let current = obj["metadata"]["deletionGracePeriodSeconds"]
        .as_i64()
        .map(|g| if g < 0 { 1 } else { g });
    let Some(current) = current.filter(|g| *g > 0) else {
        return Grace::NotGraceful;
    };
    let Some(asked) = requested_grace(opts) else {
        return Grace::Pending;
    };
    if asked >= current {
        return Grace::Pending;
    }
    let at = deleting_at
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| t.checked_sub(jiff::SignedDuration::from_secs(current)).ok())
        .and_then(|t| t.checked_add(jiff::SignedDuration::from_secs(asked)).ok())
        .unwrap_or(now);
    Grace::Graceful { at, seconds: asked }
}

/// Whether an update of `old` into `new` finishes a deletion: `old` was being deleted with no
/// grace left and `new` has no finalizers (upstream's `ShouldDeleteDuringUpdate`).
pub fn update_completes_deletion(old: &Value, new: &Value) -> bool {
    meta_str(old, "deletionTimestamp").is_some()
        && finalizers(new).is_empty()
        && old["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .is_none_or(|g| g == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::resources::find;
    use serde_json::json;

    fn opts(policy: Option<&str>, orphan: Option<bool>) -> DeleteOptions {
        DeleteOptions {
            propagation_policy: policy.map(String::from),
            orphan_dependents: orphan,
            ..Default::default()
        }
    }

    fn with_finalizers(f: &[&str]) -> Value {
        json!({"metadata": {"name": "x", "finalizers": f}})
    }

    #[test]
    fn defaults_per_kind_and_version() {
        let rc = find("", "v1", "replicationcontrollers").unwrap();
        let rs = find("apps", "v1", "replicasets").unwrap();
        let job = find("batch", "v1", "jobs").unwrap();
        let ev = find("events.k8s.io", "v1", "events").unwrap();
        let obj = with_finalizers(&[]);
        assert_eq!(
            gc_finalizers(rc, &obj, &opts(None, None)),
            Some(vec!["orphan".into()])
        );
        assert_eq!(
            gc_finalizers(job, &obj, &opts(None, None)),
            Some(vec!["orphan".into()])
        );
        assert_eq!(gc_finalizers(rs, &obj, &opts(None, None)), None);
        assert_eq!(gc_finalizers(ev, &obj, &opts(Some("Orphan"), None)), None);
        assert!(warning(job, &opts(None, None)).is_some());
        assert!(warning(job, &opts(Some("Orphan"), None)).is_none());
        assert!(warning(rs, &opts(None, None)).is_none());
    }

    #[test]
    fn options_replace_existing_gc_finalizers() {
        let cm = find("", "v1", "configmaps").unwrap();
        let fg = with_finalizers(&["example.com/keep", "foregroundDeletion"]);
        assert_eq!(
            gc_finalizers(cm, &fg, &opts(Some("Orphan"), None)),
            Some(vec!["example.com/keep".into(), "orphan".into()])
        );
        assert_eq!(
            gc_finalizers(cm, &fg, &opts(Some("Background"), None)),
            Some(vec!["example.com/keep".into()])
        );
        // No policy: the finalizer already there stands.
        assert_eq!(gc_finalizers(cm, &fg, &opts(None, None)), None);
        // The deprecated field: true orphans, false neither orphans nor waits.
        assert_eq!(
            gc_finalizers(cm, &fg, &opts(None, Some(true))),
            Some(vec!["example.com/keep".into(), "orphan".into()])
        );
        let orphan = with_finalizers(&["orphan"]);
        assert_eq!(
            gc_finalizers(cm, &orphan, &opts(None, Some(false))),
            Some(vec![])
        );
        let rc = find("", "v1", "replicationcontrollers").unwrap();
        assert_eq!(
            gc_finalizers(rc, &with_finalizers(&[]), &opts(None, Some(false))),
            None
        );
    }

    #[test]
    fn pod_grace_is_only_shortened() {
        let pods = find("", "v1", "pods").unwrap();
        let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let running = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n", "terminationGracePeriodSeconds": 10}, "status": {"phase": "Running"}});
        assert_eq!(
            grace(pods, &running, &opts(None, None), now),
            Grace::Graceful {
                at: "2025-01-01T00:00:10Z".parse().unwrap(),
                seconds: 10
            }
        );
        let unscheduled = json!({"metadata": {"name": "p"}, "spec": {}});
        assert_eq!(
            grace(pods, &unscheduled, &opts(None, None), now),
            Grace::Graceful {
                at: now,
                seconds: 0
            }
        );
        let deleting = json!({"metadata": {"name": "p", "deletionTimestamp": "2025-01-01T00:00:30Z", "deletionGracePeriodSeconds": 30}, "spec": {"nodeName": "n"}});
        assert_eq!(
            grace(pods, &deleting, &opts(None, None), now),
            Grace::Pending
        );
        let shorter = DeleteOptions {
            grace_period_seconds: Some(5),
            ..Default::default()
        };
        assert_eq!(
            grace(pods, &deleting, &shorter, now),
            Grace::Graceful {
                at: "2025-01-01T00:00:05Z".parse().unwrap(),
                seconds: 5
            }
        );
        let cm = find("", "v1", "configmaps").unwrap();
        assert_eq!(
            grace(cm, &running, &opts(None, None), now),
            Grace::NotGraceful
        );
    }

    #[test]
    fn last_finalizer_gone_deletes_only_without_grace_left() {
        let old = json!({"metadata": {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 0, "finalizers": ["a"]}});
        let new = json!({"metadata": {"deletionTimestamp": "t", "finalizers": []}});
        assert!(update_completes_deletion(&old, &new));
        let graceful = json!({"metadata": {"deletionTimestamp": "t", "deletionGracePeriodSeconds": 30, "finalizers": ["a"]}});
        assert!(!update_completes_deletion(&graceful, &new));
        let live = json!({"metadata": {"finalizers": ["a"]}});
        assert!(!update_completes_deletion(&live, &new));
    }
}
