//! Watch handlers: they only enqueue DaemonSet keys and record what the expectations wait for
//! (upstream's add/update/delete handlers for DaemonSets, pods, nodes and revisions). A node
//! change enqueues the sets whose placement on that node it changes.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};
use rkube_api::selector::LabelSelector;

use super::eligibility::should_run;
use crate::expectations::Expectations;
use crate::informer::Change;
use crate::replicaset::claim::controller_of;
use crate::replicaset::handlers::key_of;
use crate::workqueue::WorkQueue;

/// The handler of DaemonSet changes.
pub fn on_set(
    queue: WorkQueue<String>,
    expectations: Expectations,
) -> impl Fn(Change<DaemonSet>) + Send + Sync + 'static {
    move |change| match change {
        Change::Added(o) | Change::Updated { new: o, .. } => queue.add(key_of(&*o)),
        Change::Deleted(o) => {
            let key = key_of(&*o);
            expectations.delete(&key);
            queue.add(key);
        }
    }
}

fn resolve(sets: &Store<DaemonSet>, ns: &str, r: &OwnerReference) -> Option<String> {
    if r.kind != "DaemonSet" {
        return None;
    }
    let ds = sets.get(&ObjectRef::new(&r.name).within(ns))?;
    (ds.metadata.uid.as_deref() == Some(r.uid.as_str())).then(|| key_of(&*ds))
}

fn matching(sets: &Store<DaemonSet>, pod: &Pod) -> Vec<String> {
    let ns = pod.namespace();
    sets.state()
        .iter()
        .filter(|d| d.namespace() == ns)
        .filter(|d| {
            d.spec
                .as_ref()
                .and_then(|s| LabelSelector::from_meta(&s.selector).ok())
                .is_some_and(|s| !s.is_everything() && s.matches(pod.labels()))
        })
        .map(|d| key_of(&**d))
        .collect()
}

/// The handler of pod changes.
pub fn on_pod(
    sets: Store<DaemonSet>,
    queue: WorkQueue<String>,
    expectations: Expectations,
) -> impl Fn(Change<Pod>) + Send + Sync + 'static {
    move |change| {
        let owner = |pod: &Pod| {
            let ns = pod.namespace().unwrap_or_default();
            controller_of(pod).and_then(|r| resolve(&sets, &ns, r))
        };
        let deleted = |pod: &Pod| {
            if let Some(key) = owner(pod) {
                expectations.deletion_observed(&key, &key_of(pod));
                queue.add(key);
            }
        };
        match change {
            Change::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    deleted(&pod);
                } else if let Some(key) = owner(&pod) {
                    expectations.creation_observed(&key);
                    queue.add(key);
                } else if controller_of(&pod).is_none() {
                    matching(&sets, &pod).into_iter().for_each(|k| queue.add(k));
                }
            }
            Change::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                if new.metadata.deletion_timestamp.is_some() {
                    deleted(&new);
                    return;
                }
                for p in [&old, &new] {
                    match owner(p) {
                        Some(key) => queue.add(key),
                        None if controller_of(p).is_none() => {
                            matching(&sets, p).into_iter().for_each(|k| queue.add(k))
                        }
                        None => {}
                    }
                }
            }
            Change::Deleted(pod) => deleted(&pod),
        }
    }
}

/// The handler of node changes: sets whose decision for the node changes are enqueued (all of
/// them when a node comes or goes).
pub fn on_node(
    sets: Store<DaemonSet>,
    queue: WorkQueue<String>,
) -> impl Fn(Change<Node>) + Send + Sync + 'static {
    move |change| {
        let (old, new): (Option<Arc<Node>>, Option<Arc<Node>>) = match change {
            Change::Added(n) => (None, Some(n)),
            Change::Deleted(n) => (Some(n), None),
            Change::Updated { old, new } => (Some(old), Some(new)),
        };
        for ds in sets.state() {
            let decision = |n: &Option<Arc<Node>>| n.as_ref().map(|n| should_run(&ds, n));
            if old.is_none() || new.is_none() || decision(&old) != decision(&new) {
                queue.add(key_of(&*ds));
            }
        }
    }
}

/// The handler of ControllerRevision changes: the owning set is enqueued.
pub fn on_revision(
    sets: Store<DaemonSet>,
    queue: WorkQueue<String>,
) -> impl Fn(Change<ControllerRevision>) + Send + Sync + 'static {
    move |change| {
        let r = match change {
            Change::Added(r) | Change::Deleted(r) | Change::Updated { new: r, .. } => r,
        };
        let ns = r.namespace().unwrap_or_default();
        if let Some(key) = r
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
            .and_then(|o| resolve(&sets, &ns, o))
        {
            queue.add(key);
        }
    }
}
