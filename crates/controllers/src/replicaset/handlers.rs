//! Watch handlers: they only enqueue owner keys and record what the expectations wait for
//! (a created pod observed, a deleted pod observed), as upstream's add/update/delete pod
//! handlers.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::claim::controller_of;
use super::pods::is_ready;
use super::workload::Workload;
use crate::expectations::Expectations;
use crate::informer::Change;
use crate::workqueue::WorkQueue;

/// `namespace/name` of an object.
pub fn key_of<K: kube::Resource>(o: &K) -> String {
    format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any())
}

/// The handler of owner changes.
pub fn on_owner<W: Workload>(
    queue: WorkQueue<String>,
    expectations: Expectations,
) -> impl Fn(Change<W>) + Send + Sync + 'static {
    move |change| match change {
        Change::Added(o) | Change::Updated { new: o, .. } => queue.add(key_of(&*o)),
        Change::Deleted(o) => {
            let key = key_of(&*o);
            expectations.delete(&key);
            queue.add(key);
        }
    }
}

/// The owner `r` points to in `namespace`, if it is in the cache with the same UID.
fn resolve<W: Workload>(
    owners: &Store<W>,
    namespace: &str,
    r: &OwnerReference,
) -> Option<(String, i32)> {
    if r.kind != W::kind(&()) {
        return None;
    }
    let owner = owners.get(&ObjectRef::new(&r.name).within(namespace))?;
    (owner.meta().uid.as_deref() == Some(r.uid.as_str()))
        .then(|| (key_of(&*owner), owner.spec().min_ready_seconds))
}

/// Owners in the pod's namespace whose selector matches it (for orphans).
fn matching<W: Workload>(owners: &Store<W>, pod: &Pod) -> Vec<String> {
    let ns = pod.namespace().unwrap_or_default();
    owners
        .state()
        .iter()
        .filter(|o| o.namespace().as_deref() == Some(ns.as_str()))
        .filter(|o| o.spec().selector.is_some_and(|s| s.matches(pod.labels())))
        .map(|o| key_of(&**o))
        .collect()
}

/// The handler of pod changes.
pub fn on_pod<W: Workload>(
    owners: Store<W>,
    queue: WorkQueue<String>,
    expectations: Expectations,
) -> impl Fn(Change<Pod>) + Send + Sync + 'static {
    move |change| {
        let deleted = |pod: &Pod| {
            let ns = pod.namespace().unwrap_or_default();
            if let Some((key, _)) = controller_of(pod).and_then(|r| resolve(&owners, &ns, r)) {
                expectations.deletion_observed(&key, &key_of(pod));
                queue.add(key);
            }
        };
        match change {
            Change::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    // Seen for the first time already terminating (e.g. after a relist).
                    deleted(&pod);
                    return;
                }
                let ns = pod.namespace().unwrap_or_default();
                if let Some(r) = controller_of(&pod) {
                    if let Some((key, _)) = resolve(&owners, &ns, r) {
                        expectations.creation_observed(&key);
                        queue.add(key);
                    }
                    return;
                }
                for key in matching(&owners, &pod) {
                    queue.add(key);
                }
            }
            Change::Updated { old, new } => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let labels_changed = old.labels() != new.labels();
                if new.metadata.deletion_timestamp.is_some() {
                    deleted(&new);
                    if labels_changed {
                        deleted(&old);
                    }
                    return;
                }
                let ns = new.namespace().unwrap_or_default();
                let (old_ref, new_ref) = (controller_of(&old), controller_of(&new));
                let ref_changed = old_ref != new_ref;
                if ref_changed
                    && let Some((key, _)) = old_ref.and_then(|r| resolve(&owners, &ns, r))
                {
                    queue.add(key);
                }
                if let Some(r) = new_ref {
                    if let Some((key, min_ready)) = resolve(&owners, &ns, r) {
                        queue.add(key.clone());
                        // Becoming available is a matter of time, not of an event.
                        if min_ready > 0 && !is_ready(&old) && is_ready(&new) {
                            queue.add_after(key, Duration::from_secs(min_ready as u64 + 1));
                        }
                    }
                    return;
                }
                if labels_changed || ref_changed {
                    for key in matching(&owners, &new) {
                        queue.add(key);
                    }
                }
            }
            Change::Deleted(pod) => deleted(&pod),
        }
    }
}
