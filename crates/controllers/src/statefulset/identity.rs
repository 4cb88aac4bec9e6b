//! A StatefulSet pod's identity, as upstream's `stateful_set_utils`: the name `<set>-<ordinal>`,
//! the labels `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`, hostname
//! and subdomain (`serviceName`), the revision label, and its storage (a volume per claim
//! template naming the claim `<template>-<set>-<ordinal>`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use kube::ResourceExt;

use crate::history::REVISION_LABEL;
use crate::pod_control::{controller_ref, pod_from_template};

/// Upstream's `StatefulSetPodNameLabel`.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Upstream's `PodIndexLabel`.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// `(parent, ordinal)` of a pod named `<parent>-<ordinal>`.
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, ord) = name.rsplit_once('-')?;
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

/// The pod's ordinal, if its name has one.
pub fn ordinal(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(pod.metadata.name.as_deref()?).map(|(_, o)| o)
}

/// Whether `pod` is named as a member of `set`.
pub fn is_member(set: &StatefulSet, pod: &Pod) -> bool {
    pod.metadata
        .name
        .as_deref()
        .and_then(parent_and_ordinal)
        .is_some_and(|(p, _)| p == set.name_any())
}

/// `spec.ordinals.start` (0 when unset).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

/// `spec.replicas` (default 1).
pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Whether `ordinal` is one the set currently wants.
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && ordinal < start + replicas(set)
}

/// `<set>-<ordinal>`.
pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// `<template>-<set>-<ordinal>`.
pub fn claim_name(set: &StatefulSet, template: &PersistentVolumeClaim, ordinal: i32) -> String {
    format!("{}-{}-{ordinal}", template.name_any(), set.name_any())
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

fn service_name(set: &StatefulSet) -> Option<String> {
    set.spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty())
}

/// The revision label of a pod (empty if none).
pub fn revision(pod: &Pod) -> &str {
    pod.labels()
        .get(REVISION_LABEL)
        .map(String::as_str)
        .unwrap_or("")
}

/// Whether the pod's name, namespace and pod-name label fit `set` (upstream's
/// `identityMatches`).
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ord) = ordinal(pod) else {
        return false;
    };
    is_member(set, pod)
        && pod.namespace() == set.namespace()
        && pod.labels().get(POD_NAME_LABEL).map(String::as_str) == pod.metadata.name.as_deref()
        && pod.labels().get(POD_INDEX_LABEL) == Some(&ord.to_string())
}

/// Whether the pod mounts each claim template's claim (upstream's `storageMatches`).
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ord) = ordinal(pod) else {
        return false;
    };
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    claim_templates(set).iter().all(|t| {
        volumes.iter().any(|v| {
            v.name == t.name_any()
                && v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name == claim_name(set, t, ord))
        })
    })
}

/// The claims the pod with `ordinal` needs, by template name (upstream's
/// `getPersistentVolumeClaims`: the template with the claim's name, the set's namespace, and
/// the selector's matchLabels added to its labels).
pub fn claims(set: &StatefulSet, ordinal: i32) -> Vec<(String, PersistentVolumeClaim)> {
    let match_labels: BTreeMap<String, String> = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let mut c = t.clone();
            c.metadata.name = Some(claim_name(set, t, ordinal));
            c.metadata.namespace = set.namespace();
            c.metadata
                .labels
                .get_or_insert_with(Default::default)
                .extend(match_labels.clone());
            // Only spec and labels/annotations come from the template.
            c.status = None;
            (t.name_any(), c)
        })
        .collect()
}

/// Sets name-derived labels on `pod` (upstream's `updateIdentity`).
pub fn update_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let name = pod_name(set, ordinal);
    pod.metadata.name = Some(name.clone());
    pod.metadata.namespace = set.namespace();
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(POD_NAME_LABEL.into(), name);
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
}

/// Points the pod's claim volumes at its claims, keeping its other volumes (upstream's
/// `updateStorage`).
pub fn update_storage(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let claims = claims(set, ordinal);
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    let current = spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(template, claim)| Volume {
            name: template.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.name_any(),
                read_only: Some(false),
            }),
            ..Volume::default()
        })
        .collect();
    volumes.extend(
        current
            .into_iter()
            .filter(|v| !claims.iter().any(|(t, _)| *t == v.name)),
    );
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
}

/// The pod with `ordinal` of `set` built from `template` at `revision` (upstream's
/// `newStatefulSetPod` + `setPodRevision`): controller reference, identity, hostname and
/// subdomain, storage.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let mut pod = pod_from_template(template, Some(controller_ref(set)), None);
    pod.metadata.generate_name = None;
    update_identity(set, &mut pod, ordinal);
    if let Some(spec) = pod.spec.as_mut() {
        spec.hostname = pod.metadata.name.clone();
        spec.subdomain = service_name(set);
    }
    update_storage(set, &mut pod, ordinal);
    pod.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(REVISION_LABEL.into(), revision.into());
    pod
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
            "spec": {
                "replicas": 3,
                "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}],
                             "volumes": [{"name": "data", "emptyDir": {}}, {"name": "keep", "emptyDir": {}}]}
                },
                "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn names_and_ordinals() {
        assert_eq!(parent_and_ordinal("web-12"), Some(("web", 12)));
        assert_eq!(parent_and_ordinal("my-web-0"), Some(("my-web", 0)));
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-x1"), None);
        assert_eq!(parent_and_ordinal("web"), None);
    }

    #[test]
    fn a_new_pod_has_its_identity_and_storage() {
        let s = set();
        let t = s.spec.as_ref().unwrap().template.clone();
        let pod = new_pod(&s, &t, "web-abc", 2);
        assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
        assert_eq!(pod.metadata.generate_name, None);
        let l = pod.labels();
        assert_eq!(l[POD_NAME_LABEL], "web-2");
        assert_eq!(l[POD_INDEX_LABEL], "2");
        assert_eq!(l[REVISION_LABEL], "web-abc");
        assert_eq!(l["app"], "web");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let vols = spec.volumes.as_ref().unwrap();
        assert_eq!(
            vols.len(),
            2,
            "the template's 'data' volume is replaced by the claim"
        );
        assert_eq!(
            vols[0].persistent_volume_claim.as_ref().unwrap().claim_name,
            "data-web-2"
        );
        assert_eq!(vols[1].name, "keep");
        assert_eq!(pod.owner_references()[0].uid, "u1");
        assert!(identity_matches(&s, &pod));
        assert!(storage_matches(&s, &pod));
    }

    #[test]
    fn claims_carry_the_selector_labels() {
        let c = claims(&set(), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0, "data");
        assert_eq!(c[0].1.metadata.name.as_deref(), Some("data-web-1"));
        let l = c[0].1.labels();
        assert_eq!((l["app"].as_str(), l["tier"].as_str()), ("web", "db"));
    }

    #[test]
    fn ranges_follow_ordinals_start() {
        let mut s = set();
        assert!(in_range(&s, 0) && in_range(&s, 2) && !in_range(&s, 3));
        s.spec.as_mut().unwrap().ordinals =
            Some(k8s_openapi::api::apps::v1::StatefulSetOrdinals { start: Some(5) });
        assert!(!in_range(&s, 4) && in_range(&s, 5) && in_range(&s, 7) && !in_range(&s, 8));
    }
}
