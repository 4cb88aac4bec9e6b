//! The ReplicaSet and ReplicationController controllers: one implementation serving both
//! kinds (as upstream's replication manager is the ReplicaSet controller behind an adapter,
//! [`workload::Workload`]).
//!
//! Watch events only enqueue owner keys ([`handlers`]); a sync ([`sync`]) re-reads the cache,
//! claims pods ([`claim`]), creates or deletes pods towards `spec.replicas` in slow-start
//! batches guarded by expectations, deleting in upstream's order ([`pods`]), and writes the
//! status ([`status`]).

pub mod claim;
pub mod handlers;
pub mod pods;
pub mod status;
pub mod sync;
pub mod workload;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::Api;
use kube::runtime::watcher;

use crate::context::Context;
use crate::expectations::Expectations;
use crate::informer;
use crate::pod_control::{PodControl, PodControlError, api_message};
use crate::workqueue::{WorkQueue, run_workers};
use workload::Workload;

/// Upstream's `BurstReplicas`: at most this many creates or deletes per sync.
pub const BURST_REPLICAS: usize = 500;

/// What went wrong syncing an owner (the key is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
    /// Creating or deleting a pod failed.
    #[error(transparent)]
    Pods(#[from] PodControlError),
    /// The owner changed identity or started deleting while pods were being adopted.
    #[error("{0}")]
    OwnerChanged(String),
}

/// Runs the ReplicaSet controller (`replicaset-controller`).
pub async fn run_replicasets(ctx: Context) {
    run::<ReplicaSet>(ctx).await
}

/// Runs the ReplicationController controller (`replicationcontroller-controller`).
pub async fn run_replication_controllers(ctx: Context) {
    run::<ReplicationController>(ctx).await
}

/// Runs the controller for kind `W` until the future is dropped.
pub async fn run<W: Workload>(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new(W::QUEUE, ctx.metrics.clone());
    let expectations = Expectations::new();
    let (owners, _owners_watch) = informer::spawn(
        Api::<W>::all(ctx.client.clone()),
        watcher::Config::default(),
        handlers::on_owner::<W>(queue.clone(), expectations.clone()),
    );
    let (pods, _pods_watch) = informer::spawn(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default(),
        handlers::on_pod::<W>(owners.clone(), queue.clone(), expectations.clone()),
    );
    if owners.wait_until_ready().await.is_err() || pods.wait_until_ready().await.is_err() {
        return;
    }
    tracing::info!(controller = W::QUEUE, "caches synced; syncing");
    let controller = Arc::new(sync::Controller {
        client: ctx.client.clone(),
        owners,
        pods,
        expectations,
        pod_control: PodControl::new(ctx.client.clone(), ctx.recorder(W::EVENT_SOURCE)),
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    })
    .await;
}
