//! The two kinds of workers (upstream's `attemptToDeleteWorker` and `attemptToOrphanWorker`).
//! Each decides on a live read of the object and of its owners, never on the graph alone.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::graph::Identity;
use super::{Error, FOREGROUND, ORPHAN, Shared, api};
use crate::workqueue::Requeue;

fn has(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

/// How one owner reference stands, as read from the apiserver.
enum OwnerState {
    /// The owner exists and is not waiting for its dependents.
    Solid,
    /// The owner is gone (or is another object of the same name).
    Dangling,
    /// The owner is being deleted in the foreground.
    WaitingForDependents,
}

impl Shared {
    async fn owner_state(
        &self,
        dependent: &Identity,
        r: &OwnerReference,
    ) -> Result<Option<OwnerState>, Error> {
        if self.is_absent(&r.uid) {
            return Ok(Some(OwnerState::Dangling));
        }
        let info = api::resolve(&r.api_version, &r.kind).ok_or_else(|| Error::UnknownKind {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
        })?;
        if dependent.namespace.is_none() && info.namespaced {
            // Not valid, and retrying will not make it so.
            tracing::warn!(dependent = %dependent.name, owner = %r.name, "cluster-scoped object refers to a namespaced owner");
            return Ok(None);
        }
        let owner = Identity {
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            namespace: dependent.namespace.clone().filter(|_| info.namespaced),
            name: r.name.clone(),
            uid: r.uid.clone(),
        };
        Ok(Some(match api::get(&self.client, &owner).await? {
            Some(m) if m.uid.as_deref() == Some(r.uid.as_str()) => {
                if m.deletion_timestamp.is_some() && has(&m, FOREGROUND) {
                    OwnerState::WaitingForDependents
                } else {
                    OwnerState::Solid
                }
            }
            _ => {
                self.mark_absent(&r.uid);
                OwnerState::Dangling
            }
        }))
    }

    /// Upstream's `attemptToDeleteItem`: deletes the object if none of its owners is left,
    /// drops references to owners that are gone, and drives foreground deletions.
    pub(super) async fn attempt_to_delete(&self, uid: String) -> Result<Requeue, Error> {
        let Some((id, observed)) = self
            .graph()
            .get(&uid)
            .map(|n| (n.id.clone(), n.monitor.is_some()))
        else {
            return Ok(Requeue::Done);
        };
        let latest = match api::get(&self.client, &id).await? {
            Some(m) if m.uid.as_deref() == Some(uid.as_str()) => m,
            _ => {
                tracing::debug!(name = %id.name, kind = %id.kind, "object not found; its dependents are checked");
                self.remove_verified_absent(&id);
                return Ok(Requeue::Done);
            }
        };
        if latest.deletion_timestamp.is_some() {
            if has(&latest, FOREGROUND) {
                self.process_deleting_dependents(&id).await?;
            }
            // Otherwise its deletion is under way; its dependents are looked at once it is gone.
            return Ok(Requeue::Done);
        }
        let refs = latest.owner_references.clone().unwrap_or_default();
        if refs.is_empty() {
            return self.done_if_observed(observed, &id);
        }
        let (mut solid, mut dangling, mut waiting) = (0, Vec::new(), Vec::new());
        for r in &refs {
            match self.owner_state(&id, r).await? {
                None => return Ok(Requeue::Done),
                Some(OwnerState::Solid) => solid += 1,
                Some(OwnerState::Dangling) => dangling.push(r.uid.clone()),
                Some(OwnerState::WaitingForDependents) => waiting.push(r.uid.clone()),
            }
        }
        let rv = latest.resource_version.as_deref();
        if solid > 0 {
            if !dangling.is_empty() || !waiting.is_empty() {
                // Still owned: only the references to owners that are gone (or that wait for
                // their dependents, which this one no longer is) go.
                dangling.extend(waiting);
                tracing::info!(name = %id.name, kind = %id.kind, ?dangling, "removing owner references to absent owners");
                api::remove_owner_refs(&self.client, &id, &dangling).await?;
            }
            return self.done_if_observed(observed, &id);
        }
        let (has_dependents, dependent_waits) = {
            let g = self.graph();
            let deps = g.dependents(&uid);
            (!deps.is_empty(), deps.iter().any(|d| d.deleting_dependents))
        };
        let policy = if !waiting.is_empty() && has_dependents {
            if dependent_waits {
                // A dependent waits for this object while this object would wait for it: break
                // the cycle by not blocking the owners.
                api::unblock_owner_refs(&self.client, &id).await?;
            }
            "Foreground"
        } else if has(&latest, ORPHAN) {
            "Orphan"
        } else if has(&latest, FOREGROUND) {
            "Foreground"
        } else {
            "Background"
        };
        tracing::info!(name = %id.name, kind = %id.kind, namespace = ?id.namespace, policy, "deleting object whose owners are gone");
        api::delete(&self.client, &id, rv, policy).await?;
        self.done_if_observed(observed, &id)
    }

    /// A virtual node found to exist is retried until its monitor has seen it.
    fn done_if_observed(&self, observed: bool, id: &Identity) -> Result<Requeue, Error> {
        if observed {
            Ok(Requeue::Done)
        } else {
            Err(Error::NotObserved(id.name.clone()))
        }
    }

    /// An owner deleted in the foreground: once no dependent blocks it, its finalizer goes;
    /// until then its blocking dependents are deleted.
    async fn process_deleting_dependents(&self, id: &Identity) -> Result<(), Error> {
        let (blocking, to_delete): (usize, Vec<String>) = {
            let g = self.graph();
            let b = g.blocking_dependents(&id.uid);
            (
                b.len(),
                b.iter()
                    .filter(|d| !d.deleting_dependents)
                    .map(|d| d.id.uid.clone())
                    .collect(),
            )
        };
        if blocking == 0 {
            tracing::info!(name = %id.name, kind = %id.kind, "no blocking dependents left; removing the foregroundDeletion finalizer");
            return api::remove_finalizer(&self.client, id, FOREGROUND).await;
        }
        for uid in to_delete {
            self.delete_queue.add(uid);
        }
        Ok(())
    }

    /// Upstream's `attemptToOrphanWorker`: every dependent loses its reference to the owner,
    /// then the owner loses its `orphan` finalizer.
    pub(super) async fn attempt_to_orphan(&self, uid: String) -> Result<Requeue, Error> {
        let (id, dependents) = {
            let g = self.graph();
            let Some(node) = g.get(&uid) else {
                return Ok(Requeue::Done);
            };
            let deps: Vec<Identity> = g.dependents(&uid).iter().map(|d| d.id.clone()).collect();
            (node.id.clone(), deps)
        };
        for d in &dependents {
            api::remove_owner_refs(&self.client, d, std::slice::from_ref(&uid)).await?;
        }
        tracing::info!(name = %id.name, kind = %id.kind, dependents = dependents.len(), "dependents orphaned; removing the orphan finalizer");
        api::remove_finalizer(&self.client, &id, ORPHAN).await?;
        Ok(Requeue::Done)
    }
}
