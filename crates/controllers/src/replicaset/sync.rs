//! One sync of one owner (upstream's `syncReplicaSet` and `manageReplicas`): claim pods,
//! create or delete towards `spec.replicas` when expectations allow, write the status, and
//! come back when a pod will have been ready for minReadySeconds.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};

use super::claim::{Owner, claim_pods, recheck_owner};
use super::handlers::key_of;
use super::pods::{is_active, pods_to_delete};
use super::status;
use super::workload::{Spec, Workload};
use super::{BURST_REPLICAS, Error};
use crate::expectations::Expectations;
use crate::pod_control::{
    PodControl, SLOW_START_INITIAL_BATCH_SIZE, controller_ref, object_ref, slow_start_batch,
};
use crate::workqueue::Requeue;

/// The controller's state shared by its workers.
pub struct Controller<W: Workload> {
    /// The apiserver client.
    pub client: Client,
    /// Owners' cache.
    pub owners: Store<W>,
    /// Pods' cache.
    pub pods: Store<Pod>,
    /// Pending creates and deletes per owner key.
    pub expectations: Expectations,
    /// Pod creation and deletion with events.
    pub pod_control: PodControl,
}

impl<W: Workload> Controller<W> {
    /// Syncs the owner `key` (`namespace/name`).
    pub async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let Some(owner) = self.owners.get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.delete(key);
            return Ok(Requeue::Done);
        };
        let needs_sync = self.expectations.satisfied(key);
        let spec = owner.spec();
        let Some(selector) = spec.selector.as_ref() else {
            // Upstream logs an unusable selector and does not retry: a spec change requeues.
            tracing::warn!(
                owner = key,
                "selector matches nothing usable; not managing pods"
            );
            return Ok(Requeue::Done);
        };
        let active: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns) && is_active(p))
            .collect();
        let cref = controller_ref(&*owner);
        let deleting = owner.meta().deletion_timestamp.is_some();
        let claimed = claim_pods(
            &self.client,
            &Owner {
                controller_ref: &cref,
                selector,
                deleting,
            },
            active,
            || recheck_owner::<W>(&self.client, ns, name, &cref.uid),
        )
        .await?;
        let manage_error = if needs_sync && !deleting {
            self.manage(&owner, key, &spec, &claimed).await.err()
        } else {
            None
        };
        let old = owner.status();
        let generation = owner.meta().generation.unwrap_or(0);
        let (new, next) = status::calculate(
            &old,
            generation,
            &spec,
            &claimed,
            manage_error.as_ref().map(|e| e.to_string()).as_deref(),
            Timestamp::now(),
        );
        if new != old {
            let api: Api<W> = Api::namespaced(self.client.clone(), ns);
            match api
                .patch_status(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(&new.to_patch()),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Requeue::Done),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = manage_error {
            return Err(e);
        }
        Ok(match next {
            // The strict comparison needs the moment passed: a little past it.
            Some(wait) => Requeue::After(wait + std::time::Duration::from_millis(50)),
            None => Requeue::Done,
        })
    }

    /// Creates or deletes pods so that `pods` moves towards `spec.replicas`.
    async fn manage(
        &self,
        owner: &W,
        key: &str,
        spec: &Spec,
        pods: &[Arc<Pod>],
    ) -> Result<(), Error> {
        let ns = owner.namespace().unwrap_or_default();
        let diff = pods.len() as i64 - i64::from(spec.replicas);
        let owner_ref = object_ref(owner);
        if diff < 0 {
            let Some(template) = spec.template.as_ref() else {
                return Ok(());
            };
            let n = ((-diff) as usize).min(BURST_REPLICAS);
            // Expect them all before the first create: its watch event may come back first.
            self.expectations.expect_creations(key, n);
            let cref = controller_ref(owner);
            let (created, err) = slow_start_batch(n, SLOW_START_INITIAL_BATCH_SIZE, |_| {
                let (ns, owner_ref, cref) = (ns.clone(), owner_ref.clone(), cref.clone());
                async move {
                    match self
                        .pod_control
                        .create(&ns, template, &owner_ref, cref, None)
                        .await
                    {
                        // The namespace is going away: nothing will ever be created there.
                        Err(e) if e.is_namespace_terminating() => {
                            self.expectations.creation_observed(key);
                            Ok(())
                        }
                        other => other.map(|_| ()),
                    }
                }
            })
            .await;
            if let Some(e) = err {
                // The failed and untried creates will never be observed.
                self.expectations.lower_creations(key, n - created);
                return Err(e.into());
            }
        } else if diff > 0 {
            let n = (diff as usize).min(BURST_REPLICAS);
            let victims = pods_to_delete(pods, pods, n, Timestamp::now());
            self.expectations
                .expect_deletions(key, victims.iter().map(|p| key_of(&**p)));
            let results = futures::future::join_all(victims.iter().map(|p| {
                let owner_ref = owner_ref.clone();
                let ns = ns.clone();
                async move {
                    let name = p.name_any();
                    let r = self.pod_control.delete(&ns, &name, &owner_ref).await;
                    if r.is_err() {
                        self.expectations.deletion_observed(key, &key_of(&**p));
                    }
                    r
                }
            }))
            .await;
            if let Some(e) = results
                .into_iter()
                .filter_map(Result::err)
                .find(|e| !e.is_not_found())
            {
                return Err(e.into());
            }
        }
        Ok(())
    }
}
