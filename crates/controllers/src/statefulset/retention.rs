//! `persistentVolumeClaimRetentionPolicy` through ownerReferences, as upstream: the garbage
//! collector deletes a claim once its owner is gone, so
//! - Retain/Retain: neither the set nor the pod owns the claim;
//! - whenDeleted=Delete: the set owns the claims of the pods it keeps;
//! - whenScaled=Delete: a pod scaled away (ordinal out of range) owns its claims;
//!
//! each owner as controller reference. Claims whose references are stale (a same-named set or
//! pod with another UID) or that another controller manages are left alone.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use super::identity::{in_range, ordinal};
use crate::pod_control::controller_ref;

/// The policy as (whenDeleted is Delete, whenScaled is Delete); unknown values count as Retain.
pub fn policy(set: &StatefulSet) -> (bool, bool) {
    let p = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
    (
        delete(p.and_then(|p| p.when_deleted.as_ref())),
        delete(p.and_then(|p| p.when_scaled.as_ref())),
    )
}

fn matches_ref<K: Resource<DynamicType = ()>>(r: &OwnerReference, obj: &K) -> bool {
    r.api_version == K::api_version(&())
        && r.kind == K::kind(&())
        && Some(&r.name) == obj.meta().name.as_ref()
}

fn uid<K: Resource>(obj: &K) -> &str {
    obj.meta().uid.as_deref().unwrap_or("")
}

fn has_ref<K: Resource>(claim: &PersistentVolumeClaim, owner: &K) -> bool {
    claim.owner_references().iter().any(|r| r.uid == uid(owner))
}

fn has_stale_ref<K: Resource<DynamicType = ()>>(claim: &PersistentVolumeClaim, obj: &K) -> bool {
    claim
        .owner_references()
        .iter()
        .find(|r| matches_ref(r, obj))
        .is_some_and(|r| r.uid != uid(obj))
}

/// Whether a controller other than the set or pod manages the claim (only matters when some
/// policy is Delete).
pub fn has_unexpected_controller(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> bool {
    if policy(set) == (false, false) {
        return false;
    }
    claim.owner_references().iter().any(|r| {
        if matches_ref(r, set) {
            return r.uid != uid(set);
        }
        if matches_ref(r, pod) {
            return r.uid != uid(pod);
        }
        r.controller == Some(true)
    })
}

fn has_non_controller_owner(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    claim
        .owner_references()
        .iter()
        .any(|r| (r.uid == uid(set) || r.uid == uid(pod)) && r.controller != Some(true))
}

fn scaled_down(set: &StatefulSet, pod: &Pod) -> bool {
    !ordinal(pod).is_some_and(|o| in_range(set, o))
}

/// Whether the claim's ownerReferences already express the policy (upstream's
/// `isClaimOwnerUpToDate`).
pub fn up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if has_stale_ref(claim, set) || has_stale_ref(claim, pod) {
        return true;
    }
    if has_unexpected_controller(claim, set, pod) {
        return !(has_ref(claim, set) || has_ref(claim, pod));
    }
    if has_non_controller_owner(claim, set, pod) {
        return false;
    }
    let (set_ref, pod_ref) = (has_ref(claim, set), has_ref(claim, pod));
    let down = scaled_down(set, pod);
    match policy(set) {
        (false, false) => !set_ref && !pod_ref,
        (true, false) => set_ref && !pod_ref,
        (false, true) => !set_ref && down == pod_ref,
        (true, true) => down != set_ref && down == pod_ref,
    }
}

/// The claim's ownerReferences as the policy wants them (upstream's
/// `updateClaimOwnerRefForSetAndPod`).
pub fn wanted_refs(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut refs: Vec<OwnerReference> = claim
        .owner_references()
        .iter()
        .filter(|r| !matches_ref(r, set) && !matches_ref(r, pod))
        .cloned()
        .collect();
    if unexpected {
        return refs;
    }
    let down = scaled_down(set, pod);
    let (when_deleted, when_scaled) = policy(set);
    if when_scaled && down {
        refs.push(controller_ref(pod));
    }
    if when_deleted && !down {
        refs.push(controller_ref(set));
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(replicas: i32, deleted: &str, scaled: &str) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}},
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": deleted, "whenScaled": scaled}}
        }))
        .unwrap()
    }

    fn pod(ord: i32) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": format!("web-{ord}"), "namespace": "ns", "uid": format!("pod-{ord}")}}))
            .unwrap()
    }

    fn claim(refs: Vec<OwnerReference>) -> PersistentVolumeClaim {
        let mut c = PersistentVolumeClaim::default();
        c.metadata.name = Some("data-web-0".into());
        c.metadata.owner_references = Some(refs);
        c
    }

    fn uids(refs: &[OwnerReference]) -> Vec<&str> {
        refs.iter().map(|r| r.uid.as_str()).collect()
    }

    #[test]
    fn retain_retain_wants_no_owner() {
        let (s, p) = (set(1, "Retain", "Retain"), pod(0));
        assert!(up_to_date(&claim(vec![]), &s, &p));
        let owned = claim(vec![controller_ref(&s)]);
        assert!(!up_to_date(&owned, &s, &p));
        assert!(wanted_refs(&owned, &s, &p).is_empty());
    }

    #[test]
    fn when_deleted_delete_makes_the_set_the_owner() {
        let (s, p) = (set(1, "Delete", "Retain"), pod(0));
        let c = claim(vec![]);
        assert!(!up_to_date(&c, &s, &p));
        let refs = wanted_refs(&c, &s, &p);
        assert_eq!(uids(&refs), ["set-uid"]);
        assert_eq!(refs[0].controller, Some(true));
        assert!(up_to_date(&claim(refs), &s, &p));
    }

    #[test]
    fn when_scaled_delete_makes_a_condemned_pod_the_owner() {
        let s = set(1, "Delete", "Delete");
        let (kept, condemned) = (pod(0), pod(1));
        assert_eq!(uids(&wanted_refs(&claim(vec![]), &s, &kept)), ["set-uid"]);
        let refs = wanted_refs(&claim(vec![controller_ref(&s)]), &s, &condemned);
        assert_eq!(
            uids(&refs),
            ["pod-1"],
            "the set's reference is replaced by the pod's"
        );
        assert!(up_to_date(&claim(refs), &s, &condemned));
        let s = set(1, "Retain", "Delete");
        assert!(up_to_date(&claim(vec![]), &s, &kept));
        assert!(!up_to_date(&claim(vec![]), &s, &condemned));
    }

    #[test]
    fn other_controllers_are_respected() {
        let (s, p) = (set(1, "Delete", "Retain"), pod(0));
        let foreign = OwnerReference {
            api_version: "v1".into(),
            kind: "Foo".into(),
            name: "x".into(),
            uid: "foo".into(),
            controller: Some(true),
            block_owner_deletion: None,
        };
        let c = claim(vec![foreign]);
        assert!(up_to_date(&c, &s, &p), "not taken over");
        assert_eq!(uids(&wanted_refs(&c, &s, &p)), ["foo"]);
    }
}
