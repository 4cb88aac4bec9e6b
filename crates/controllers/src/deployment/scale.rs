//! Scaling ReplicaSets: one at a time with the `ScalingReplicaSet` event (and the replicas
//! annotations recording the Deployment size it was scaled for), and upstream's proportional
//! scaling when a Deployment is resized mid-rollout — the extra (or missing) pods are shared
//! among the active ReplicaSets in proportion to their size, the rounding leftover going to the
//! largest, so a rollout's mix of old and new pods stays as it was.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use super::annotations::{
    desired_replicas, max_replicas, replicas_annotations_need_update, set_replicas_annotations,
};
use super::fenceposts::{desired, is_rolling_update, max_surge};
use super::replicasets::{
    active_or_latest, available, by_size_newer, by_size_older, is_active, replicas, sum_replicas,
};
use super::sync::Controller;
use super::{Error, SCALING_REPLICA_SET};

/// Whether `rs` runs all the Deployment's pods, all available, and was sized for it.
pub fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let n = desired(d);
    replicas(rs) == n && desired_replicas(rs) == Some(n) && available(rs) == n
}

/// How many of `to_add` (negative: remove) pods `rs` takes, given `added` already taken.
pub fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// The change `rs` would see if it kept its share of the Deployment at its new size.
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let n = desired(d);
    if n == 0 {
        return -replicas(rs);
    }
    let new_max = n + max_surge(d);
    // Without the annotation, the Deployment's current size is the best guess.
    let old_max =
        max_replicas(rs).unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if old_max == 0 {
        return 0;
    }
    let size = f64::from(replicas(rs)) * f64::from(new_max) / f64::from(old_max);
    // Go's math.Round: halves away from zero, as f64::round.
    size.round() as i32 - replicas(rs)
}

impl Controller {
    /// Sets `rs` to `new_scale` (and the replicas annotations); whether its size changed.
    pub async fn scale_replica_set(
        &self,
        d: &Deployment,
        rs: &mut ReplicaSet,
        new_scale: i32,
    ) -> Result<bool, Error> {
        let size_changes = replicas(rs) != new_scale;
        let want = desired(d);
        let max = want + max_surge(d);
        if !size_changes && !replicas_annotations_need_update(rs, want, max) {
            return Ok(false);
        }
        let old_scale = replicas(rs);
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        set_replicas_annotations(&mut copy, want, max);
        let api: Api<ReplicaSet> =
            Api::namespaced(self.client.clone(), &rs.namespace().unwrap_or_default());
        *rs = api
            .replace(&rs.name_any(), &PostParams::default(), &copy)
            .await?;
        if size_changes {
            let op = if old_scale < new_scale { "up" } else { "down" };
            self.event(
                d,
                false,
                SCALING_REPLICA_SET,
                format!(
                    "Scaled {op} replica set {} from {old_scale} to {new_scale}",
                    rs.name_any()
                ),
            );
        }
        Ok(size_changes)
    }

    /// Like [`Controller::scale_replica_set`], but nothing at all when the size is right.
    pub async fn scale_replica_set_and_record(
        &self,
        d: &Deployment,
        rs: &mut ReplicaSet,
        new_scale: i32,
    ) -> Result<bool, Error> {
        if replicas(rs) == new_scale {
            return Ok(false);
        }
        self.scale_replica_set(d, rs, new_scale).await
    }

    /// Whether some active ReplicaSet was sized for another Deployment size (a resize).
    pub async fn is_scaling_event(
        &self,
        d: &mut Deployment,
        rs_list: &mut [ReplicaSet],
    ) -> Result<bool, Error> {
        let (new, old) = self.get_all_replica_sets(d, rs_list, false).await?;
        let want = desired(d);
        Ok(old
            .iter()
            .chain(new.as_ref())
            .filter(|rs| is_active(rs))
            .filter_map(desired_replicas)
            .any(|n| n != want))
    }

    /// Scales towards the Deployment's size without advancing a rollout (upstream's `scale`).
    pub async fn scale(
        &self,
        d: &Deployment,
        new: Option<&mut ReplicaSet>,
        old: &mut [ReplicaSet],
    ) -> Result<(), Error> {
        let want = desired(d);
        if let Some(name) = active_or_latest(new.as_deref(), old).map(|rs| rs.name_any()) {
            let target = match new {
                Some(n) if n.name_any() == name => n,
                _ => match old.iter_mut().find(|rs| rs.name_any() == name) {
                    Some(rs) => rs,
                    None => return Ok(()),
                },
            };
            if replicas(target) != want {
                self.scale_replica_set_and_record(d, target, want).await?;
            }
            return Ok(());
        }
        if new.as_deref().is_some_and(|n| is_saturated(d, n)) {
            for rs in old.iter_mut().filter(|rs| is_active(rs)) {
                self.scale_replica_set_and_record(d, rs, 0).await?;
            }
            return Ok(());
        }
        if !is_rolling_update(d) {
            return Ok(());
        }
        let mut all: Vec<&mut ReplicaSet> = old
            .iter_mut()
            .chain(new)
            .filter(|rs| is_active(rs))
            .collect();
        let current = sum_replicas(all.iter().map(|rs| &**rs));
        let allowed = if want > 0 { want + max_surge(d) } else { 0 };
        let to_add = allowed - current;
        if to_add > 0 {
            all.sort_by(|a, b| by_size_newer(a, b));
        } else if to_add < 0 {
            all.sort_by(|a, b| by_size_older(a, b));
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = proportion(rs, d, to_add, added);
                sizes.push(replicas(rs) + p);
                added += p;
            } else {
                sizes.push(replicas(rs));
            }
        }
        if let Some(first) = sizes.first_mut()
            && to_add != 0
        {
            *first = (*first + to_add - added).max(0);
        }
        for (rs, size) in all.into_iter().zip(sizes) {
            self.scale_replica_set(d, rs, size).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i32, surge: i32, status_replicas: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": 0}},
                "template": {}},
            "status": {"replicas": status_replicas}
        }))
        .unwrap()
    }

    fn rs(replicas: i32, max: Option<i32>) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": "r", "annotations": max.map(|m| json!({super::super::annotations::MAX_REPLICAS: m.to_string()}))},
            "spec": {"replicas": replicas, "selector": {}}
        }))
        .unwrap()
    }

    #[test]
    fn proportions_follow_the_max_replicas_annotation() {
        // 10 (+3 surge) → 20 (+3): a set with 8 of 13 grows to round(8·23/13) = 14.
        let d = deployment(20, 3, 13);
        assert_eq!(proportion(&rs(8, Some(13)), &d, 10, 0), 6);
        // Capped by what is left to add.
        assert_eq!(proportion(&rs(8, Some(13)), &d, 10, 7), 3);
        // Scaling down: 20 (+3) → 10 (+3) halves-ish; never more than allowed.
        let d = deployment(10, 3, 23);
        assert_eq!(proportion(&rs(14, Some(23)), &d, -10, 0), -6);
        assert_eq!(proportion(&rs(14, Some(23)), &d, -10, -8), -2);
        // To zero: the whole set.
        let d = deployment(0, 3, 23);
        assert_eq!(proportion(&rs(14, Some(23)), &d, -23, 0), -14);
        // No annotation: the Deployment's status.replicas.
        let d = deployment(20, 3, 13);
        assert_eq!(proportion(&rs(8, None), &d, 10, 0), 6);
        assert_eq!(
            proportion(&rs(0, Some(13)), &d, 10, 0),
            0,
            "never from zero"
        );
    }

    #[test]
    fn saturation_needs_size_annotation_and_availability() {
        let d = deployment(3, 1, 3);
        let mut r: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "r", "annotations": {super::super::annotations::DESIRED_REPLICAS: "3"}},
            "spec": {"replicas": 3, "selector": {}},
            "status": {"replicas": 3, "availableReplicas": 3}
        }))
        .unwrap();
        assert!(is_saturated(&d, &r));
        r.status.as_mut().unwrap().available_replicas = Some(2);
        assert!(!is_saturated(&d, &r));
    }
}
