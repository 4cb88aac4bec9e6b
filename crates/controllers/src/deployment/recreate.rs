//! The Recreate strategy (upstream's `rolloutRecreate`): scale every old ReplicaSet to zero,
//! wait until none of their pods is left running, then create (or scale up) the new
//! ReplicaSet to the full count — never old and new pods at once.

use std::collections::HashSet;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::Error;
use super::fenceposts::desired;
use super::handlers::controller_of;
use super::replicasets::{is_active, sum_actual};
use super::status::complete;
use super::sync::Controller;
use crate::workqueue::Requeue;

/// Whether any pod of an old ReplicaSet may still run: their status counts some, or a pod
/// they control (terminating or not) has not finished.
pub fn old_pods_running(
    new: Option<&ReplicaSet>,
    old: &[ReplicaSet],
    pods: &[impl AsRef<Pod>],
) -> bool {
    if sum_actual(old.iter()) > 0 {
        return true;
    }
    let old_uids: HashSet<&str> = old
        .iter()
        .filter(|rs| new.is_none_or(|n| n.metadata.uid != rs.metadata.uid))
        .filter_map(|rs| rs.metadata.uid.as_deref())
        .collect();
    pods.iter().map(AsRef::as_ref).any(|p| {
        controller_of(&p.metadata).is_some_and(|r| old_uids.contains(r.uid.as_str()))
            && !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded") | Some("Failed")
            )
    })
}

impl Controller {
    /// One Recreate step.
    pub async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
    ) -> Result<Requeue, Error> {
        let (mut new, mut old) = self.get_all_replica_sets(d, rs_list, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|rs| is_active(rs)) {
            scaled_down |= self.scale_replica_set_and_record(d, rs, 0).await?;
        }
        if scaled_down {
            return self.sync_rollout_status(d, &old, new.as_ref()).await;
        }
        let pods: Vec<_> = self.pods_in(&d.namespace().unwrap_or_default());
        if old_pods_running(new.as_ref(), &old, &pods) {
            return self.sync_rollout_status(d, &old, new.as_ref()).await;
        }
        if new.is_none() {
            (new, old) = self.get_all_replica_sets(d, rs_list, true).await?;
        }
        if let Some(rs) = new.as_mut() {
            self.scale_replica_set_and_record(d, rs, desired(d)).await?;
        }
        if complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &old, new.as_ref()).await
    }
}
