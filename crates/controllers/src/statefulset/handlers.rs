//! Watch handlers: they only enqueue StatefulSet keys — the set itself, the controller of a
//! changed pod or revision, or (for orphan pods and claims) the sets whose selector matches.

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use crate::informer::Change;
use crate::replicaset::handlers::key_of;
use crate::workqueue::WorkQueue;

/// Enqueues the set on any change.
pub fn on_set(queue: WorkQueue<String>) -> impl Fn(Change<StatefulSet>) + Send + Sync + 'static {
    move |change| match change {
        Change::Added(o) | Change::Updated { new: o, .. } | Change::Deleted(o) => {
            queue.add(key_of(&*o))
        }
    }
}

/// Enqueues the StatefulSet controlling a changed object, or for an orphan the sets whose
/// selector matches its labels.
pub fn on_dependent<K>(
    sets: Store<StatefulSet>,
    queue: WorkQueue<String>,
) -> impl Fn(Change<K>) + Send + Sync + 'static
where
    K: Resource + Send + Sync + 'static,
{
    move |change| {
        let objs = match change {
            Change::Added(o) | Change::Deleted(o) => vec![o],
            Change::Updated { old, new } => {
                if old.meta().resource_version == new.meta().resource_version {
                    return;
                }
                vec![old, new]
            }
        };
        for o in objs {
            let ns = o.namespace().unwrap_or_default();
            let controller = o
                .owner_references()
                .iter()
                .find(|r| r.controller == Some(true))
                .cloned();
            match controller {
                Some(r) if r.kind == "StatefulSet" => {
                    if let Some(set) = sets.get(&ObjectRef::new(&r.name).within(&ns))
                        && set.metadata.uid.as_deref() == Some(r.uid.as_str())
                    {
                        queue.add(key_of(&*set));
                    }
                }
                Some(_) => {}
                None => {
                    for set in sets.state() {
                        if set.namespace().as_deref() != Some(ns.as_str()) {
                            continue;
                        }
                        let sel = set.spec.as_ref().and_then(|s| {
                            rkube_api::selector::LabelSelector::from_meta(&s.selector).ok()
                        });
                        if sel.is_some_and(|s| !s.is_everything() && s.matches(o.labels())) {
                            queue.add(key_of(&*set));
                        }
                    }
                }
            }
        }
    }
}
