//! Claiming pods, as upstream's `ControllerRefManager.ClaimPods`: an owner keeps the pods it
//! controls that still match its selector, releases those that stopped matching (removing its
//! ownerReference), and adopts matching orphans (adding itself as controller) — never while it
//! is being deleted, never a pod that is being deleted, and only after re-reading itself from
//! the apiserver (the cache may not know it was deleted and recreated).
//!
//! Patches are merge patches carrying the pod's uid and resourceVersion, so a pod changed
//! meanwhile is not mis-claimed (the conflict retries the sync).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use rkube_api::selector::LabelSelector;

use super::Error;

/// Re-reads owner `name` (a `K`) before adopting: it must still be the object with `uid` and
/// not being deleted (upstream's `RecheckDeletionTimestamp`), else [`Error::OwnerChanged`].
pub async fn recheck_owner<K>(client: &Client, ns: &str, name: &str, uid: &str) -> Result<(), Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let fresh = Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?;
    match fresh {
        Some(o) if o.meta().uid.as_deref() == Some(uid) => {
            if o.meta().deletion_timestamp.is_some() {
                Err(Error::OwnerChanged(format!(
                    "{} {ns}/{name} has just been deleted",
                    K::kind(&())
                )))
            } else {
                Ok(())
            }
        }
        _ => Err(Error::OwnerChanged(format!(
            "original {} {ns}/{name} is gone: got uid {uid} but the cache is stale",
            K::kind(&())
        ))),
    }
}

/// The owner's controller reference on `pod`, if any.
pub fn controller_of(pod: &Pod) -> Option<&OwnerReference> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// What claiming needs of the owner.
pub struct Owner<'a> {
    /// The owner's controller reference (its UID identifies it).
    pub controller_ref: &'a OwnerReference,
    /// Its selector.
    pub selector: &'a LabelSelector,
    /// Whether it is being deleted.
    pub deleting: bool,
}

/// Claims `pods` for `owner`: the pods it controls afterwards. `recheck` is called once
/// before the first adoption and must fail if the owner is gone or being deleted.
pub async fn claim_pods<F, Fut>(
    client: &Client,
    owner: &Owner<'_>,
    pods: Vec<Arc<Pod>>,
    recheck: F,
) -> Result<Vec<Arc<Pod>>, Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut recheck = Some(recheck);
    let mut claimed = Vec::new();
    let mut first_error = None;
    for pod in pods {
        let labels = pod.labels();
        let matches = owner.selector.matches(labels);
        match controller_of(&pod) {
            Some(r) if r.uid == owner.controller_ref.uid => {
                if matches {
                    claimed.push(pod);
                } else if !owner.deleting {
                    // Release: it no longer matches.
                    if let Err(e) = release(client, &pod, &owner.controller_ref.uid).await {
                        first_error.get_or_insert(e);
                    }
                }
            }
            Some(_) => {} // Someone else's.
            None => {
                if !matches || owner.deleting || pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if let Some(check) = recheck.take() {
                    check().await?;
                }
                match adopt(client, &pod, owner.controller_ref).await {
                    Ok(adopted) => claimed.push(Arc::new(adopted)),
                    // Gone meanwhile: nothing to adopt.
                    Err(Error::Api(kube::Error::Api(s))) if s.code == 404 => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(claimed),
    }
}

/// A merge patch of the pod's ownerReferences, conditional on its uid and resourceVersion
/// (the apiserver answers 409 if the pod changed since it was read).
fn owners_patch(pod: &Pod, refs: Vec<OwnerReference>) -> serde_json::Value {
    serde_json::json!({"metadata": {
        "ownerReferences": (!refs.is_empty()).then_some(refs),
        "uid": pod.metadata.uid,
        "resourceVersion": pod.metadata.resource_version,
    }})
}

async fn adopt(client: &Client, pod: &Pod, controller_ref: &OwnerReference) -> Result<Pod, Error> {
    let mut refs = pod.metadata.owner_references.clone().unwrap_or_default();
    refs.push(controller_ref.clone());
    patch_pod(client, pod, owners_patch(pod, refs)).await
}

async fn release(client: &Client, pod: &Pod, owner_uid: &str) -> Result<(), Error> {
    let refs: Vec<OwnerReference> = pod
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner_uid)
        .collect();
    match patch_pod(client, pod, owners_patch(pod, refs)).await {
        Ok(_) => Ok(()),
        // Gone: nothing to release (upstream ignores it).
        Err(Error::Api(kube::Error::Api(s))) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn patch_pod(client: &Client, pod: &Pod, patch: serde_json::Value) -> Result<Pod, Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
    Ok(api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?)
}
