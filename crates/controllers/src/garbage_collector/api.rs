//! The garbage collector's calls to the apiserver: live reads of an object's metadata (never
//! the graph's possibly stale view), removing owner references and finalizers with
//! optimistic concurrency, and deletes with preconditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::core::{ApiResource, GroupVersionKind};
use rkube_api::resources::{BUILTIN, ResourceInfo, is_virtual};
use serde_json::json;

use super::Error;
use super::graph::{Identity, group_of};

/// How often a write that lost a race with another writer is retried on a fresh read.
const CONFLICT_RETRIES: usize = 5;

/// The resource an `apiVersion`/`kind` names: that version if served, else the kind in
/// another version of its group (the object is the same whichever version reads it).
pub fn resolve(api_version: &str, kind: &str) -> Option<&'static ResourceInfo> {
    let group = group_of(api_version);
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    let candidates = || {
        BUILTIN
            .iter()
            .filter(move |r| !is_virtual(r) && r.group == group && r.kind == kind)
    };
    candidates()
        .find(|r| r.version == version)
        .or_else(|| candidates().next())
}

/// The API of `info` in `namespace` (ignored for cluster-scoped resources).
pub fn api(client: &Client, info: &ResourceInfo, namespace: Option<&str>) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(info.group, info.version, info.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, info.plural);
    match namespace {
        Some(ns) if info.namespaced => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    }
}

fn api_of(client: &Client, id: &Identity) -> Result<Api<DynamicObject>, Error> {
    let info = resolve(&id.api_version, &id.kind).ok_or_else(|| Error::UnknownKind {
        api_version: id.api_version.clone(),
        kind: id.kind.clone(),
    })?;
    Ok(api(client, info, id.namespace.as_deref()))
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// The object's metadata as the apiserver has it now; `None` if it is gone.
pub async fn get(client: &Client, id: &Identity) -> Result<Option<ObjectMeta>, Error> {
    match api_of(client, id)?.get_metadata(&id.name).await {
        Ok(m) => Ok(Some(m.metadata)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes `metadata` fields of the object `id` names, on the revision `rv` it was read at
/// (and its uid: a recreated object is not touched).
async fn patch_meta(
    client: &Client,
    id: &Identity,
    rv: Option<&str>,
    fields: serde_json::Value,
) -> Result<(), kube::Error> {
    let mut metadata = json!({"uid": id.uid, "resourceVersion": rv});
    if let (Some(m), Some(f)) = (metadata.as_object_mut(), fields.as_object()) {
        m.extend(f.clone());
    }
    api_of(client, id)
        .map_err(|e| kube::Error::Service(e.to_string().into()))?
        .patch(
            &id.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": metadata})),
        )
        .await
        .map(|_| ())
}

/// Re-reads the object and writes `change(metadata)` until it sticks; `change` returns `None`
/// when there is nothing to do. A gone (or recreated) object is nothing to do.
async fn update_meta<F>(client: &Client, id: &Identity, change: F) -> Result<(), Error>
where
    F: Fn(&ObjectMeta) -> Option<serde_json::Value>,
{
    for _ in 0..CONFLICT_RETRIES {
        let Some(meta) = get(client, id).await? else {
            return Ok(());
        };
        if meta.uid.as_deref() != Some(id.uid.as_str()) {
            return Ok(());
        }
        let Some(fields) = change(&meta) else {
            return Ok(());
        };
        match patch_meta(client, id, meta.resource_version.as_deref(), fields).await {
            Ok(()) => return Ok(()),
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) if is_conflict(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict(id.name.clone()))
}

fn refs_json(refs: &[OwnerReference]) -> serde_json::Value {
    if refs.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(refs).unwrap_or(serde_json::Value::Null)
    }
}

/// Drops the owner references to `owner_uids` from `id`.
pub async fn remove_owner_refs(
    client: &Client,
    id: &Identity,
    owner_uids: &[String],
) -> Result<(), Error> {
    update_meta(client, id, |meta| {
        let refs = meta.owner_references.clone().unwrap_or_default();
        let kept: Vec<OwnerReference> = refs
            .iter()
            .filter(|r| !owner_uids.contains(&r.uid))
            .cloned()
            .collect();
        (kept.len() != refs.len()).then(|| json!({"ownerReferences": refs_json(&kept)}))
    })
    .await
}

/// Sets `blockOwnerDeletion: false` on every owner reference of `id` that blocks.
pub async fn unblock_owner_refs(client: &Client, id: &Identity) -> Result<(), Error> {
    update_meta(client, id, |meta| {
        let mut refs = meta.owner_references.clone().unwrap_or_default();
        let mut changed = false;
        for r in &mut refs {
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
                changed = true;
            }
        }
        changed.then(|| json!({"ownerReferences": refs_json(&refs)}))
    })
    .await
}

/// Removes `finalizer` from `id` (which lets the apiserver finish deleting it once no other
/// finalizer is left).
pub async fn remove_finalizer(
    client: &Client,
    id: &Identity,
    finalizer: &str,
) -> Result<(), Error> {
    update_meta(client, id, |meta| {
        let finalizers = meta.finalizers.clone().unwrap_or_default();
        let kept: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
        (kept.len() != finalizers.len()).then(|| json!({"finalizers": kept}))
    })
    .await
}

/// Deletes `id` as last read (uid and resourceVersion preconditions) with `policy`; a gone
/// object is fine.
pub async fn delete(
    client: &Client,
    id: &Identity,
    rv: Option<&str>,
    policy: &str,
) -> Result<(), Error> {
    let params = DeleteParams {
        propagation_policy: Some(match policy {
            "Orphan" => kube::api::PropagationPolicy::Orphan,
            "Foreground" => kube::api::PropagationPolicy::Foreground,
            _ => kube::api::PropagationPolicy::Background,
        }),
        preconditions: Some(Preconditions {
            uid: Some(id.uid.clone()),
            resource_version: rv.map(String::from),
        }),
        ..DeleteParams::default()
    };
    match api_of(client, id)?.delete(&id.name, &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
