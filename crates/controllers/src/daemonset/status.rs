//! A DaemonSet's status (upstream's `updateDaemonSetStatus`): per eligible node whether a pod
//! is scheduled, ready, available and up to date (judged by the oldest pod there), plus pods
//! on nodes that should not run one (misscheduled).

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;

use super::eligibility::should_run;
use super::pods::{is_updated, oldest_first, template_generation};
use crate::replicaset::pods::{availability, is_ready};

/// The status for `nodes` and the set's pods by node (`hash`: the current revision's).
pub fn calculate(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    by_node: &HashMap<String, Vec<Arc<Pod>>>,
    hash: &str,
    now: Timestamp,
) -> DaemonSetStatus {
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let generation = template_generation(ds);
    let mut s = DaemonSetStatus {
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for node in nodes {
        let pods = by_node.get(&node.name_any()).filter(|p| !p.is_empty());
        if should_run(ds, node).0 {
            s.desired_number_scheduled += 1;
            let Some(pods) = pods else { continue };
            s.current_number_scheduled += 1;
            let Some(pod) = pods.iter().min_by(|a, b| oldest_first(a, b)) else {
                continue;
            };
            if is_ready(pod) {
                ready += 1;
                if availability(pod, min_ready, now).is_ok() {
                    available += 1;
                }
            }
            if is_updated(pod, hash, generation) {
                updated += 1;
            }
        } else if pods.is_some() {
            s.number_misscheduled += 1;
        }
    }
    s.number_ready = ready;
    s.number_available = Some(available);
    s.updated_number_scheduled = Some(updated);
    s.number_unavailable = Some(s.desired_number_scheduled - available);
    s
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Whether `new` differs from the set's status.
pub fn differs(ds: &DaemonSet, new: &DaemonSetStatus) -> bool {
    let Some(old) = ds.status.as_ref() else {
        return true;
    };
    old.observed_generation != new.observed_generation
        || old.desired_number_scheduled != new.desired_number_scheduled
        || old.current_number_scheduled != new.current_number_scheduled
        || old.number_misscheduled != new.number_misscheduled
        || old.number_ready != new.number_ready
        || n(old.updated_number_scheduled) != n(new.updated_number_scheduled)
        || n(old.number_available) != n(new.number_available)
        || n(old.number_unavailable) != n(new.number_unavailable)
}

/// The merge patch writing `s` (optional zero counts omitted, as upstream's JSON).
pub fn patch(s: &DaemonSetStatus) -> serde_json::Value {
    let opt = |v: Option<i32>| v.filter(|v| *v != 0);
    serde_json::json!({"status": {
        "observedGeneration": s.observed_generation,
        "desiredNumberScheduled": s.desired_number_scheduled,
        "currentNumberScheduled": s.current_number_scheduled,
        "numberMisscheduled": s.number_misscheduled,
        "numberReady": s.number_ready,
        "updatedNumberScheduled": opt(s.updated_number_scheduled),
        "numberAvailable": opt(s.number_available),
        "numberUnavailable": opt(s.number_unavailable),
    }})
}
