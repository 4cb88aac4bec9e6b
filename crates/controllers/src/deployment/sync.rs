//! One sync of one Deployment (upstream's `syncDeployment`): the order of decisions described
//! in the module doc of [`super`], and the writes every step shares — the Deployment's status
//! (and revision annotation), the paused condition, and status-only syncs.

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use rkube_api::selector::LabelSelector;
use rkube_component::events::EventSink;

use super::annotations::REVISION;
use super::claim::claim_replica_sets;
use super::conditions::{self, reasons, types};
use super::fenceposts::is_rolling_update;
use super::progress::{requeue_stuck, rollout_status};
use super::rollback::rollback_to;
use super::status::{calculate, normalized, progress_deadline};
use super::{EVENT_SOURCE, Error};
use crate::pod_control::object_ref;
use crate::workqueue::Requeue;

/// The controller's state shared by its workers.
pub struct Controller {
    /// The apiserver client.
    pub client: Client,
    /// Deployments' cache.
    pub deployments: Store<Deployment>,
    /// ReplicaSets' cache.
    pub replicasets: Store<ReplicaSet>,
    /// Pods' cache (Recreate waits for old pods to be gone).
    pub pods: Store<Pod>,
    /// Events as `deployment-controller`.
    pub recorder: EventSink,
}

/// Whether `d` is paused.
pub fn is_paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

impl Controller {
    /// Records an event about `d`.
    pub fn event(&self, d: &Deployment, warning: bool, reason: &str, message: String) {
        debug_assert_eq!(self.recorder.component(), EVENT_SOURCE);
        self.recorder
            .record(object_ref(d), warning, reason, reason, message);
    }

    /// Pods in `ns` (from the cache).
    pub fn pods_in(&self, ns: &str) -> Vec<Arc<Pod>> {
        self.pods
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns))
            .collect()
    }

    /// Syncs the Deployment `key` (`namespace/name`).
    pub async fn sync(&self, key: &str) -> Result<Requeue, Error> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(Requeue::Done);
        };
        let Some(cached) = self.deployments.get(&ObjectRef::new(name).within(ns)) else {
            return Ok(Requeue::Done);
        };
        let mut d = (*cached).clone();
        let meta_selector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        let selector = match LabelSelector::from_meta(&meta_selector) {
            Ok(s) if !s.is_everything() => s,
            Ok(_) => return self.selecting_all(&mut d).await,
            Err(e) => {
                // The apiserver rejects such selectors; nothing to retry until the spec changes.
                tracing::warn!(deployment = key, error = %e, "invalid selector");
                return Ok(Requeue::Done);
            }
        };
        let candidates: Vec<ReplicaSet> = self
            .replicasets
            .state()
            .iter()
            .filter(|rs| rs.namespace().as_deref() == Some(ns))
            .map(|rs| (**rs).clone())
            .collect();
        let mut rs_list = claim_replica_sets(&self.client, &d, &selector, candidates).await?;
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, &mut rs_list).await;
        }
        self.check_paused(&mut d).await?;
        if is_paused(&d) {
            return self.sync_scale(&mut d, &mut rs_list).await;
        }
        if rollback_to(&d).is_some() {
            return self.rollback(&mut d, &mut rs_list).await;
        }
        if self.is_scaling_event(&mut d, &mut rs_list).await? {
            return self.sync_scale(&mut d, &mut rs_list).await;
        }
        if is_rolling_update(&d) {
            self.rollout_rolling(&mut d, &mut rs_list).await
        } else {
            self.rollout_recreate(&mut d, &mut rs_list).await
        }
    }

    /// An empty selector would take every pod: warn and only record the generation seen.
    async fn selecting_all(&self, d: &mut Deployment) -> Result<Requeue, Error> {
        self.event(
            d,
            true,
            "SelectingAll",
            "This deployment is selecting all pods. A non-empty selector is required.".into(),
        );
        let status = d.status.get_or_insert_with(Default::default);
        if status.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
            status.observed_generation = d.metadata.generation;
            self.write_status(d, false).await?;
        }
        Ok(Requeue::Done)
    }

    /// Writes `d`'s status (first its revision annotation when `revision_changed`: the status
    /// subresource keeps metadata as stored). Conflicts surface as errors: the sync retries.
    pub async fn write_status(
        &self,
        d: &mut Deployment,
        revision_changed: bool,
    ) -> Result<(), Error> {
        let api: Api<Deployment> =
            Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        let name = d.name_any();
        if revision_changed {
            let revision = d
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION))
                .cloned();
            let body = serde_json::json!({"metadata": {
                "annotations": {REVISION: revision},
                "resourceVersion": d.metadata.resource_version,
            }});
            let fresh = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&body))
                .await?;
            d.metadata = fresh.metadata;
        }
        let fresh = api.replace_status(&name, &PostParams::default(), d).await?;
        d.metadata = fresh.metadata;
        Ok(())
    }

    /// Writes the status computed from the ReplicaSets when it differs (upstream's
    /// `syncDeploymentStatus`).
    pub async fn sync_deployment_status(
        &self,
        d: &mut Deployment,
        old: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<Requeue, Error> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let status = calculate(d, &all, new, Timestamp::now());
        if normalized(&d.status.clone().unwrap_or_default()) == status {
            return Ok(Requeue::Done);
        }
        d.status = Some(status);
        self.write_status(d, false).await?;
        Ok(Requeue::Done)
    }

    /// Writes the rollout's status with its Progressing condition; unchanged, comes back when
    /// a stuck rollout's deadline passes.
    pub async fn sync_rollout_status(
        &self,
        d: &mut Deployment,
        old: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<Requeue, Error> {
        let all: Vec<&ReplicaSet> = old.iter().chain(new).collect();
        let now = Timestamp::now();
        let status = rollout_status(d, &all, new, now);
        if normalized(&d.status.clone().unwrap_or_default()) == status {
            return Ok(requeue_stuck(d, &status, now).map_or(Requeue::Done, Requeue::After));
        }
        d.status = Some(status);
        self.write_status(d, false).await?;
        Ok(Requeue::Done)
    }

    /// The status of a Deployment being deleted.
    async fn sync_status_only(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
    ) -> Result<Requeue, Error> {
        let (new, old) = self.get_all_replica_sets(d, rs_list, false).await?;
        self.sync_deployment_status(d, &old, new.as_ref()).await
    }

    /// Scaling without a rollout (paused, or resized): proportional scaling, history cleanup
    /// while paused, status (upstream's `sync`).
    async fn sync_scale(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
    ) -> Result<Requeue, Error> {
        let (mut new, mut old) = self.get_all_replica_sets(d, rs_list, false).await?;
        self.scale(d, new.as_mut(), &mut old).await?;
        if is_paused(d) && rollback_to(d).is_none() {
            self.cleanup(d, &old).await?;
        }
        self.sync_deployment_status(d, &old, new.as_ref()).await
    }

    /// Keeps the Progressing condition's paused/resumed state in step with `spec.paused`
    /// (never over a timed-out rollout).
    async fn check_paused(&self, d: &mut Deployment) -> Result<(), Error> {
        if progress_deadline(d).is_none() {
            return Ok(());
        }
        let status = d.status.clone().unwrap_or_default();
        let cond = conditions::get(&status, types::PROGRESSING);
        if cond.is_some_and(|c| c.reason.as_deref() == Some(reasons::TIMED_OUT)) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason.as_deref() == Some(reasons::PAUSED));
        let now = Timestamp::now();
        let c = match (is_paused(d), paused_cond) {
            (true, false) => conditions::new(
                types::PROGRESSING,
                "Unknown",
                reasons::PAUSED,
                "Deployment is paused".into(),
                now,
            ),
            (false, true) => conditions::new(
                types::PROGRESSING,
                "Unknown",
                reasons::RESUMED,
                "Deployment is resumed".into(),
                now,
            ),
            _ => return Ok(()),
        };
        let status = d.status.get_or_insert_with(Default::default);
        conditions::set(status, c);
        self.write_status(d, false).await
    }
}
