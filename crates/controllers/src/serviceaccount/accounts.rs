//! The ServiceAccount controller: every active namespace has a ServiceAccount named
//! `default`; one that is deleted is created again. Namespace changes and ServiceAccount
//! deletions enqueue the namespace; reconcile compares the cache with that single desired
//! object.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};

use crate::context::Context;
use crate::informer::{self, Change};
use crate::workqueue::{Requeue, WorkQueue, run_workers};

/// The ServiceAccount every namespace gets.
pub const DEFAULT_NAME: &str = "default";

/// What went wrong (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

struct Shared {
    client: Client,
    namespaces: Store<Namespace>,
    accounts: Store<ServiceAccount>,
}

/// Runs the controller until dropped.
pub async fn run(ctx: Context) {
    let queue: WorkQueue<String> = WorkQueue::new("serviceaccount", ctx.metrics.clone());
    let q = queue.clone();
    let (namespaces, _ns_task) = informer::spawn(
        Api::<Namespace>::all(ctx.client.clone()),
        watcher::Config::default(),
        move |change| match change {
            Change::Added(ns) | Change::Updated { new: ns, .. } => q.add(ns.name_any()),
            Change::Deleted(_) => {}
        },
    );
    let q = queue.clone();
    let (accounts, _sa_task) = informer::spawn(
        Api::<ServiceAccount>::all(ctx.client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={DEFAULT_NAME}")),
        move |change| {
            if let Change::Deleted(sa) = change
                && let Some(ns) = sa.namespace()
            {
                q.add(ns);
            }
        },
    );
    namespaces.wait_until_ready().await.ok();
    accounts.wait_until_ready().await.ok();
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        namespaces,
        accounts,
    });
    run_workers(queue, ctx.workers, move |ns: String| {
        let shared = shared.clone();
        async move { reconcile(&shared, &ns).await }
    })
    .await;
}

async fn reconcile(s: &Shared, ns: &str) -> Result<Requeue, Error> {
    let Some(namespace) = s.namespaces.get(&ObjectRef::new(ns)) else {
        return Ok(Requeue::Done);
    };
    if !super::is_active(&namespace) {
        return Ok(Requeue::Done);
    }
    if s.accounts
        .get(&ObjectRef::new(DEFAULT_NAME).within(ns))
        .is_some()
    {
        return Ok(Requeue::Done);
    }
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_NAME.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(s.client.clone(), ns);
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(Requeue::Done),
        // Already there (the cache lagged), or the namespace is closing: nothing to do.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Requeue::Done),
        Err(e) if super::namespace_closed(&e) => Ok(Requeue::Done),
        Err(e) => Err(e.into()),
    }
}
