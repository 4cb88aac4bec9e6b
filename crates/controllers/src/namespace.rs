//! The namespace controller: empties a namespace that is being deleted, then removes its
//! `kubernetes` finalizer through `/finalize`, which lets the apiserver delete it.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use rkube_api::resources::{BUILTIN, is_storage_version, is_virtual};
use std::sync::Arc;
use std::time::Duration;

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

/// What went wrong reconciling a namespace (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{0}")]
    Api(#[from] kube::Error),
}

/// Runs the controller until the watch ends.
pub async fn run(client: Client) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    Controller::new(namespaces, watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client))
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(error = %e, "namespace reconcile failed");
            }
        })
        .await;
}

fn error_policy(_ns: Arc<Namespace>, _error: &Error, _client: Arc<Client>) -> Action {
    Action::requeue(Duration::from_secs(2))
}

/// Level-triggered: re-reads the namespace, deletes what is left in it, and finalizes once
/// nothing remains.
async fn reconcile(ns: Arc<Namespace>, client: Arc<Client>) -> Result<Action, Error> {
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(Action::await_change());
    }
    let has_finalizer = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER));
    if !has_finalizer {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let mut remaining = 0;
    // Each stored resource once: other versions of it (events.k8s.io Events…) are views.
    let stored = BUILTIN
        .iter()
        .filter(|r| r.namespaced && !is_virtual(r) && is_storage_version(r));
    for info in stored {
        let gvk = GroupVersionKind::gvk(info.group, info.version, info.kind);
        let resource = ApiResource::from_gvk_with_plural(&gvk, info.plural);
        let api: Api<DynamicObject> = Api::namespaced_with((*client).clone(), &name, &resource);
        let left = api.list_metadata(&ListParams::default()).await?;
        if left.items.is_empty() {
            continue;
        }
        remaining += left.items.len();
        api.delete_collection(&DeleteParams::background(), &ListParams::default())
            .await?;
    }
    if remaining > 0 {
        tracing::info!(namespace = %name, remaining, "waiting for the namespace's objects to go");
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let api: Api<Namespace> = Api::all((*client).clone());
    let mut finalized = (*ns).clone();
    if let Some(f) = finalized.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        f.retain(|x| x != FINALIZER);
    }
    api.replace_subresource("finalize", &name, &PostParams::default(), &finalized)
        .await?;
    tracing::info!(namespace = %name, "namespace emptied and finalized");
    Ok(Action::await_change())
}
