//! The annotations a Deployment and its ReplicaSets carry, as upstream: the revision (on
//! both), the revisions a ReplicaSet held before a rollback made it current again
//! (`revision-history`), and the Deployment size a ReplicaSet was last scaled for
//! (`desired-replicas`, `max-replicas`, which proportional scaling reads). The Deployment's own
//! annotations are copied to its new ReplicaSet, except these and kubectl's last-applied one.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

/// The rollout revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions of a ReplicaSet that became current again.
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
/// The Deployment's replicas when the ReplicaSet was last scaled.
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
/// The Deployment's replicas plus maxSurge when the ReplicaSet was last scaled.
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// The legacy rollback request (the extensions/v1beta1 rollback subresource's annotation).
pub const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// kubectl apply's record.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Upstream's cap on the revision-history annotation's length.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Annotations that belong to the controller, never copied between Deployment and ReplicaSet.
pub fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO
    )
}

fn annotations_mut(
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> &mut BTreeMap<String, String> {
    meta.annotations.get_or_insert_with(BTreeMap::new)
}

fn get<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Copies the Deployment's own annotations onto `rs` (adding or overwriting, never
/// removing); whether anything changed.
fn copy_from_deployment(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let mut changed = false;
    let annotations = annotations_mut(&mut rs.metadata);
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if skip_copy(k) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Sets the new ReplicaSet's annotations: the Deployment's, the revision (only ever raised;
/// a raised one that existed goes to `revision-history`, capped at `history_chars`), and for
/// a ReplicaSet about to be created the replicas annotations. Whether anything changed.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    history_chars: usize,
) -> bool {
    let mut changed = copy_from_deployment(d, rs);
    let annotations = annotations_mut(&mut rs.metadata);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            // Not ours to fix: leave the ReplicaSet as it is.
            Err(_) => return changed,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            if history.is_empty() {
                annotations.insert(REVISION_HISTORY.into(), old);
            } else {
                // Drop the oldest entries until the new one fits.
                let mut entries: Vec<&str> = history.split(',').collect();
                let mut total = history.len() + old.len() + 1;
                let mut start = 0;
                while total > history_chars && start < entries.len() {
                    total -= entries[start].len() + 1;
                    start += 1;
                }
                if total <= history_chars {
                    entries.drain(..start);
                    entries.push(&old);
                    annotations.insert(REVISION_HISTORY.into(), entries.join(","));
                }
            }
        }
    }
    if !exists {
        let max = d_max(d);
        changed |= set_replicas_annotations(rs, super::fenceposts::desired(d), max);
    }
    changed
}

fn d_max(d: &Deployment) -> i32 {
    super::fenceposts::desired(d) + super::fenceposts::max_surge(d)
}

/// Sets `desired-replicas` and `max-replicas`; whether either changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = annotations_mut(&mut rs.metadata);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = v.to_string();
        if annotations.get(k) != Some(&v) {
            annotations.insert(k.into(), v);
            changed = true;
        }
    }
    changed
}

/// Whether `desired-replicas` or `max-replicas` differ from these.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    get(rs, DESIRED_REPLICAS) != Some(desired.to_string().as_str())
        || get(rs, MAX_REPLICAS) != Some(max.to_string().as_str())
}

/// `desired-replicas`, if set and a number.
pub fn desired_replicas(rs: &ReplicaSet) -> Option<i32> {
    get(rs, DESIRED_REPLICAS)?.parse().ok()
}

/// `max-replicas`, if set and a number.
pub fn max_replicas(rs: &ReplicaSet) -> Option<i32> {
    get(rs, MAX_REPLICAS)?.parse().ok()
}

/// Sets the Deployment's revision annotation; whether it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = annotations_mut(&mut d.metadata);
    if annotations.get(REVISION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION.into(), revision.into());
    true
}

/// The Deployment's annotations after rolling back to `rs`: its own controller annotations
/// kept, the rest taken from the ReplicaSet.
pub fn rolled_back_annotations(d: &Deployment, rs: &ReplicaSet) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = d
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| skip_copy(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !skip_copy(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(annotations: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "annotations": annotations},
            "spec": {"replicas": 4, "selector": {},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {}}
        }))
        .unwrap()
    }

    fn rs(annotations: serde_json::Value) -> ReplicaSet {
        serde_json::from_value(json!({"metadata": {"name": "r", "annotations": annotations}}))
            .unwrap()
    }

    #[test]
    fn a_created_replica_set_gets_revision_replicas_and_the_deployments_annotations() {
        let d = deployment(json!({"team": "a", LAST_APPLIED: "{}", REVISION: "9"}));
        let mut r = rs(json!({}));
        assert!(set_new_replica_set_annotations(&d, &mut r, 1, false, 2000));
        let a = r.metadata.annotations.unwrap();
        assert_eq!(a.get("team").map(String::as_str), Some("a"));
        assert_eq!(a.get(REVISION).map(String::as_str), Some("1"));
        assert_eq!(a.get(DESIRED_REPLICAS).map(String::as_str), Some("4"));
        assert_eq!(a.get(MAX_REPLICAS).map(String::as_str), Some("5"));
        assert!(!a.contains_key(LAST_APPLIED));
        assert!(!a.contains_key(REVISION_HISTORY));
    }

    #[test]
    fn a_raised_revision_is_kept_in_the_history_and_never_lowered() {
        let d = deployment(json!({}));
        let mut r = rs(json!({REVISION: "2", REVISION_HISTORY: "1"}));
        assert!(set_new_replica_set_annotations(&d, &mut r, 5, true, 2000));
        let a = r.metadata.annotations.clone().unwrap();
        assert_eq!(a[REVISION], "5");
        assert_eq!(a[REVISION_HISTORY], "1,2");
        assert!(
            !set_new_replica_set_annotations(&d, &mut r, 3, true, 2000),
            "not lowered"
        );
        assert!(
            !r.metadata
                .annotations
                .unwrap()
                .contains_key(DESIRED_REPLICAS),
            "exists: not set"
        );
    }

    #[test]
    fn the_history_drops_its_oldest_entries_to_fit() {
        let d = deployment(json!({}));
        let mut r = rs(json!({REVISION: "14", REVISION_HISTORY: "10,11,12"}));
        set_new_replica_set_annotations(&d, &mut r, 20, true, 8);
        assert_eq!(
            r.metadata.annotations.unwrap()[REVISION_HISTORY],
            "11,12,14"
        );
    }

    #[test]
    fn rollback_annotations_keep_the_controllers_and_take_the_rest() {
        let d = deployment(json!({REVISION: "3", "old": "x"}));
        let r =
            rs(json!({REVISION: "1", "kubernetes.io/change-cause": "v1", DESIRED_REPLICAS: "2"}));
        let a = rolled_back_annotations(&d, &r);
        assert_eq!(a.get(REVISION).map(String::as_str), Some("3"));
        assert_eq!(
            a.get("kubernetes.io/change-cause").map(String::as_str),
            Some("v1")
        );
        assert!(!a.contains_key("old") && !a.contains_key(DESIRED_REPLICAS));
    }
}
