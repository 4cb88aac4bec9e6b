//! Claiming ReplicaSets, as upstream's `ClaimReplicaSets`: a Deployment keeps the ReplicaSets
//! it controls whose labels still match its selector, releases those that stopped matching,
//! and adopts matching orphans — never while it is being deleted, never a ReplicaSet being
//! deleted, and only after re-reading itself from the apiserver (the cache may not know it was
//! deleted and recreated).
//!
//! Patches are merge patches carrying the ReplicaSet's uid and resourceVersion, so one changed
//! meanwhile is not mis-claimed (the conflict retries the sync).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use rkube_api::selector::LabelSelector;

use super::Error;
use super::handlers::controller_of;
use crate::pod_control::controller_ref;

/// The ReplicaSets in `all` that `d` controls after claiming.
pub async fn claim_replica_sets(
    client: &Client,
    d: &Deployment,
    selector: &LabelSelector,
    all: Vec<ReplicaSet>,
) -> Result<Vec<ReplicaSet>, Error> {
    let cref = controller_ref(d);
    let deleting = d.metadata.deletion_timestamp.is_some();
    let mut rechecked = false;
    let mut claimed = Vec::new();
    let mut first_error = None;
    for rs in all {
        let matches = selector.matches(rs.labels());
        match controller_of(&rs.metadata) {
            Some(r) if r.uid == cref.uid => {
                if matches {
                    claimed.push(rs);
                } else if !deleting && let Err(e) = release(client, &rs, &cref.uid).await {
                    first_error.get_or_insert(e);
                }
            }
            Some(_) => {}
            None => {
                if !matches || deleting || rs.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                if !rechecked {
                    recheck(client, d).await?;
                    rechecked = true;
                }
                match adopt(client, &rs, &cref).await {
                    Ok(adopted) => claimed.push(adopted),
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

/// The Deployment must still be the same object and not being deleted.
async fn recheck(client: &Client, d: &Deployment) -> Result<(), Error> {
    let ns = d.namespace().unwrap_or_default();
    let name = d.name_any();
    let fresh = Api::<Deployment>::namespaced(client.clone(), &ns)
        .get_opt(&name)
        .await?;
    match fresh {
        Some(f) if f.metadata.uid == d.metadata.uid => {
            if f.metadata.deletion_timestamp.is_some() {
                Err(Error::OwnerChanged(format!(
                    "deployment {ns}/{name} has just been deleted"
                )))
            } else {
                Ok(())
            }
        }
        _ => Err(Error::OwnerChanged(format!(
            "original deployment {ns}/{name} is gone: the cache is stale"
        ))),
    }
}

fn owners_patch(rs: &ReplicaSet, refs: Vec<OwnerReference>) -> serde_json::Value {
    serde_json::json!({"metadata": {
        "ownerReferences": (!refs.is_empty()).then_some(refs),
        "uid": rs.metadata.uid,
        "resourceVersion": rs.metadata.resource_version,
    }})
}

async fn adopt(
    client: &Client,
    rs: &ReplicaSet,
    cref: &OwnerReference,
) -> Result<ReplicaSet, Error> {
    let mut refs = rs.metadata.owner_references.clone().unwrap_or_default();
    refs.push(cref.clone());
    patch(client, rs, owners_patch(rs, refs)).await
}

async fn release(client: &Client, rs: &ReplicaSet, uid: &str) -> Result<(), Error> {
    let refs = rs
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != uid)
        .collect();
    match patch(client, rs, owners_patch(rs, refs)).await {
        Err(Error::Api(kube::Error::Api(s))) if s.code == 404 => Ok(()),
        other => other.map(|_| ()),
    }
}

async fn patch(
    client: &Client,
    rs: &ReplicaSet,
    body: serde_json::Value,
) -> Result<ReplicaSet, Error> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), &rs.namespace().unwrap_or_default());
    Ok(api
        .patch(
            &rs.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&body),
        )
        .await?)
}
