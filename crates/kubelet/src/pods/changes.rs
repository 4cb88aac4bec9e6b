//! Which pod updates wake the pod's worker: changes to what the kubelet acts on (the spec,
//! labels and annotations that downward-API volumes show, the deletion), never status-only
//! updates. The kubelet writes the status itself, so without this its own patch would come
//! back through the watch and sync the pod once more for nothing; upstream's config source
//! drops status-only updates the same way. The PLEG, probes and the periodic resync still
//! wake the worker as before.

use std::hash::{DefaultHasher, Hash, Hasher};

use k8s_openapi::api::core::v1::Pod;

/// A hash of everything in `pod` that a sync acts on (a kube-runtime predicate: the worker
/// is woken when it changes). The UID is included, so a pod re-created under the same name
/// is always new.
pub fn acted_on(pod: &Pod) -> Option<u64> {
    let m = &pod.metadata;
    let mut h = DefaultHasher::new();
    m.uid.hash(&mut h);
    m.generation.hash(&mut h);
    m.labels.hash(&mut h);
    m.annotations.hash(&mut h);
    m.deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_nanosecond())
        .hash(&mut h);
    m.deletion_grace_period_seconds.hash(&mut h);
    // PodSpec has no Hash; its JSON is deterministic (struct order, sorted maps).
    serde_json::to_vec(&pod.spec)
        .unwrap_or_default()
        .hash(&mut h);
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "uid": "u1", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap()
    }

    #[test]
    fn status_and_resource_version_do_not_count() {
        let mut p = pod();
        let before = acted_on(&p);
        p.metadata.resource_version = Some("42".into());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        });
        assert_eq!(acted_on(&p), before);
    }

    #[test]
    fn spec_labels_annotations_deletion_and_uid_count() {
        let base = acted_on(&pod());
        let mut p = pod();
        p.spec.as_mut().unwrap().containers[0].image = Some("other".into());
        assert_ne!(acted_on(&p), base, "spec");
        let mut p = pod();
        p.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("x".into(), "y".into());
        assert_ne!(acted_on(&p), base, "labels");
        let mut p = pod();
        p.metadata.annotations = Some([("n".to_string(), "v".to_string())].into());
        assert_ne!(acted_on(&p), base, "annotations");
        let mut p = pod();
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::UNIX_EPOCH,
        ));
        assert_ne!(acted_on(&p), base, "deletion");
        let mut p = pod();
        p.metadata.deletion_grace_period_seconds = Some(0);
        assert_ne!(acted_on(&p), base, "grace period");
        let mut p = pod();
        p.metadata.uid = Some("u2".into());
        assert_ne!(acted_on(&p), base, "uid");
    }
}
