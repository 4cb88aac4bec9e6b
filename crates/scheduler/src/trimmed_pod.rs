//! A pod as the scheduler's watch decodes it: everything but `metadata.managedFields`.
//!
//! Upstream's kube-scheduler strips managed fields from the pods its informer keeps (no plugin
//! reads them). Here they are never decoded at all: a pod's managed fields are a tree of
//! `serde_json::Value`s, and decoding, keeping and dropping them twice per pod (the pending
//! pod, then the bound one) cost ~2 % of the scheduler bench's stream.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    ManagedFieldsEntry, ObjectMeta, OwnerReference, Time,
};
use serde::{Deserialize, Deserializer};

/// A pod decoded without its managed fields (`metadata.managedFields` is `None`).
#[derive(Clone, Debug)]
pub struct TrimmedPod(pub Pod);

impl<'de> Deserialize<'de> for TrimmedPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let p = PodWithoutManagedFields::deserialize(d)?;
        Ok(TrimmedPod(Pod {
            metadata: p.metadata,
            spec: p.spec,
            status: p.status,
        }))
    }
}

/// `Pod`'s members; `apiVersion`, `kind` and unknown members are skipped, as `Pod` skips them.
#[derive(Deserialize)]
struct PodWithoutManagedFields {
    #[serde(default, with = "MetaWithoutManagedFields")]
    metadata: ObjectMeta,
    spec: Option<PodSpec>,
    status: Option<PodStatus>,
}

/// `ObjectMeta` decoded member by member, `managedFields` skipped unread. Naming every field
/// (serde's remote derive builds the struct literal) makes a field added to `ObjectMeta` a
/// compile error here rather than a field silently lost.
#[derive(Deserialize)]
#[serde(remote = "ObjectMeta", rename_all = "camelCase")]
struct MetaWithoutManagedFields {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_deserializing)]
    managed_fields: Option<Vec<ManagedFieldsEntry>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    self_link: Option<String>,
    uid: Option<String>,
}

impl kube::Resource for TrimmedPod {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        Pod::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        Pod::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        Pod::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        Pod::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full_pod() -> serde_json::Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p", "namespace": "ns", "uid": "u-1", "resourceVersion": "7",
                "generateName": "p-", "generation": 2, "selfLink": "/x",
                "creationTimestamp": "2026-01-02T03:04:05Z",
                "deletionTimestamp": "2026-01-02T03:05:05Z",
                "deletionGracePeriodSeconds": 30,
                "labels": {"app": "a"}, "annotations": {"note": "n"},
                "finalizers": ["f"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "rs", "uid": "u-0", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Update",
                    "apiVersion": "v1", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}}}}],
                "someFutureField": {"x": 1}
            },
            "spec": {"nodeName": "n1", "schedulerName": "s",
                "containers": [{"name": "c", "image": "i",
                    "resources": {"requests": {"cpu": "100m"}}}]},
            "status": {"phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False"}]}
        })
    }

    #[test]
    fn everything_but_managed_fields_is_decoded_as_pod_decodes_it() {
        let text = full_pod().to_string();
        let mut expected: Pod = serde_json::from_str(&text).unwrap();
        assert!(expected.metadata.managed_fields.is_some());
        expected.metadata.managed_fields = None;
        let trimmed: TrimmedPod = serde_json::from_str(&text).unwrap();
        assert_eq!(trimmed.0, expected);
    }

    #[test]
    fn nulls_and_missing_parts_decode_as_none() {
        for text in [
            r#"{"metadata": {"name": "p", "labels": null, "managedFields": null}}"#,
            r#"{"metadata": {"name": "p"}, "spec": null, "status": null}"#,
        ] {
            let pod: Pod = serde_json::from_str(text).unwrap();
            let trimmed: TrimmedPod = serde_json::from_str(text).unwrap();
            assert_eq!(trimmed.0, pod, "{text}");
        }
        let trimmed: TrimmedPod = serde_json::from_str("{}").unwrap();
        assert_eq!(trimmed.0, Pod::default());
    }

    #[test]
    fn a_malformed_pod_is_refused_as_pod_refuses_it() {
        for text in [
            r#"{"metadata": {"name": 3}}"#,
            r#"{"metadata": []}"#,
            r#"{"spec": {"containers": "c"}}"#,
            r#"[]"#,
        ] {
            assert!(serde_json::from_str::<Pod>(text).is_err(), "{text}");
            assert!(serde_json::from_str::<TrimmedPod>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_watch_event_of_a_pod_decodes() {
        let event = json!({"type": "MODIFIED", "object": full_pod()}).to_string();
        let decoded: kube::core::WatchEvent<TrimmedPod> = serde_json::from_str(&event).unwrap();
        let kube::core::WatchEvent::Modified(pod) = decoded else {
            panic!("not MODIFIED: {decoded:?}");
        };
        assert_eq!(pod.0.metadata.uid.as_deref(), Some("u-1"));
        assert_eq!(pod.0.metadata.managed_fields, None);
        assert_eq!(<TrimmedPod as kube::Resource>::plural(&()), "pods");
    }
}
