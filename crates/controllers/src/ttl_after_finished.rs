//! The TTL-after-finished controller, as upstream's: deletes a finished Job (Complete or
//! Failed) `ttlSecondsAfterFinished` seconds after it finished, with foreground propagation so
//! its pods go first. The finish time is the terminal condition's lastTransitionTime; before
//! deleting, the Job is read again from the apiserver (the TTL may have changed) and the delete
//! is conditional on its UID.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::clock::Clock;
use crate::context::Context;
use crate::informer::{self, Change};
use crate::job::conditions::types;
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// What went wrong (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

struct Shared {
    client: Client,
    jobs: Store<Job>,
    clock: Clock,
}

fn key_of(job: &Job) -> String {
    format!(
        "{}/{}",
        job.metadata.namespace.as_deref().unwrap_or_default(),
        job.name_any()
    )
}

/// When the Job expires, if it has a TTL, has finished and is not being deleted.
pub fn expires_at(job: &Job) -> Option<Timestamp> {
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let finished = job
        .status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .filter(|c| (c.type_ == types::COMPLETE || c.type_ == types::FAILED) && c.status == "True")
        .find_map(|c| c.last_transition_time.as_ref())?;
    finished
        .0
        .checked_add(jiff::SignedDuration::from_secs(i64::from(ttl)))
        .ok()
}

/// Runs the controller on the system clock.
pub async fn run(ctx: Context) {
    run_with_clock(ctx, Clock::system()).await
}

/// Runs the controller with `clock` (a jump re-examines every Job).
pub async fn run_with_clock(ctx: Context, clock: Clock) {
    let queue: WorkQueue<String> = WorkQueue::new("ttl_jobs_to_delete", ctx.metrics.clone());
    let q = queue.clone();
    let (jobs, _task) = informer::spawn(
        Api::<Job>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| {
            if let Change::Added(j) | Change::Updated { new: j, .. } = change
                && expires_at(&j).is_some()
            {
                q.add(key_of(&j));
            }
        },
    );
    jobs.wait_until_ready().await.ok();
    let q = queue.clone();
    let all = jobs.clone();
    let _jumps = clock.on_jump(move || {
        for j in all.state() {
            if expires_at(&j).is_some() {
                q.add(key_of(&j));
            }
        }
    });
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        jobs,
        clock,
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
    let Some(cached) = s.jobs.get(&ObjectRef::new(name).within(ns)) else {
        return Ok(Requeue::Done);
    };
    let Some(at) = expires_at(&cached) else {
        return Ok(Requeue::Done);
    };
    let left = s.clock.until(at);
    if left > Duration::ZERO {
        return Ok(Requeue::After(left));
    }
    // The cache may be stale: decide on the stored Job.
    let api: Api<Job> = Api::namespaced(s.client.clone(), ns);
    let Some(fresh) = api.get_opt(name).await? else {
        return Ok(Requeue::Done);
    };
    let Some(at) = expires_at(&fresh) else {
        return Ok(Requeue::Done);
    };
    let left = s.clock.until(at);
    if left > Duration::ZERO {
        return Ok(Requeue::After(left));
    }
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: fresh.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    tracing::info!(job = %key, "deleting job: its TTL after finishing expired");
    match api.delete(name, &dp).await {
        Ok(_) => Ok(Requeue::Done),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(Requeue::Done),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_from_the_terminal_condition() {
        let job = |ttl: Option<i32>, cond: &str, status: &str| -> Job {
            serde_json::from_value(json!({"metadata": {"name": "j"},
                "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
                "status": {"conditions": [{"type": cond, "status": status,
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}))
            .unwrap()
        };
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            expires_at(&job(Some(30), "Complete", "True")),
            Some(at("2024-01-01T00:00:30Z"))
        );
        assert_eq!(
            expires_at(&job(Some(0), "Failed", "True")),
            Some(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(expires_at(&job(None, "Complete", "True")), None);
        assert_eq!(expires_at(&job(Some(30), "Suspended", "True")), None);
        assert_eq!(expires_at(&job(Some(30), "Complete", "False")), None);
    }
}
