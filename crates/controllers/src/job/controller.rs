//! The Job controller's watches, queue and reconcile (the IO around [`super::sync::plan`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use super::backoff::Record;
use super::pods::{self, TRACKING_FINALIZER};
use super::sync::{self, Event, Observed};
use crate::clock::Clock;
use crate::context::Context;
use crate::expectations::Expectations;
use crate::informer::{self, Change};
use crate::pod_control::{self, PodControl, PodControlError};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The component Job events are reported as.
pub const COMPONENT: &str = "job-controller";
/// The `spec.managedBy` value this controller handles (absent means the same).
const MANAGED_BY: &str = "kubernetes.io/job-controller";

/// What went wrong syncing a Job (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// Creating or deleting a pod failed.
    #[error("{0}")]
    Pods(#[from] PodControlError),
}

struct Shared {
    client: Client,
    jobs: Store<Job>,
    pods: Store<Pod>,
    expectations: Expectations,
    backoff: Mutex<HashMap<String, Record>>,
    control: PodControl,
    clock: Clock,
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// The key of the Job controlling `pod`, if a Job does.
fn owner_key(pod: &Pod) -> Option<String> {
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true))?;
    (owner.kind == "Job" && owner.api_version == "batch/v1").then(|| {
        key_of(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            &owner.name,
        )
    })
}

/// Runs the controller on the system clock.
pub async fn run(ctx: Context) {
    run_with_clock(ctx, Clock::system()).await
}

/// Runs the controller with `clock` (a jump re-examines every Job).
pub async fn run_with_clock(ctx: Context, clock: Clock) {
    let queue: WorkQueue<String> = WorkQueue::new("job", ctx.metrics.clone());
    let expectations = Expectations::new();
    let q = queue.clone();
    let (jobs, _jobs_task) = informer::spawn(
        Api::<Job>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            let job = match change {
                Change::Added(j) | Change::Updated { new: j, .. } | Change::Deleted(j) => j,
            };
            q.add(key_of(
                job.metadata.namespace.as_deref().unwrap_or_default(),
                &job.name_any(),
            ));
        },
    );
    let q = queue.clone();
    let e = expectations.clone();
    let (pods, _pods_task) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            let (pod, observed_delete) = match &change {
                Change::Added(p) => {
                    if let Some(k) = owner_key(p) {
                        e.creation_observed(&k);
                    }
                    (p, false)
                }
                Change::Updated { old, new } => (
                    new,
                    old.metadata.deletion_timestamp.is_none()
                        && new.metadata.deletion_timestamp.is_some(),
                ),
                Change::Deleted(p) => (p, true),
            };
            let Some(k) = owner_key(pod) else { return };
            if observed_delete {
                let pod_key = key_of(
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    &pod.name_any(),
                );
                e.deletion_observed(&k, &pod_key);
            }
            q.add(k);
        },
    );
    jobs.wait_until_ready().await.ok();
    pods.wait_until_ready().await.ok();
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        jobs: jobs.clone(),
        pods,
        expectations,
        backoff: Mutex::new(HashMap::new()),
        control: PodControl::new(ctx.client.clone(), ctx.recorder(COMPONENT)),
        clock: clock.clone(),
    });
    let q = queue.clone();
    let _jumps_task = clock.on_jump(move || {
        for j in jobs.state() {
            q.add(key_of(
                j.metadata.namespace.as_deref().unwrap_or_default(),
                &j.name_any(),
            ));
        }
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let shared = shared.clone();
        async move { reconcile(&shared, &key).await }
    })
    .await;
}

async fn reconcile(s: &Shared, key: &str) -> Result<Requeue, Error> {
    let Some((ns, name)) = key.split_once('/') else {
        return Ok(Requeue::Done);
    };
    let Some(job) = s.jobs.get(&ObjectRef::new(name).within(ns)) else {
        s.expectations.delete(key);
        lock(&s.backoff).remove(key);
        release_orphans(s, ns, |p| owner_key(p).as_deref() == Some(key)).await?;
        return Ok(Requeue::Done);
    };
    let spec = job.spec.clone().unwrap_or_default();
    if spec.managed_by.as_deref().is_some_and(|m| m != MANAGED_BY) {
        return Ok(Requeue::Done);
    }
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let owned = |p: &Pod| {
        p.metadata.namespace.as_deref() == Some(ns)
            && p.owner_references()
                .iter()
                .any(|o| o.controller == Some(true) && o.uid == uid)
    };
    let status = job.status.clone().unwrap_or_default();
    if super::conditions::is_finished(&status) {
        lock(&s.backoff).remove(key);
        release_orphans(s, ns, owned).await?;
        return Ok(Requeue::Done);
    }
    if let Some(mode) = spec.completion_mode.as_deref()
        && mode != "NonIndexed"
        && mode != "Indexed"
    {
        record(
            s,
            &job,
            &Event {
                warning: true,
                reason: "UnknownCompletionMode".into(),
                message: "Skipped Job sync because completion mode is unknown".into(),
            },
        );
        return Ok(Requeue::Done);
    }
    let satisfied = s.expectations.satisfied(key);
    let owned_pods: Vec<Arc<Pod>> = s.pods.state().into_iter().filter(|p| owned(p)).collect();
    let previous = lock(&s.backoff).get(key).copied().unwrap_or_default();
    let now = s.clock.now();
    let plan = sync::plan(&Observed {
        job: &job,
        pods: &owned_pods,
        now,
        backoff: previous,
        expectations_satisfied: satisfied,
    });
    let pod_api: Api<Pod> = Api::namespaced(s.client.clone(), ns);
    let by_name: HashMap<&str, &Arc<Pod>> = owned_pods
        .iter()
        .map(|p| (p.metadata.name.as_deref().unwrap_or_default(), p))
        .collect();
    let owner = pod_control::object_ref(&*job);
    let mut status = plan.status.clone();
    let mut first_error: Option<Error> = None;

    // Deletions.
    if !plan.delete.is_empty() {
        s.expectations
            .expect_deletions(key, plan.delete.iter().map(|d| key_of(ns, &d.name)));
    }
    let deletions = plan.delete.iter().map(|d| {
        let pod = by_name.get(d.name.as_str()).cloned();
        let pod_api = pod_api.clone();
        let owner = owner.clone();
        async move {
            if d.remove_finalizer_first
                && let Some(p) = &pod
            {
                remove_finalizer(&pod_api, p).await?;
            }
            match s.control.delete(ns, &d.name, &owner).await {
                Err(e) if !e.is_not_found() => Err(Error::from(e)),
                _ => Ok(()),
            }
        }
    });
    let mut delete_failures = 0;
    for (d, r) in plan
        .delete
        .iter()
        .zip(futures::future::join_all(deletions).await)
    {
        if let Err(e) = r {
            s.expectations.deletion_observed(key, &key_of(ns, &d.name));
            delete_failures += 1;
            first_error.get_or_insert(e);
        }
    }

    // Creations, in slow-start batches.
    let mut create_failures = 0;
    if !plan.create.is_empty() {
        let n = plan.create.len();
        s.expectations.expect_creations(key, n);
        let cref = pod_control::controller_ref(&*job);
        let (ok, err) =
            pod_control::slow_start_batch(n, pod_control::SLOW_START_INITIAL_BATCH_SIZE, |i| {
                let index = plan.create[i];
                let template = pods::template_for(&job, index);
                let generate = pods::generate_name(&job, index);
                let (owner, cref) = (owner.clone(), cref.clone());
                async move {
                    s.control
                        .create(ns, &template, &owner, cref, Some(generate))
                        .await
                }
            })
            .await;
        if ok < n {
            s.expectations.lower_creations(key, n - ok);
            create_failures = (n - ok) as i32;
        }
        if let Some(e) = err
            && !e.is_namespace_terminating()
        {
            first_error.get_or_insert(e.into());
        }
    }
    status.active = Some(status.active.unwrap_or(0) - create_failures + delete_failures);
    let mut finish = plan.finish.clone();
    if delete_failures > 0 && plan.finish_needs_deletes {
        finish = None;
    }

    // Record finished pods before their finalizers go.
    let mut job_now = (*job).clone();
    if Some(&status) != job.status.as_ref() {
        job_now = write_status(s, &job_now, status.clone()).await?;
    }
    let mut removed = HashSet::new();
    for name in &plan.unfinalize {
        let Some(p) = by_name.get(name.as_str()) else {
            continue;
        };
        match remove_finalizer(&pod_api, p).await {
            Ok(()) => {
                removed.insert(p.metadata.uid.clone().unwrap_or_default());
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    lock(&s.backoff).insert(key.to_string(), plan.backoff);

    // Count what was released; finish when nothing is left.
    let finalized: HashSet<String> = owned_pods
        .iter()
        .filter(|p| pods::has_finalizer(p))
        .filter_map(|p| p.metadata.uid.clone())
        .filter(|u| !removed.contains(u))
        .collect();
    let mut after = status.clone();
    let mut uncounted = after.uncounted_terminated_pods.take().unwrap_or_default();
    sync::count_unfinalized(&mut after, &mut uncounted, &finalized);
    after.uncounted_terminated_pods = Some(uncounted);
    let finished = match &finish {
        Some(f) if !plan.uncounted_full && first_error.is_none() => {
            sync::enact_finish(&mut after, f)
        }
        _ => false,
    };
    if after != status {
        job_now = write_status(s, &job_now, after.clone()).await?;
    }
    for e in &plan.events {
        record(s, &job_now, e);
    }
    if finished && let Some(f) = &finish {
        for e in sync::finish_events(&job_now, &after, f) {
            record(s, &job_now, &e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(match plan.requeue_after {
        Some(d) => Requeue::After(d),
        None => Requeue::Done,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn record(s: &Shared, job: &Job, e: &Event) {
    s.control.events().record(
        pod_control::object_ref(job),
        e.warning,
        &e.reason,
        &e.reason,
        e.message.clone(),
    );
}

/// Writes `status` on `job` (conditional on its resourceVersion), returning the stored Job.
async fn write_status(s: &Shared, job: &Job, status: JobStatus) -> Result<Job, Error> {
    let api: Api<Job> = Api::namespaced(
        s.client.clone(),
        job.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let mut updated = job.clone();
    updated.status = Some(status);
    Ok(api
        .replace_status(&job.name_any(), &PostParams::default(), &updated)
        .await?)
}

/// Removes the tracking finalizer from `pod` (a pod already gone counts as done). The patch is
/// conditional on the pod's resourceVersion so no other finalizer is lost; on a conflict the
/// pod is read again once.
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
    let mut current = pod.clone();
    for attempt in 0..2 {
        let list = current.metadata.finalizers.clone().unwrap_or_default();
        if !list.iter().any(|f| f == TRACKING_FINALIZER) {
            return Ok(());
        }
        let rest: Vec<String> = list
            .into_iter()
            .filter(|f| f != TRACKING_FINALIZER)
            .collect();
        let patch = serde_json::json!({"metadata": {
            "resourceVersion": current.metadata.resource_version,
            "finalizers": rest,
        }});
        match api
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && attempt == 0 => {
                match api.get_opt(&pod.name_any()).await? {
                    Some(p) if p.metadata.uid == pod.metadata.uid => current = p,
                    _ => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Releases the tracking finalizer of pods in `ns` that `matches` selects (their Job is gone
/// or finished).
async fn release_orphans(
    s: &Shared,
    ns: &str,
    matches: impl Fn(&Pod) -> bool,
) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(s.client.clone(), ns);
    for p in s.pods.state() {
        if p.metadata.namespace.as_deref() == Some(ns) && pods::has_finalizer(&p) && matches(&p) {
            remove_finalizer(&api, &p).await?;
        }
    }
    Ok(())
}
