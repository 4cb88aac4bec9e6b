//! The Job controller on an in-process cluster: completions and parallelism, Indexed mode,
//! backoffLimit, activeDeadlineSeconds, suspend, podFailurePolicy. Failures are made by
//! patching a pod's status to Failed with a container exit code, as a kubelet would; the
//! controller's clock is injected and jumped for backoff and deadlines.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rkube_controllers::Context;
use rkube_controllers::clock::Clock;
use rkube_sim::SimConfig;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn start_controller(c: &Cluster, clock: &Clock) -> tokio::task::JoinHandle<()> {
    let ctx = Context::new(c.client.clone(), "test".into());
    tokio::spawn(rkube_controllers::job::run_with_clock(ctx, clock.clone()))
}

async fn create_job(c: &Cluster, name: &str, spec: Value) -> Api<Job> {
    let mut full = json!({"template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "main", "image": "busybox"}]}}});
    common::merge(&mut full, spec);
    let job: Job =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": full})).unwrap();
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    jobs.create(&PostParams::default(), &job).await.unwrap();
    jobs
}

/// Waits for condition `type_` True on the Job; returns the Job.
async fn wait_condition(jobs: &Api<Job>, name: &str, type_: &str) -> Job {
    eventually(WAIT, &format!("{name} {type_}"), || async {
        let j = jobs.get(name).await.ok()?;
        let conds = j.status.as_ref()?.conditions.clone()?;
        conds
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True")
            .then_some(j)
    })
    .await
}

fn condition<'a>(j: &'a Job, type_: &str) -> &'a k8s_openapi::api::batch::v1::JobCondition {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
        .expect("condition")
}

async fn job_pods(c: &Cluster, job: &str) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    pods.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .unwrap()
        .items
}

/// Waits for `n` live (not failed) pods of `job`.
async fn wait_pods(c: &Cluster, job: &str, n: usize) -> Vec<Pod> {
    eventually(WAIT, &format!("{n} pods of {job}"), || async {
        let pods: Vec<Pod> = job_pods(c, job)
            .await
            .into_iter()
            .filter(|p| {
                p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Failed")
                    && p.metadata.deletion_timestamp.is_none()
            })
            .collect();
        (pods.len() == n).then_some(pods)
    })
    .await
}

/// Makes `pod` Failed with `exit_code` (finished at `clock`'s now), as a kubelet reports it.
async fn fail_pod(c: &Cluster, pod: &Pod, exit_code: i32, clock: &Clock) {
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let now = clock.now().to_string();
    let patch = json!({"status": {"phase": "Failed", "containerStatuses": [{
        "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
            "startedAt": now, "finishedAt": now}}}]}});
    pods.patch_status(
        pod.metadata.name.as_deref().unwrap(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .unwrap();
}

async fn events_for(c: &Cluster, name: &str) -> Vec<(String, String)> {
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

async fn wait_event(c: &Cluster, name: &str, reason: &str) -> String {
    eventually(WAIT, &format!("event {reason} on {name}"), || async {
        events_for(c, name)
            .await
            .into_iter()
            .find(|(r, _)| r == reason)
            .map(|(_, m)| m)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_with_parallelism() {
    let mut sim = SimConfig::new(2);
    sim.job_pod_run_time = Duration::from_millis(300);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let ctl = start_controller(&c, &clock);
    let jobs = create_job(&c, "pi", json!({"completions": 5, "parallelism": 2})).await;
    let max_active = std::sync::atomic::AtomicUsize::new(0);
    let done = eventually(WAIT, "pi complete", || async {
        let j = jobs.get("pi").await.ok()?;
        let live = job_pods(&c, "pi")
            .await
            .iter()
            .filter(|p| {
                !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
            })
            .count();
        max_active.fetch_max(live, std::sync::atomic::Ordering::SeqCst);
        let st = j.status.clone()?;
        st.conditions?
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
            .then_some(j)
    })
    .await;
    let max_active = max_active.into_inner();
    assert!(
        max_active <= 2,
        "never more than parallelism pods ({max_active})"
    );
    let st = done.status.clone().unwrap();
    assert_eq!(st.succeeded, Some(5));
    assert_eq!(st.active.unwrap_or(0), 0);
    assert!(st.completion_time.is_some() && st.start_time.is_some());
    let complete = condition(&done, "Complete");
    assert_eq!(complete.reason.as_deref(), Some("CompletionsReached"));
    assert_eq!(condition(&done, "SuccessCriteriaMet").status, "True");
    let unc = st.uncounted_terminated_pods.unwrap_or_default();
    assert!(unc.succeeded.unwrap_or_default().is_empty());
    let pods = job_pods(&c, "pi").await;
    assert_eq!(pods.len(), 5);
    for p in &pods {
        assert!(
            p.metadata
                .finalizers
                .as_deref()
                .unwrap_or_default()
                .is_empty(),
            "tracking finalizer released"
        );
        assert!(p.metadata.generate_name.as_deref() == Some("pi-"));
    }
    assert_eq!(wait_event(&c, "pi", "Completed").await, "Job completed");
    assert!(
        wait_event(&c, "pi", "SuccessfulCreate")
            .await
            .starts_with("Created pod: pi-")
    );
    ctl.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_job_completes_every_index() {
    let mut sim = SimConfig::new(2);
    sim.job_pod_run_time = Duration::from_millis(300);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let ctl = start_controller(&c, &clock);
    let jobs = create_job(
        &c,
        "idx",
        json!({"completions": 4, "parallelism": 2, "completionMode": "Indexed"}),
    )
    .await;
    let done = wait_condition(&jobs, "idx", "Complete").await;
    let st = done.status.clone().unwrap();
    assert_eq!(st.completed_indexes.as_deref(), Some("0-3"));
    assert_eq!(st.succeeded, Some(4));
    let mut indexes: Vec<String> = job_pods(&c, "idx")
        .await
        .iter()
        .map(|p| {
            let i = p.metadata.annotations.as_ref().unwrap()
                ["batch.kubernetes.io/job-completion-index"]
                .clone();
            assert_eq!(
                p.metadata.labels.as_ref().unwrap()["batch.kubernetes.io/job-completion-index"],
                i
            );
            let spec = p.spec.as_ref().unwrap();
            assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{i}").as_str()));
            assert!(
                p.metadata
                    .name
                    .as_deref()
                    .unwrap()
                    .starts_with(&format!("idx-{i}-")),
                "name carries the index"
            );
            let env = spec.containers[0].env.as_ref().unwrap();
            assert!(env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
            i
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2", "3"]);
    ctl.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_limit_fails_the_job_after_backoff() {
    // No nodes: pods stay Pending until the test fails them.
    let c = Cluster::start().await;
    let clock = Clock::system();
    let ctl = start_controller(&c, &clock);
    let jobs = create_job(&c, "flaky", json!({"backoffLimit": 1})).await;
    let first = wait_pods(&c, "flaky", 1).await;
    fail_pod(&c, &first[0], 1, &clock).await;
    // The replacement waits for the 10 s backoff.
    eventually(WAIT, "the failure counted", || async {
        let j = jobs.get("flaky").await.ok()?;
        (j.status?.failed == Some(1)).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        job_pods(&c, "flaky").await.len(),
        1,
        "no replacement before the backoff"
    );
    clock.advance(Duration::from_secs(11));
    let second = wait_pods(&c, "flaky", 1).await;
    fail_pod(&c, &second[0], 1, &clock).await;
    let failed = wait_condition(&jobs, "flaky", "Failed").await;
    let cond = condition(&failed, "Failed");
    assert_eq!(cond.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        cond.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    assert_eq!(condition(&failed, "FailureTarget").status, "True");
    assert_eq!(failed.status.unwrap().failed, Some(2));
    assert_eq!(
        wait_event(&c, "flaky", "BackoffLimitExceeded").await,
        "Job has reached the specified backoff limit"
    );
    ctl.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_fails_the_job_and_stops_its_pods() {
    let mut sim = SimConfig::new(1);
    sim.job_pod_run_time = Duration::from_secs(3600);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let ctl = start_controller(&c, &clock);
    let jobs = create_job(
        &c,
        "slow",
        json!({"activeDeadlineSeconds": 30, "parallelism": 2, "completions": 2}),
    )
    .await;
    wait_pods(&c, "slow", 2).await;
    clock.advance(Duration::from_secs(31));
    let failed = wait_condition(&jobs, "slow", "Failed").await;
    assert_eq!(
        condition(&failed, "Failed").reason.as_deref(),
        Some("DeadlineExceeded")
    );
    let st = failed.status.unwrap();
    assert_eq!((st.active.unwrap_or(0), st.failed), (0, Some(2)));
    eventually(WAIT, "the pods to go", || async {
        job_pods(&c, "slow").await.is_empty().then_some(())
    })
    .await;
    assert_eq!(
        wait_event(&c, "slow", "DeadlineExceeded").await,
        "Job was active longer than specified deadline"
    );
    ctl.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_resume() {
    let mut sim = SimConfig::new(1);
    sim.job_pod_run_time = Duration::from_millis(300);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let ctl = start_controller(&c, &clock);
    let jobs = create_job(&c, "later", json!({"suspend": true, "completions": 2})).await;
    let j = wait_condition(&jobs, "later", "Suspended").await;
    assert_eq!(
        condition(&j, "Suspended").reason.as_deref(),
        Some("JobSuspended")
    );
    assert!(j.status.unwrap().start_time.is_none());
    assert!(job_pods(&c, "later").await.is_empty());
    jobs.patch(
        "later",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    let done = wait_condition(&jobs, "later", "Complete").await;
    let s = condition(&done, "Suspended");
    assert_eq!(
        (s.status.as_str(), s.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
    assert_eq!(wait_event(&c, "later", "Resumed").await, "Job resumed");
    ctl.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_failure_policy_fail_job_and_ignore() {
    let c = Cluster::start().await;
    let clock = Clock::system();
    let ctl = start_controller(&c, &clock);
    let policy = json!({"podFailurePolicy": {"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
    ]}, "backoffLimit": 0});
    let jobs = create_job(&c, "pfp", policy).await;
    let first = wait_pods(&c, "pfp", 1).await;
    fail_pod(&c, &first[0], 7, &clock).await;
    // Ignored: not counted, replaced at once (no backoff counted against it either).
    let second = eventually(WAIT, "a replacement", || async {
        let pods = job_pods(&c, "pfp").await;
        pods.into_iter().find(|p| {
            p.metadata.name != first[0].metadata.name
                && p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Failed")
        })
    })
    .await;
    let j = jobs.get("pfp").await.unwrap();
    assert_eq!(j.status.unwrap().failed.unwrap_or(0), 0);
    fail_pod(&c, &second, 42, &clock).await;
    let failed = wait_condition(&jobs, "pfp", "Failed").await;
    let cond = condition(&failed, "Failed");
    assert_eq!(cond.reason.as_deref(), Some("PodFailurePolicy"));
    assert_eq!(
        cond.message.clone().unwrap(),
        format!(
            "Container main for pod default/{} failed with exit code 42 matching FailJob rule at index 1",
            second.metadata.name.as_deref().unwrap()
        )
    );
    ctl.abort();
    c.stop().await;
}
