//! The Deployment controller (`deployment-controller`), as upstream's: a Deployment manages
//! ReplicaSets (the ReplicaSet controller makes their pods), one per pod template, named
//! `<deployment>-<pod-template-hash>`.
//!
//! Watch events only enqueue Deployment keys ([`handlers`]). A sync ([`sync`]) re-reads the
//! caches, claims ReplicaSets by selector ([`claim`]), then, in upstream's order: status only
//! for a Deployment being deleted; the paused condition ([`sync::Controller::check_paused`]);
//! scaling only while paused or when the Deployment was resized ([`scale`], proportional
//! across the active ReplicaSets); the legacy rollback annotation ([`rollback`]); otherwise a
//! rollout step — [`rolling`] (maxSurge/maxUnavailable) or [`recreate`] — followed by old
//! ReplicaSets' cleanup to revisionHistoryLimit and the status with its Progressing and
//! Available conditions ([`progress`], [`status`]).
//!
//! Writes use the cached objects' resourceVersions, so a stale cache ends in a conflict and a
//! retry rather than a wrong step (the controller keeps no expectations, as upstream).

pub mod annotations;
pub mod claim;
pub mod conditions;
pub mod fenceposts;
pub mod handlers;
pub mod hash;
pub mod history;
pub mod new_replica_set;
pub mod progress;
pub mod recreate;
pub mod replicasets;
pub mod rollback;
pub mod rolling;
pub mod scale;
pub mod status;
pub mod sync;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;

use crate::context::Context;
use crate::informer;
use crate::pod_control::api_message;
use crate::workqueue::{WorkQueue, run_workers};

/// The events' source component (upstream's).
pub const EVENT_SOURCE: &str = "deployment-controller";
/// The work queue's (and metrics') name.
pub const QUEUE: &str = "deployment";
/// The event reason of every ReplicaSet scaling.
pub const SCALING_REPLICA_SET: &str = "ScalingReplicaSet";

/// What went wrong syncing a Deployment (the key is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed (a conflict means the cache was stale).
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
    /// The Deployment changed identity or started deleting while ReplicaSets were adopted.
    #[error("{0}")]
    OwnerChanged(String),
    /// A ReplicaSet's status is behind its spec (more available pods than desired).
    #[error("{0}")]
    StaleStatus(String),
    /// The new ReplicaSet's name is taken by another template; the collision count was raised.
    #[error("hash collision for {0}: collisionCount raised")]
    HashCollision(String),
}

/// Runs the Deployment controller until the future is dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new(QUEUE, ctx.metrics.clone());
    let (deployments, _deployments_watch) = informer::spawn(
        Api::<Deployment>::all(ctx.client.clone()),
        watcher::Config::default(),
        handlers::on_deployment(queue.clone()),
    );
    let (replicasets, _replicasets_watch) = informer::spawn(
        Api::<ReplicaSet>::all(ctx.client.clone()),
        watcher::Config::default(),
        handlers::on_replica_set(deployments.clone(), queue.clone()),
    );
    let (pods, _pods_watch) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default(),
        handlers::on_pod(deployments.clone(), replicasets.clone(), queue.clone()),
    );
    if deployments.wait_until_ready().await.is_err()
        || replicasets.wait_until_ready().await.is_err()
        || pods.wait_until_ready().await.is_err()
    {
        return;
    }
    tracing::info!(controller = QUEUE, "caches synced; syncing");
    let controller = Arc::new(sync::Controller {
        client: ctx.client.clone(),
        deployments,
        replicasets,
        pods,
        recorder: ctx.recorder(EVENT_SOURCE),
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    })
    .await;
}
