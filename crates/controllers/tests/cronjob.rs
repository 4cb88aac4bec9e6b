//! The CronJob controller on an in-process cluster with its clock injected and jumped: Jobs on
//! schedule with their name and annotation, Forbid and Replace, history limits, missed
//! schedules with startingDeadlineSeconds, `kubectl create job --from=cronjob/…`, and a
//! malformed schedule refused by the API.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use rkube_controllers::Context;
use rkube_controllers::clock::Clock;
use rkube_sim::SimConfig;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn cronjob(name: &str, schedule: &str, extra: Value) -> CronJob {
    let mut spec = json!({"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}});
    common::merge(&mut spec, extra);
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn create(c: &Cluster, cj: &CronJob) -> Api<CronJob> {
    let api: Api<CronJob> = Api::namespaced(c.client.clone(), "default");
    api.create(&PostParams::default(), cj).await.unwrap();
    api
}

fn start(c: &Cluster, clock: &Clock, with_jobs: bool) -> Vec<tokio::task::JoinHandle<()>> {
    let ctx = Context::new(c.client.clone(), "test".into());
    let mut out = vec![tokio::spawn(rkube_controllers::cronjob::run_with_clock(
        ctx.clone(),
        clock.clone(),
    ))];
    if with_jobs {
        out.push(tokio::spawn(rkube_controllers::job::run_with_clock(
            ctx,
            clock.clone(),
        )));
    }
    out
}

async fn owned_jobs(c: &Cluster, cronjob: &str) -> Vec<Job> {
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    let mut out: Vec<Job> = jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|j| {
            j.metadata.deletion_timestamp.is_none()
                && j.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .any(|o| o.name == cronjob && o.kind == "CronJob")
        })
        .collect();
    out.sort_by_key(|j| j.metadata.name.clone());
    out
}

async fn wait_jobs(c: &Cluster, cronjob: &str, n: usize) -> Vec<Job> {
    eventually(WAIT, &format!("{n} jobs of {cronjob}"), || async {
        let jobs = owned_jobs(c, cronjob).await;
        (jobs.len() == n).then_some(jobs)
    })
    .await
}

/// Waits until `cronjob`'s status lists `n` active Jobs, then a moment more for the
/// controller's own cache to catch up with it: the next tick decides from that cache, and a
/// clock moved on before it has the status would run a Forbid CronJob twice.
async fn wait_active(c: &Cluster, cronjob: &str, n: usize) {
    let api: Api<CronJob> = Api::namespaced(c.client.clone(), "default");
    eventually(
        WAIT,
        &format!("{n} active jobs in {cronjob}'s status"),
        || async {
            let cj = api.get(cronjob).await.ok()?;
            (cj.status?.active.unwrap_or_default().len() == n).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn wait_event(c: &Cluster, name: &str, reason: &str) -> String {
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    eventually(WAIT, &format!("event {reason} on {name}"), || async {
        events
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| {
                e.involved_object.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason)
            })
            .and_then(|e| e.message)
    })
    .await
}

/// Jumps the clock to just after the next whole minute.
fn to_next_minute(clock: &Clock) {
    let now = clock.now().as_second();
    let next = (now / 60 + 1) * 60 + 1;
    clock.advance(Duration::from_secs((next - now) as u64));
}

/// Waits, if need be, until the wall clock is at least 15 s clear of the next turn of its
/// `period` (a minute, an hour). Until a test first moves its clock, a CronJob's ticks come from
/// the wall clock: one created just before a turn would run once on its own before the test's
/// tick.
async fn clear_of_a_turn(clock: &Clock, period: i64) {
    let into_period = clock.now().as_second().rem_euclid(period);
    if into_period > period - 15 {
        tokio::time::sleep(Duration::from_secs((period + 1 - into_period) as u64)).await;
    }
}

/// [`clear_of_a_turn`] for the every-minute CronJobs.
async fn clear_of_a_minute_turn(clock: &Clock) {
    clear_of_a_turn(clock, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_created_on_schedule() {
    let c = Cluster::start().await;
    let clock = Clock::system();
    let _ctl = start(&c, &clock, false);
    clear_of_a_minute_turn(&clock).await;
    let api = create(
        &c,
        &cronjob(
            "tick",
            "* * * * *",
            json!({"jobTemplate": {"metadata": {"labels": {"team": "a"}}}}),
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(owned_jobs(&c, "tick").await.is_empty(), "nothing due yet");
    to_next_minute(&clock);
    let jobs = wait_jobs(&c, "tick", 1).await;
    let minute = clock.now().as_second() / 60;
    let job = &jobs[0];
    assert_eq!(
        job.metadata.name.as_deref(),
        Some(format!("tick-{minute}").as_str())
    );
    let annotations = job.metadata.annotations.clone().unwrap();
    let scheduled = jiff::Timestamp::from_second(minute * 60).unwrap();
    assert_eq!(
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"],
        scheduled.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(job.metadata.labels.as_ref().unwrap()["team"], "a");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    let cj = eventually(WAIT, "status", || async {
        let cj = api.get("tick").await.ok()?;
        (cj.status.as_ref()?.active.as_ref()?.len() == 1).then_some(cj)
    })
    .await;
    assert_eq!(cj.status.unwrap().last_schedule_time.unwrap().0, scheduled);
    assert_eq!(
        wait_event(&c, "tick", "SuccessfulCreate").await,
        format!("Created job tick-{minute}")
    );
    to_next_minute(&clock);
    wait_jobs(&c, "tick", 2).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbid_and_replace() {
    // No nodes: the Jobs' pods never run, so each Job stays active.
    let c = Cluster::start().await;
    let clock = Clock::system();
    let _ctl = start(&c, &clock, true);
    clear_of_a_minute_turn(&clock).await;
    create(
        &c,
        &cronjob("one", "* * * * *", json!({"concurrencyPolicy": "Forbid"})),
    )
    .await;
    create(
        &c,
        &cronjob("swap", "* * * * *", json!({"concurrencyPolicy": "Replace"})),
    )
    .await;
    to_next_minute(&clock);
    let first = wait_jobs(&c, "swap", 1).await;
    wait_jobs(&c, "one", 1).await;
    wait_active(&c, "one", 1).await;
    wait_active(&c, "swap", 1).await;
    to_next_minute(&clock);
    assert_eq!(
        wait_event(&c, "one", "JobAlreadyActive").await,
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    );
    assert_eq!(owned_jobs(&c, "one").await.len(), 1);
    let replaced = eventually(WAIT, "the replacement", || async {
        let jobs = owned_jobs(&c, "swap").await;
        (jobs.len() == 1 && jobs[0].metadata.name != first[0].metadata.name).then_some(jobs)
    })
    .await;
    assert_ne!(replaced[0].metadata.name, first[0].metadata.name);
    assert_eq!(
        wait_event(&c, "swap", "SuccessfulDelete").await,
        format!("Deleted job {}", first[0].metadata.name.as_deref().unwrap())
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_limits_prune_old_jobs() {
    let mut sim = SimConfig::new(1);
    sim.job_pod_run_time = Duration::from_millis(100);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let _ctl = start(&c, &clock, true);
    clear_of_a_minute_turn(&clock).await;
    let api = create(
        &c,
        &cronjob(
            "hist",
            "* * * * *",
            json!({"successfulJobsHistoryLimit": 1}),
        ),
    )
    .await;
    for round in 1..=3 {
        to_next_minute(&clock);
        eventually(WAIT, &format!("round {round} done"), || async {
            let cj = api.get("hist").await.ok()?;
            let st = cj.status?;
            (st.active.unwrap_or_default().is_empty()
                && st.last_successful_time.is_some()
                && owned_jobs(&c, "hist").await.iter().any(|j| {
                    j.metadata.name.as_deref()
                        == Some(format!("hist-{}", clock.now().as_second() / 60).as_str())
                }))
            .then_some(())
        })
        .await;
    }
    let left = wait_jobs(&c, "hist", 1).await;
    assert_eq!(
        left[0].metadata.name.as_deref(),
        Some(format!("hist-{}", clock.now().as_second() / 60).as_str()),
        "the newest is kept"
    );
    wait_event(&c, "hist", "SawCompletedJob").await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_schedules_and_the_starting_deadline() {
    let c = Cluster::start().await;
    let clock = Clock::system();
    let _ctl = start(&c, &clock, false);
    clear_of_a_turn(&clock, 3600).await;
    create(
        &c,
        &cronjob("late", "0 * * * *", json!({"startingDeadlineSeconds": 10})),
    )
    .await;
    create(&c, &cronjob("catchup", "0 * * * *", json!({}))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Three hours and a half pass while the controller "sleeps".
    let now = clock.now().as_second();
    let target = (now / 3600 + 3) * 3600 + 1800;
    clock.advance(Duration::from_secs((target - now) as u64));
    let jobs = wait_jobs(&c, "catchup", 1).await;
    let last_hour = clock.now().as_second() / 3600 * 3600;
    assert_eq!(
        jobs[0].metadata.name.as_deref(),
        Some(format!("catchup-{}", last_hour / 60).as_str()),
        "only the most recent missed time runs"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        owned_jobs(&c, "late").await.is_empty(),
        "missed times older than startingDeadlineSeconds are skipped"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_job_from_cronjob() {
    let mut sim = SimConfig::new(1);
    sim.job_pod_run_time = Duration::from_millis(100);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let _ctl = start(&c, &clock, true);
    create(&c, &cronjob("nightly", "0 3 * * *", json!({}))).await;
    let (ok, out, err) = c.kubectl(&["create", "job", "now", "--from=cronjob/nightly"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("job.batch/now created"), "{out}");
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    let j = jobs.get("now").await.unwrap();
    assert_eq!(
        j.metadata.annotations.unwrap()["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(j.metadata.owner_references.unwrap()[0].name, "nightly");
    eventually(WAIT, "the manual job to complete", || async {
        jobs.get("now")
            .await
            .ok()?
            .status?
            .completion_time
            .map(|_| ())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_schedule_is_refused() {
    let c = Cluster::start().await;
    let api: Api<CronJob> = Api::namespaced(c.client.clone(), "default");
    let err = api
        .create(
            &PostParams::default(),
            &cronjob("bad", "61 * * * *", json!({})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains("spec.schedule")
            && status
                .message
                .contains("end of range (61) above maximum (59): 61"),
        "{}",
        status.message
    );
    let (ok, _, err) = c.kubectl(&[
        "create",
        "cronjob",
        "bad2",
        "--image=busybox",
        "--schedule=@often",
    ]);
    assert!(!ok);
    assert!(err.contains("unrecognized descriptor: @often"), "{err}");
    c.stop().await;
}
