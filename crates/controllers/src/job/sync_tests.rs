//! Table tests of [`super::sync::plan`].

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::backoff::Record;
use super::sync::{Observed, Plan, plan};

const NOW: &str = "2024-01-01T00:10:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn job(spec: Value, status: Value) -> Job {
    let mut spec_full = json!({"template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "i"}]}}});
    crate_merge(&mut spec_full, spec);
    serde_json::from_value(
        json!({"metadata": {"name": "j", "namespace": "ns", "uid": "ju"},
        "spec": spec_full, "status": status}),
    )
    .unwrap()
}

fn crate_merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (&mut *base, &extra) {
        for (k, v) in e {
            crate_merge(b.entry(k.clone()).or_insert(Value::Null), v.clone());
        }
    } else {
        *base = extra;
    }
}

/// A pod: `phase`, with the tracking finalizer, optional index, optional exit code.
fn pod(name: &str, phase: &str, index: Option<i32>, exit: Option<i32>) -> Arc<Pod> {
    let mut annotations = json!({});
    if let Some(i) = index {
        annotations["batch.kubernetes.io/job-completion-index"] = i.to_string().into();
    }
    let mut status = json!({"phase": phase});
    if let Some(code) = exit {
        status["containerStatuses"] = json!([{"name": "c", "image": "i", "imageID": "",
            "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "finishedAt": NOW}}}]);
    }
    Arc::new(
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "ns",
            "uid": format!("u-{name}"), "annotations": annotations,
            "finalizers": ["batch.kubernetes.io/job-tracking"],
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "ju", "controller": true}]},
            "status": status}))
        .unwrap(),
    )
}

fn run(job: &Job, pods: &[Arc<Pod>], backoff: Record) -> Plan {
    plan(&Observed {
        job,
        pods,
        now: now(),
        backoff,
        expectations_satisfied: true,
    })
}

fn cond<'a>(p: &'a Plan, t: &str) -> Option<(&'a str, &'a str)> {
    p.status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.as_str(), c.reason.as_deref().unwrap_or_default()))
}

#[test]
fn creates_up_to_parallelism_and_remaining_completions() {
    let table = [
        // (completions, parallelism, succeeded so far, running pods, pods to create)
        (Some(5), 2, 0, 0, 2),
        (Some(5), 2, 0, 1, 1),
        (Some(5), 3, 4, 0, 1),
        (Some(5), 3, 5, 0, 0),
        (None, 3, 0, 0, 3),
        (None, 3, 1, 1, 0),
    ];
    for (completions, parallelism, succeeded, running, want) in table {
        let j = job(
            json!({"completions": completions, "parallelism": parallelism, "backoffLimit": 6}),
            json!({"succeeded": succeeded}),
        );
        let pods: Vec<_> = (0..running)
            .map(|i| pod(&format!("r{i}"), "Running", None, None))
            .collect();
        let p = run(&j, &pods, Record::default());
        assert_eq!(
            p.create.len(),
            want,
            "{completions:?}/{parallelism}/{succeeded}/{running}"
        );
        assert_eq!(p.status.active, Some(running + want as i32));
        assert!(p.status.start_time.is_some());
    }
}

#[test]
fn finished_pods_are_recorded_then_released_and_completion_waits_for_them() {
    let j = job(json!({"completions": 2, "parallelism": 2}), json!({}));
    let pods = [
        pod("a", "Succeeded", None, Some(0)),
        pod("b", "Succeeded", None, Some(0)),
    ];
    let p = run(&j, &pods, Record::default());
    let unc = p.status.uncounted_terminated_pods.clone().unwrap();
    assert_eq!(unc.succeeded.unwrap(), vec!["u-a", "u-b"]);
    assert_eq!(p.unfinalize, vec!["a", "b"]);
    assert_eq!(
        cond(&p, "SuccessCriteriaMet"),
        Some(("True", "CompletionsReached"))
    );
    assert_eq!(p.finish.as_ref().unwrap().type_, "Complete");
    let mut status = p.status.clone();
    assert!(
        !super::sync::enact_finish(&mut status, p.finish.as_ref().unwrap()),
        "uncounted pods remain"
    );
    // Finalizers gone: counted, then complete.
    let mut unc = status.uncounted_terminated_pods.take().unwrap();
    super::sync::count_unfinalized(&mut status, &mut unc, &Default::default());
    status.uncounted_terminated_pods = Some(unc);
    assert_eq!(status.succeeded, Some(2));
    assert!(super::sync::enact_finish(
        &mut status,
        p.finish.as_ref().unwrap()
    ));
    assert!(status.completion_time.is_some());
}

#[test]
fn failures_beyond_the_backoff_limit_fail_the_job() {
    let j = job(
        json!({"completions": 3, "parallelism": 1, "backoffLimit": 1}),
        json!({"failed": 1}),
    );
    let pods = [
        pod("f", "Failed", None, Some(1)),
        pod("r", "Running", None, None),
    ];
    let p = run(&j, &pods, Record::default());
    assert_eq!(
        cond(&p, "FailureTarget"),
        Some(("True", "BackoffLimitExceeded"))
    );
    assert_eq!(p.finish.as_ref().unwrap().type_, "Failed");
    assert_eq!(p.delete.len(), 1, "the running pod goes");
    assert!(!p.delete[0].remove_finalizer_first);
    assert!(p.create.is_empty());
    assert_eq!(
        p.status
            .uncounted_terminated_pods
            .unwrap()
            .failed
            .unwrap()
            .len(),
        2,
        "running pod counts as failed too"
    );
}

#[test]
fn failed_pods_are_replaced_after_the_backoff() {
    let j = job(
        json!({"completions": 1, "parallelism": 1, "backoffLimit": 6}),
        json!({}),
    );
    let pods = [pod("f", "Failed", None, Some(1))];
    let p = run(&j, &pods, Record::default());
    assert!(p.create.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(10)));
    assert_eq!(p.backoff.failures_after_last_success, 1);
    // Ten seconds later (the pod counted, its finalizer gone) a replacement is created.
    let j = job(
        json!({"completions": 1, "parallelism": 1, "backoffLimit": 6}),
        json!({"failed": 1}),
    );
    let later = Observed {
        job: &j,
        pods: &[],
        now: "2024-01-01T00:10:10Z".parse().unwrap(),
        backoff: p.backoff,
        expectations_satisfied: true,
    };
    assert_eq!(plan(&later).create.len(), 1);
}

#[test]
fn deadline_and_its_requeue() {
    let start = json!({"startTime": "2024-01-01T00:09:00Z"});
    let p = run(
        &job(json!({"activeDeadlineSeconds": 30}), start.clone()),
        &[pod("r", "Running", None, None)],
        Record::default(),
    );
    assert_eq!(
        cond(&p, "FailureTarget"),
        Some(("True", "DeadlineExceeded"))
    );
    let p = run(
        &job(json!({"activeDeadlineSeconds": 90}), start),
        &[pod("r", "Running", None, None)],
        Record::default(),
    );
    assert_eq!(p.finish, None);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(30)));
}

#[test]
fn suspend_deletes_without_counting_and_resume_restarts_the_clock() {
    let j = job(
        json!({"suspend": true, "parallelism": 2, "completions": 2}),
        json!({}),
    );
    let p = run(
        &j,
        &[
            pod("a", "Running", None, None),
            pod("b", "Pending", None, None),
        ],
        Record::default(),
    );
    assert_eq!(p.delete.len(), 2);
    assert!(p.delete.iter().all(|d| d.remove_finalizer_first));
    assert_eq!(cond(&p, "Suspended"), Some(("True", "JobSuspended")));
    assert_eq!(p.events[0].reason, "Suspended");
    assert!(p.status.start_time.is_none());
    assert_eq!(p.status.active, Some(0));

    let j = job(
        json!({"suspend": false, "parallelism": 2, "completions": 2}),
        serde_json::to_value(&p.status).unwrap(),
    );
    let p = run(&j, &[], Record::default());
    assert_eq!(cond(&p, "Suspended"), Some(("False", "JobResumed")));
    assert_eq!(p.events[0].reason, "Resumed");
    assert_eq!(p.create.len(), 2);
}

#[test]
fn indexed_jobs_fill_the_lowest_pending_indexes() {
    let j = job(
        json!({"completionMode": "Indexed", "completions": 5, "parallelism": 3}),
        json!({"completedIndexes": "3"}),
    );
    let pods = [
        pod("a", "Succeeded", Some(1), Some(0)),
        pod("b", "Running", Some(0), None),
    ];
    let p = run(&j, &pods, Record::default());
    assert_eq!(p.create, vec![Some(2), Some(4)], "0 runs, 1 and 3 are done");
    assert_eq!(p.status.completed_indexes.as_deref(), Some("1,3"));
    assert_eq!(p.status.succeeded, Some(2));
    // A duplicate index is removed.
    let pods = [
        pod("a", "Running", Some(0), None),
        pod("b", "Running", Some(0), None),
    ];
    let p = run(&j, &pods, Record::default());
    assert_eq!(p.delete.len(), 1);
}

#[test]
fn pod_failure_policy_rules() {
    let policy = json!({"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
    ]});
    let spec =
        json!({"podFailurePolicy": policy, "backoffLimit": 0, "podReplacementPolicy": "Failed"});
    let p = run(
        &job(spec.clone(), json!({})),
        &[pod("x", "Failed", None, Some(42))],
        Record::default(),
    );
    assert_eq!(
        cond(&p, "FailureTarget"),
        Some(("True", "PodFailurePolicy"))
    );
    assert_eq!(
        p.finish.unwrap().message.unwrap(),
        "Container c for pod ns/x failed with exit code 42 matching FailJob rule at index 0"
    );
    let p = run(
        &job(spec, json!({})),
        &[pod("x", "Failed", None, Some(7))],
        Record::default(),
    );
    assert_eq!(
        p.finish, None,
        "ignored: not counted against backoffLimit 0"
    );
    assert!(p.status.uncounted_terminated_pods.unwrap().failed.is_none());
    assert_eq!(p.unfinalize, vec!["x"]);
}
