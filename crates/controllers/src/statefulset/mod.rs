//! The StatefulSet controller (`statefulset-controller`), as upstream's: pods with stable
//! identities (`<set>-<ordinal>`, hostname, subdomain, per-pod claims from
//! `volumeClaimTemplates`), created in order (OrderedReady) or all at once (Parallel), removed
//! in reverse order, updated by RollingUpdate (partition, maxUnavailable) or OnDelete, with
//! ControllerRevisions recording templates and `persistentVolumeClaimRetentionPolicy` carried
//! out through ownerReferences.
//!
//! Watches StatefulSets, Pods, PersistentVolumeClaims and ControllerRevisions; handlers only
//! enqueue keys ([`handlers`]); a sync ([`sync`]) re-reads the caches.

pub mod handlers;
pub mod identity;
pub mod pending;
pub mod pods;
pub mod retention;
pub mod revisions;
pub mod status;
pub mod sync;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::Api;
use kube::runtime::watcher;

use crate::context::Context;
use crate::history::{History, HistoryError};
use crate::informer;
use crate::pod_control::api_message;
use crate::workqueue::{WorkQueue, run_workers};

/// The controller's name (events' source, work queue).
pub const NAME: &str = "statefulset-controller";

/// What went wrong syncing a set (the key is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
    /// Claiming pods failed.
    #[error(transparent)]
    Claim(#[from] crate::replicaset::Error),
    /// Reading or writing revisions failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A claim could not be created, was being deleted, or its owners not updated.
    #[error("{0}")]
    Storage(String),
    /// The template could not be encoded into a revision.
    #[error("encoding revision data: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Runs the StatefulSet controller until the future is dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("statefulset", ctx.metrics.clone());
    let client = ctx.client.clone();
    let (sets, _sets_watch) = informer::spawn(
        Api::<StatefulSet>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_set(queue.clone()),
    );
    let (pods, _pods_watch) = informer::spawn(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_dependent::<Pod>(sets.clone(), queue.clone()),
    );
    let (claims, _claims_watch) = informer::spawn(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_dependent::<PersistentVolumeClaim>(sets.clone(), queue.clone()),
    );
    let (revisions, _revisions_watch) = informer::spawn(
        Api::<ControllerRevision>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_dependent::<ControllerRevision>(sets.clone(), queue.clone()),
    );
    for ready in [
        sets.wait_until_ready().await.is_ok(),
        pods.wait_until_ready().await.is_ok(),
        claims.wait_until_ready().await.is_ok(),
        revisions.wait_until_ready().await.is_ok(),
    ] {
        if !ready {
            return;
        }
    }
    tracing::info!(controller = NAME, "caches synced; syncing");
    let controller = Arc::new(sync::Controller {
        client: client.clone(),
        sets,
        pods,
        history: History::new(client.clone(), revisions),
        pod_control: pods::StatefulPodControl {
            client,
            claims,
            events: ctx.recorder(NAME),
        },
        pending: pending::Pending::default(),
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    })
    .await;
}
