//! The DaemonSet controller (`daemonset-controller`), as upstream's: one pod per eligible
//! node ([`eligibility`]: nodeSelector, required node affinity, taints with the daemon
//! tolerations), placed by the scheduler through required node affinity on the node's name
//! ([`pods`]), kept as nodes come, go and change; RollingUpdate with maxUnavailable/maxSurge
//! ([`rolling`]) or OnDelete; ControllerRevisions ([`revisions`]); status ([`status`]).
//!
//! Watches DaemonSets, Pods, Nodes and ControllerRevisions; handlers only enqueue keys
//! ([`handlers`]); a sync ([`sync`]) re-reads the caches.

pub mod eligibility;
pub mod handlers;
pub mod pods;
pub mod revisions;
pub mod rolling;
pub mod status;
pub mod strategy;
pub mod sync;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::watcher;

use crate::context::Context;
use crate::expectations::Expectations;
use crate::history::{History, HistoryError};
use crate::informer;
use crate::pod_control::{PodControl, PodControlError, api_message};
use crate::workqueue::{WorkQueue, run_workers};

/// The controller's name (events' source).
pub const NAME: &str = "daemonset-controller";

/// What went wrong syncing a set (the key is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
    /// Claiming pods failed.
    #[error(transparent)]
    Claim(#[from] crate::replicaset::Error),
    /// Creating or deleting a pod failed.
    #[error(transparent)]
    Pods(#[from] PodControlError),
    /// Reading or writing revisions failed (or a hash collision must be retried).
    #[error("{0}")]
    History(String),
    /// The template could not be encoded into a revision.
    #[error("encoding revision data: {0}")]
    Encode(#[from] serde_json::Error),
}

impl From<HistoryError> for Error {
    fn from(e: HistoryError) -> Error {
        Error::History(e.to_string())
    }
}

/// Runs the DaemonSet controller until the future is dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("daemonset", ctx.metrics.clone());
    let client = ctx.client.clone();
    let expectations = Expectations::new();
    let (sets, _sets_watch) = informer::spawn(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_set(queue.clone(), expectations.clone()),
    );
    let (pods, _pods_watch) = informer::spawn(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_pod(sets.clone(), queue.clone(), expectations.clone()),
    );
    let (nodes, _nodes_watch) = informer::spawn(
        Api::<Node>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_node(sets.clone(), queue.clone()),
    );
    let (revisions, _revisions_watch) = informer::spawn(
        Api::<ControllerRevision>::all(client.clone()),
        watcher::Config::default(),
        handlers::on_revision(sets.clone(), queue.clone()),
    );
    for ready in [
        sets.wait_until_ready().await.is_ok(),
        pods.wait_until_ready().await.is_ok(),
        nodes.wait_until_ready().await.is_ok(),
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
        nodes,
        history: History::new(client.clone(), revisions),
        expectations,
        pod_control: PodControl::new(client, ctx.recorder(NAME)),
        failed_backoff: Default::default(),
    });
    run_workers(queue, ctx.workers, move |key: String| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    })
    .await;
}
