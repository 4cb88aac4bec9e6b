//! The garbage collector (upstream's `garbage-collector-controller`): keeps a graph of
//! ownerReferences across every stored resource (metadata-only watches) and
//! - deletes dependents whose owners are all gone (an owner counts as gone when a live read
//!   finds no object with its uid); dependents that still have a live owner only lose their
//!   references to the gone ones;
//! - drives foreground deletion: an owner with `deletionTimestamp` and the
//!   `foregroundDeletion` finalizer has its dependents deleted (in the foreground too), and
//!   loses the finalizer once no dependent with `blockOwnerDeletion` is left;
//! - drives orphaning: an owner with the `orphan` finalizer has its reference removed from
//!   every dependent, then loses the finalizer.
//!
//! [`graph`] is the pure graph, [`monitors`] feed it, [`workers`] act, [`api`] talks to the
//! apiserver.

pub mod api;
pub mod graph;
pub mod monitors;
mod workers;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use kube::Client;

use crate::context::Context;
use crate::workqueue::{WorkQueue, run_workers};
use graph::{Graph, Identity, Meta, Work};

/// The finalizer of an owner whose dependents are orphaned.
pub const ORPHAN: &str = "orphan";
/// The finalizer of an owner deleted in the foreground.
pub const FOREGROUND: &str = "foregroundDeletion";

/// Upstream's `--concurrent-gc-syncs` default.
pub const DEFAULT_WORKERS: usize = 20;
/// Owner uids remembered as absent at most (upstream's absent-owner cache is an LRU of 500;
/// this one is cleared when full).
const ABSENT_CACHE: usize = 10_000;

/// The garbage collector's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Workers per queue (`--concurrent-gc-syncs`).
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            workers: DEFAULT_WORKERS,
        }
    }
}

/// What went wrong processing an item (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// An owner reference names a kind the apiserver does not serve.
    #[error("unknown owner kind {kind} in {api_version}")]
    UnknownKind {
        /// The reference's `apiVersion`.
        api_version: String,
        /// The reference's `kind`.
        kind: String,
    },
    /// Writes kept conflicting with other writers.
    #[error("object {0} kept changing; retrying")]
    Conflict(String),
    /// The object exists but its monitor has not reported it yet.
    #[error("object {0} not yet observed by its monitor")]
    NotObserved(String),
}

/// State shared by the monitors and the workers.
pub struct Shared {
    client: Client,
    graph: Mutex<Graph>,
    absent: Mutex<HashSet<String>>,
    delete_queue: WorkQueue<String>,
    orphan_queue: WorkQueue<String>,
}

impl Shared {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        // Every graph change is applied whole under the lock: a poisoned one is consistent.
        self.graph.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn absent(&self) -> MutexGuard<'_, HashSet<String>> {
        self.absent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_absent(&self, uid: &str) -> bool {
        self.absent().contains(uid)
    }

    fn mark_absent(&self, uid: &str) {
        let mut a = self.absent();
        if a.len() >= ABSENT_CACHE {
            a.clear();
        }
        a.insert(uid.to_string());
    }

    fn enqueue(&self, work: Work) {
        for uid in work.delete {
            self.delete_queue.add(uid);
        }
        for uid in work.orphan {
            self.orphan_queue.add(uid);
        }
    }

    fn upsert(&self, monitor: usize, meta: Meta) {
        let work = self.graph().upsert(monitor, meta);
        self.enqueue(work);
    }

    fn remove(&self, uid: &str) {
        let (work, had_dependents) = self.graph().remove(uid);
        if had_dependents {
            self.mark_absent(uid);
        }
        self.enqueue(work);
    }

    fn remove_verified_absent(&self, id: &Identity) {
        let (work, had_dependents) = self.graph().remove_verified_absent(id);
        if had_dependents {
            self.mark_absent(&id.uid);
        }
        self.enqueue(work);
    }
}

/// Runs the garbage collector with upstream's defaults.
pub async fn run(ctx: Context) {
    let config = Config {
        workers: DEFAULT_WORKERS,
    };
    run_with(ctx, config).await;
}

/// Runs the garbage collector until dropped: monitors first, workers once every monitor has
/// listed (so decisions never rest on a half-built graph).
pub async fn run_with(ctx: Context, config: Config) {
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        graph: Mutex::new(Graph::default()),
        absent: Mutex::new(HashSet::new()),
        delete_queue: WorkQueue::new("garbage_collector_attempt_to_delete", ctx.metrics.clone()),
        orphan_queue: WorkQueue::new("garbage_collector_attempt_to_orphan", ctx.metrics.clone()),
    });
    let resources = monitors::resources();
    let (synced_tx, mut synced_rx) = tokio::sync::watch::channel(0usize);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, info) in resources.iter().enumerate() {
        tasks.spawn(monitors::run(
            shared.clone(),
            index,
            info,
            synced_tx.clone(),
        ));
    }
    if synced_rx.wait_for(|n| *n >= resources.len()).await.is_err() {
        return;
    }
    tracing::info!(
        resources = resources.len(),
        nodes = shared.graph().len(),
        "garbage collector graph synced"
    );
    let deleter = shared.clone();
    let orphaner = shared.clone();
    tokio::join!(
        run_workers(
            shared.delete_queue.clone(),
            config.workers,
            move |uid: String| {
                let s = deleter.clone();
                async move { s.attempt_to_delete(uid).await }
            }
        ),
        run_workers(
            shared.orphan_queue.clone(),
            config.workers,
            move |uid: String| {
                let s = orphaner.clone();
                async move { s.attempt_to_orphan(uid).await }
            }
        ),
    );
    drop(tasks);
}
