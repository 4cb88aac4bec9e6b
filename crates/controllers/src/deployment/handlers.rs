//! Watch handlers: they only enqueue Deployment keys, as upstream's add/update/delete
//! handlers — a Deployment's own changes; a ReplicaSet's changes for the Deployment that
//! controls it (before and after a change of controller) or, for an orphan, for every
//! Deployment whose selector matches it (one may adopt it); and a deleted pod for a Recreate
//! Deployment (it waits for its old pods to be gone).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use rkube_api::selector::LabelSelector;

use super::fenceposts::is_rolling_update;
use crate::informer::Change;
use crate::replicaset::handlers::key_of;
use crate::workqueue::WorkQueue;

/// The controller reference in `meta`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// The handler of Deployment changes.
pub fn on_deployment(
    queue: WorkQueue<String>,
) -> impl Fn(Change<Deployment>) + Send + Sync + 'static {
    move |change| match change {
        Change::Added(d) | Change::Updated { new: d, .. } | Change::Deleted(d) => {
            queue.add(key_of(&*d))
        }
    }
}

/// The cached Deployment `r` points to in `namespace` (same UID).
fn resolve(deployments: &Store<Deployment>, namespace: &str, r: &OwnerReference) -> Option<String> {
    if r.kind != "Deployment" {
        return None;
    }
    let d = deployments.get(&ObjectRef::new(&r.name).within(namespace))?;
    (d.metadata.uid.as_deref() == Some(r.uid.as_str())).then(|| key_of(&*d))
}

/// Deployments in `rs`'s namespace whose selector matches its labels.
fn matching(deployments: &Store<Deployment>, rs: &ReplicaSet) -> Vec<String> {
    let ns = rs.namespace().unwrap_or_default();
    deployments
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(ns.as_str()))
        .filter(|d| {
            d.spec
                .as_ref()
                .and_then(|s| LabelSelector::from_meta(&s.selector).ok())
                .is_some_and(|s| !s.is_everything() && s.matches(rs.labels()))
        })
        .map(|d| key_of(&**d))
        .collect()
}

/// The handler of ReplicaSet changes.
pub fn on_replica_set(
    deployments: Store<Deployment>,
    queue: WorkQueue<String>,
) -> impl Fn(Change<ReplicaSet>) + Send + Sync + 'static {
    move |change| {
        let owner = |rs: &ReplicaSet| {
            let ns = rs.namespace().unwrap_or_default();
            controller_of(&rs.metadata).and_then(|r| resolve(&deployments, &ns, r))
        };
        match change {
            Change::Added(rs) => match controller_of(&rs.metadata) {
                Some(_) => {
                    if let Some(key) = owner(&rs) {
                        queue.add(key);
                    }
                }
                None if rs.metadata.deletion_timestamp.is_none() => {
                    for key in matching(&deployments, &rs) {
                        queue.add(key);
                    }
                }
                None => {}
            },
            Change::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let ref_changed = controller_of(&old.metadata) != controller_of(&new.metadata);
                if ref_changed && let Some(key) = owner(&old) {
                    queue.add(key);
                }
                if controller_of(&new.metadata).is_some() {
                    if let Some(key) = owner(&new) {
                        queue.add(key);
                    }
                    return;
                }
                if ref_changed || old.labels() != new.labels() {
                    for key in matching(&deployments, &new) {
                        queue.add(key);
                    }
                }
            }
            Change::Deleted(rs) => {
                if let Some(key) = owner(&rs) {
                    queue.add(key);
                }
            }
        }
    }
}

/// The handler of pod changes: a deleted pod of a Recreate Deployment's ReplicaSet.
pub fn on_pod(
    deployments: Store<Deployment>,
    replicasets: Store<ReplicaSet>,
    queue: WorkQueue<String>,
) -> impl Fn(Change<Pod>) + Send + Sync + 'static {
    move |change| {
        let Change::Deleted(pod) = change else {
            return;
        };
        let ns = pod.namespace().unwrap_or_default();
        let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else {
            return;
        };
        let Some(rs) = replicasets.get(&ObjectRef::new(&r.name).within(&ns)) else {
            return;
        };
        let Some(key) = controller_of(&rs.metadata).and_then(|r| resolve(&deployments, &ns, r))
        else {
            return;
        };
        let recreate = key
            .split_once('/')
            .and_then(|(ns, name)| deployments.get(&ObjectRef::new(name).within(ns)))
            .is_some_and(|d| !is_rolling_update(&d));
        if recreate {
            queue.add(key);
        }
    }
}
