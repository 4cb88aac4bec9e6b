//! The RollingUpdate strategy (upstream's `rolloutRolling`): each sync takes one step — scale
//! the new ReplicaSet up within replicas + maxSurge, else scale old ones down while at least
//! replicas − maxUnavailable pods stay available (unhealthy old pods first, oldest ReplicaSets
//! first) — then cleans up history once complete and writes the rollout status.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;

use super::Error;
use super::fenceposts::{desired, max_unavailable};
use super::new_replica_set::new_rs_new_replicas;
use super::replicasets::{available, by_creation, replicas, sum_available, sum_replicas};
use super::status::complete;
use super::sync::Controller;
use crate::workqueue::Requeue;

impl Controller {
    /// One rolling-update step.
    pub async fn rollout_rolling(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
    ) -> Result<Requeue, Error> {
        let (new, mut old) = self.get_all_replica_sets(d, rs_list, true).await?;
        let Some(mut new) = new else {
            return self.sync_rollout_status(d, &old, None).await;
        };
        if self.reconcile_new(d, &old, &mut new).await? {
            return self.sync_rollout_status(d, &old, Some(&new)).await;
        }
        if self.reconcile_old(d, &mut old, &new).await? {
            return self.sync_rollout_status(d, &old, Some(&new)).await;
        }
        if complete(d, &d.status.clone().unwrap_or_default()) {
            self.cleanup(d, &old).await?;
        }
        self.sync_rollout_status(d, &old, Some(&new)).await
    }

    /// Scales the new ReplicaSet towards the desired count within the surge.
    async fn reconcile_new(
        &self,
        d: &Deployment,
        old: &[ReplicaSet],
        new: &mut ReplicaSet,
    ) -> Result<bool, Error> {
        let want = desired(d);
        let have = replicas(new);
        if have == want {
            return Ok(false);
        }
        if have > want {
            return self.scale_replica_set_and_record(d, new, want).await;
        }
        let all: Vec<&ReplicaSet> = old.iter().chain([&*new]).collect();
        let target = new_rs_new_replicas(d, &all, new);
        self.scale_replica_set_and_record(d, new, target).await
    }

    /// Scales old ReplicaSets down as far as availability allows.
    async fn reconcile_old(
        &self,
        d: &Deployment,
        old: &mut [ReplicaSet],
        new: &ReplicaSet,
    ) -> Result<bool, Error> {
        // Only the old ReplicaSets active now take part (as upstream, which filters them first).
        let mut active: Vec<&mut ReplicaSet> =
            old.iter_mut().filter(|rs| replicas(rs) > 0).collect();
        let old_pods = sum_replicas(active.iter().map(|rs| &**rs));
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods = old_pods + replicas(new);
        let min_available = desired(d) - max_unavailable(d);
        let new_unavailable = replicas(new) - available(new);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        // Unhealthy old pods first: they would block the rollout and count for nothing.
        active.sort_by(|a, b| by_creation(a, b));
        let cleaned = self
            .cleanup_unhealthy(d, &mut active, max_scaled_down)
            .await?;
        let scaled = self
            .scale_down_old(d, &mut active, new, min_available)
            .await?;
        Ok(cleaned + scaled > 0)
    }

    /// Removes up to `max` unavailable pods from old ReplicaSets (oldest first).
    async fn cleanup_unhealthy(
        &self,
        d: &Deployment,
        old: &mut [&mut ReplicaSet],
        max: i32,
    ) -> Result<i32, Error> {
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= max {
                break;
            }
            let (size, avail) = (replicas(rs), available(rs));
            if size == 0 || size == avail {
                continue;
            }
            let n = (max - total).min(size - avail);
            if n < 0 {
                // More available than desired: its status is stale (it was just scaled down).
                // Acting on it would scale up; retry once the status catches up, as upstream.
                return Err(Error::StaleStatus(format!(
                    "when cleaning up unhealthy replicas, got invalid request to scale down {}/{} {size} -> {}",
                    rs.namespace().unwrap_or_default(),
                    rs.name_any(),
                    size - n
                )));
            }
            self.scale_replica_set_and_record(d, rs, size - n).await?;
            total += n;
        }
        Ok(total)
    }

    /// Scales old ReplicaSets down (oldest first) by as many pods as are available beyond
    /// `min_available`.
    async fn scale_down_old(
        &self,
        d: &Deployment,
        old: &mut [&mut ReplicaSet],
        new: &ReplicaSet,
        min_available: i32,
    ) -> Result<i32, Error> {
        let available_pods = sum_available(old.iter().map(|rs| &**rs)) + available(new);
        if available_pods <= min_available {
            return Ok(0);
        }
        let budget = available_pods - min_available;
        let mut total = 0;
        for rs in old.iter_mut() {
            if total >= budget {
                break;
            }
            let size = replicas(rs);
            if size == 0 {
                continue;
            }
            let n = size.min(budget - total);
            self.scale_replica_set_and_record(d, rs, size - n).await?;
            total += n;
        }
        Ok(total)
    }
}
