//! The CronJob controller's watches, queue and reconcile, as upstream's `ControllerV2`.

use std::sync::Arc;

use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rkube_api::validation::cron::Schedule;
use rkube_component::events::EventSink;

use super::times::{self, Missed};
use crate::clock::Clock;
use crate::context::Context;
use crate::informer::{self, Change};
use crate::job::conditions::{is_finished, is_true, types};
use crate::pod_control::{api_message, controller_ref, object_ref};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The component CronJob events are reported as.
pub const COMPONENT: &str = "cronjob-controller";
/// The annotation holding a Job's scheduled time.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// What went wrong syncing a CronJob (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

struct Shared {
    client: Client,
    cronjobs: Store<CronJob>,
    jobs: Store<Job>,
    events: EventSink,
    clock: Clock,
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Runs the controller on the system clock.
pub async fn run(ctx: Context) {
    run_with_clock(ctx, Clock::system()).await
}

/// Runs the controller with `clock` (a jump re-examines every CronJob).
pub async fn run_with_clock(ctx: Context, clock: Clock) {
    let queue: WorkQueue<String> = WorkQueue::new("cronjob", ctx.metrics.clone());
    let q = queue.clone();
    let (cronjobs, _cj_task) = informer::spawn(
        Api::<CronJob>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            let cj = match change {
                Change::Added(c) | Change::Updated { new: c, .. } | Change::Deleted(c) => c,
            };
            q.add(key_of(
                cj.metadata.namespace.as_deref().unwrap_or_default(),
                &cj.name_any(),
            ));
        },
    );
    let q = queue.clone();
    let (jobs, _jobs_task) = informer::spawn(
        Api::<Job>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            let job = match change {
                Change::Added(j) | Change::Updated { new: j, .. } | Change::Deleted(j) => j,
            };
            let owner = job
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true) && o.kind == "CronJob")
                .map(|o| o.name.clone());
            if let Some(owner) = owner {
                q.add(key_of(
                    job.metadata.namespace.as_deref().unwrap_or_default(),
                    &owner,
                ));
            }
        },
    );
    cronjobs.wait_until_ready().await.ok();
    jobs.wait_until_ready().await.ok();
    let q = queue.clone();
    let all = cronjobs.clone();
    let _jumps = clock.on_jump(move || {
        for c in all.state() {
            q.add(key_of(
                c.metadata.namespace.as_deref().unwrap_or_default(),
                &c.name_any(),
            ));
        }
    });
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        cronjobs,
        jobs,
        events: ctx.recorder(COMPONENT),
        clock,
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let shared = shared.clone();
        async move { reconcile(&shared, &key).await }
    })
    .await;
}

impl Shared {
    fn event(&self, cj: &CronJob, warning: bool, reason: &str, message: String) {
        self.events
            .record(object_ref(cj), warning, reason, reason, message);
    }
}

async fn reconcile(s: &Shared, key: &str) -> Result<Requeue, Error> {
    let Some((ns, name)) = key.split_once('/') else {
        return Ok(Requeue::Done);
    };
    let Some(cj) = s.cronjobs.get(&ObjectRef::new(name).within(ns)) else {
        return Ok(Requeue::Done);
    };
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let children: Vec<Arc<Job>> = s
        .jobs
        .state()
        .into_iter()
        .filter(|j| {
            j.metadata.namespace.as_deref() == Some(ns)
                && j.owner_references()
                    .iter()
                    .any(|o| o.controller == Some(true) && o.uid == uid)
        })
        .collect();
    let mut work = (*cj).clone();
    let (requeue, mut changed) = sync(s, &mut work, &children).await;
    if cleanup_finished(s, &mut work, &children).await {
        changed = true;
    }
    if changed && work.status != cj.status {
        let api: Api<CronJob> = Api::namespaced(s.client.clone(), ns);
        api.replace_status(name, &PostParams::default(), &work)
            .await?;
    }
    requeue
}

fn in_active(status: &CronJobStatus, uid: &str) -> bool {
    status
        .active
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|r| r.uid.as_deref() == Some(uid))
}

fn remove_active(status: &mut CronJobStatus, uid: &str) {
    if let Some(a) = status.active.as_mut() {
        a.retain(|r| r.uid.as_deref() != Some(uid));
    }
}

/// upstream's `syncCronJob`: the requeue outcome and whether the status changed.
async fn sync(
    s: &Shared,
    cj: &mut CronJob,
    children: &[Arc<Job>],
) -> (Result<Requeue, Error>, bool) {
    let ns = cj.metadata.namespace.clone().unwrap_or_default();
    let jobs_api: Api<Job> = Api::namespaced(s.client.clone(), &ns);
    let mut status = cj.status.clone().unwrap_or_default();
    let mut changed = false;
    for j in children {
        let juid = j.metadata.uid.clone().unwrap_or_default();
        let jstatus = j.status.clone().unwrap_or_default();
        let found = in_active(&status, &juid);
        let finished = is_finished(&jstatus);
        if !found && !finished {
            s.event(
                cj,
                true,
                "UnexpectedJob",
                format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    j.name_any()
                ),
            );
        } else if found && finished {
            let condition = if is_true(&jstatus, types::COMPLETE) {
                types::COMPLETE
            } else {
                types::FAILED
            };
            remove_active(&mut status, &juid);
            s.event(
                cj,
                false,
                "SawCompletedJob",
                format!(
                    "Saw completed job: {}, condition: {condition}",
                    j.name_any()
                ),
            );
            changed = true;
        } else if is_true(&jstatus, types::COMPLETE)
            && let Some(done) = &jstatus.completion_time
            && status
                .last_successful_time
                .as_ref()
                .is_none_or(|t| done.0 > t.0)
        {
            status.last_successful_time = Some(done.clone());
            changed = true;
        }
    }
    // Active jobs that are gone from the cache: confirm with the apiserver.
    let child_uids: Vec<String> = children
        .iter()
        .filter_map(|j| j.metadata.uid.clone())
        .collect();
    for r in status.active.clone().unwrap_or_default() {
        let ruid = r.uid.clone().unwrap_or_default();
        if child_uids.contains(&ruid) {
            continue;
        }
        let name = r.name.clone().unwrap_or_default();
        match jobs_api.get_opt(&name).await {
            Ok(Some(j)) if j.metadata.uid.as_deref() == Some(ruid.as_str()) => {}
            Ok(_) => {
                s.event(
                    cj,
                    false,
                    "MissingJob",
                    format!("Active job went missing: {name}"),
                );
                remove_active(&mut status, &ruid);
                changed = true;
            }
            Err(e) => return (Err(e.into()), changed),
        }
    }
    macro_rules! done {
        ($r:expr) => {{
            let r = $r;
            cj.status = Some(status);
            return (r, changed);
        }};
    }
    if cj.metadata.deletion_timestamp.is_some() {
        done!(Ok(Requeue::Done));
    }
    let spec = cj.spec.clone().unwrap_or_default();
    let tz = match spec.time_zone.as_deref() {
        None => TimeZone::UTC,
        Some(name) => match TimeZone::get(name) {
            Ok(tz) => tz,
            Err(e) => {
                s.event(
                    cj,
                    true,
                    "UnknownTimeZone",
                    format!("invalid timeZone: {name:?}: {e}"),
                );
                done!(Ok(Requeue::Done));
            }
        },
    };
    if spec.suspend == Some(true) {
        done!(Ok(Requeue::Done));
    }
    let mut schedule_text = spec.schedule.clone();
    if schedule_text.contains("TZ") {
        s.event(
            cj,
            true,
            "UnsupportedSchedule",
            format!(
                "CRON_TZ or TZ used in schedule {schedule_text:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"
            ),
        );
    }
    if let Some(name) = spec.time_zone.as_deref() {
        schedule_text = format!("TZ={name} {schedule_text}");
    }
    let schedule = match Schedule::parse(&schedule_text) {
        Ok(s) => s,
        Err(e) => {
            s.event(
                cj,
                true,
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {e}", spec.schedule),
            );
            done!(Ok(Requeue::Done));
        }
    };
    let now = s.clock.now();
    // Times are computed on the CronJob as it is now (its lastScheduleTime).
    cj.status = Some(status.clone());
    let scheduled = match times::most_recent(cj, now, &schedule, true) {
        Ok((_, t, missed)) => {
            if missed == Missed::Many {
                s.event(
                    cj,
                    true,
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
                );
            }
            t
        }
        Err(e) => {
            s.event(
                cj,
                true,
                "InvalidSchedule",
                format!("invalid schedule: {} : {e}", spec.schedule),
            );
            done!(Ok(Requeue::Done));
        }
    };
    let next = |cj: &CronJob| match times::next_schedule_in(cj, now, &schedule) {
        Some(d) => Ok(Requeue::After(d)),
        None => Ok(Requeue::Done),
    };
    let Some(scheduled) = scheduled else {
        done!(next(cj));
    };
    if let Some(deadline) = spec.starting_deadline_seconds {
        let late = scheduled
            .checked_add(jiff::SignedDuration::from_secs(deadline))
            .is_ok_and(|d| d < now);
        if late {
            s.event(
                cj,
                true,
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    times::rfc1123z(scheduled)
                ),
            );
            done!(next(cj));
        }
    }
    let job_name = times::job_name(&cj.name_any(), scheduled);
    let already = status
        .active
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|r| r.name.as_deref() == Some(job_name.as_str()))
        || status
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled);
    if already {
        done!(next(cj));
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    let has_active = !status.active.as_deref().unwrap_or_default().is_empty();
    if policy == "Forbid" && has_active {
        s.event(
            cj,
            false,
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid"
                .into(),
        );
        done!(next(cj));
    }
    if policy == "Replace" {
        for r in status.active.clone().unwrap_or_default() {
            let name = r.name.clone().unwrap_or_default();
            match jobs_api.get_opt(&name).await {
                Ok(Some(j)) => {
                    if delete_job(s, cj, &j).await {
                        remove_active(&mut status, r.uid.as_deref().unwrap_or_default());
                        changed = true;
                    } else {
                        done!(Ok(Requeue::After(std::time::Duration::from_secs(1))));
                    }
                }
                Ok(None) => {}
                Err(e) => done!(Err(e.into())),
            }
        }
    }
    let job = job_for(cj, &job_name, scheduled, &tz);
    match jobs_api.create(&PostParams::default(), &job).await {
        Ok(created) => {
            s.event(
                cj,
                false,
                "SuccessfulCreate",
                format!("Created job {job_name}"),
            );
            status
                .active
                .get_or_insert_with(Vec::new)
                .push(ObjectReference {
                    api_version: Some("batch/v1".into()),
                    kind: Some("Job".into()),
                    name: Some(job_name),
                    namespace: Some(ns.clone()),
                    uid: created.metadata.uid.clone(),
                    resource_version: created.metadata.resource_version.clone(),
                    ..Default::default()
                });
            status.last_schedule_time = Some(Time(scheduled));
            changed = true;
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::info!(cronjob = %cj.name_any(), job = %job_name, "job already exists");
            done!(Err(kube::Error::Api(e).into()));
        }
        Err(e) => {
            s.event(
                cj,
                true,
                "FailedCreate",
                format!("Error creating job: {}", api_message(&e)),
            );
            done!(Err(e.into()));
        }
    }
    cj.status = Some(status.clone());
    let r = next(cj);
    done!(r)
}

/// The Job for `scheduled`: the template's labels, annotations and spec, the scheduled-time
/// annotation, and the CronJob as controller.
fn job_for(cj: &CronJob, name: &str, scheduled: jiff::Timestamp, tz: &TimeZone) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIMESTAMP.into(),
        times::scheduled_timestamp(scheduled, tz),
    );
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(cj)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Deletes `job` in the background (its pods follow), recording upstream's events; whether it
/// went.
async fn delete_job(s: &Shared, cj: &mut CronJob, job: &Job) -> bool {
    let api: Api<Job> = Api::namespaced(
        s.client.clone(),
        job.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let result = api
        .delete(&job.name_any(), &DeleteParams::background())
        .await;
    match result {
        Err(e) if !matches!(&e, kube::Error::Api(s) if s.code == 404) => {
            s.event(
                cj,
                true,
                "FailedDelete",
                format!("Deleted job: {}", api_message(&e)),
            );
            false
        }
        _ => {
            if let Some(st) = cj.status.as_mut() {
                remove_active(st, job.metadata.uid.as_deref().unwrap_or_default());
            }
            s.event(
                cj,
                false,
                "SuccessfulDelete",
                format!("Deleted job {}", job.name_any()),
            );
            true
        }
    }
}

/// Deletes the oldest finished Jobs beyond the history limits; whether the status changed.
async fn cleanup_finished(s: &Shared, cj: &mut CronJob, children: &[Arc<Job>]) -> bool {
    let spec = cj.spec.clone().unwrap_or_default();
    if spec.successful_jobs_history_limit.is_none() && spec.failed_jobs_history_limit.is_none() {
        return false;
    }
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for j in children {
        let st = j.status.clone().unwrap_or_default();
        if is_true(&st, types::COMPLETE) {
            succeeded.push(j.clone());
        } else if is_true(&st, types::FAILED) {
            failed.push(j.clone());
        }
    }
    let mut changed = false;
    for (mut list, limit) in [
        (succeeded, spec.successful_jobs_history_limit),
        (failed, spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let excess = list
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            continue;
        }
        list.sort_by(|a, b| {
            let start = |j: &Job| {
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
            };
            match (start(a), start(b)) {
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (x, y) if x == y => a.name_any().cmp(&b.name_any()),
                (x, y) => x.cmp(&y),
            }
        });
        for j in list.iter().take(excess) {
            if delete_job(s, cj, j).await {
                changed = true;
            }
        }
    }
    changed
}
