//! Defaulting as upstream's `SetDefaults_*` functions and generated defaulters do it, so stored
//! objects look exactly as Kubernetes would return them (`restartPolicy: Always`,
//! `imagePullPolicy`, probe timings, `targetPort`, canonical quantities, …).
//!
//! Objects arrive as JSON that decodes into the k8s-openapi type of their kind; each kind's
//! defaulting decodes it, fills fields in, and encodes it back. JSON that does not decode is
//! left untouched (validation reports it). Nothing here panics on any input.
//!
//! Defaults that upstream's admission plugins add (service account, priority, default
//! tolerations) are not applied here; [`apply_on_create`] covers the create-only preparation
//! that upstream's registry strategies do and that needs no cluster state.

pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod core;
pub mod image;
pub mod networking;
pub mod pod;
pub mod rbac;
pub mod resources;
pub mod scheduling;
pub mod storage;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Fills in every field upstream defaults for this kind (`SetDefaults_*` in
/// `k8s.io/kubernetes/pkg/apis/<group>/v1/defaults.go` and the generated defaulters).
/// Kinds it does not know, and objects that do not decode, are left unchanged.
pub fn apply(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Pod") => typed(obj, pod::default_pod),
        ("", "PodTemplate") => typed(obj, core::default_pod_template),
        ("", "ReplicationController") => typed(obj, core::default_replication_controller),
        ("", "Service") => typed(obj, core::default_service),
        ("", "Secret") => typed(obj, core::default_secret),
        ("", "Namespace") => typed(obj, core::default_namespace),
        ("", "Node") => typed(obj, core::default_node),
        ("", "Endpoints") => typed(obj, core::default_endpoints),
        ("", "PersistentVolume") => typed(obj, core::default_persistent_volume),
        ("", "PersistentVolumeClaim") => typed(obj, core::default_persistent_volume_claim),
        ("", "LimitRange") => typed(obj, core::default_limit_range),
        ("", "ResourceQuota") => typed(obj, core::default_resource_quota),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            crate::validation::apiextensions::default_crd(obj)
        }
        ("apps", "Deployment") => keep_absent_selector(obj, apps::default_deployment),
        ("apps", "ReplicaSet") => keep_absent_selector(obj, apps::default_replica_set),
        ("apps", "StatefulSet") => keep_absent_selector(obj, apps::default_stateful_set),
        ("apps", "DaemonSet") => keep_absent_selector(obj, apps::default_daemon_set),
        ("batch", "Job") => typed(obj, batch::default_job),
        ("batch", "CronJob") => typed(obj, batch::default_cron_job),
        ("discovery.k8s.io", "EndpointSlice") => typed(obj, networking::default_endpoint_slice),
        ("networking.k8s.io", "NetworkPolicy") => typed(obj, networking::default_network_policy),
        ("networking.k8s.io", "IngressClass") => typed(obj, networking::default_ingress_class),
        ("rbac.authorization.k8s.io", "RoleBinding") => typed(obj, rbac::default_role_binding),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            typed(obj, rbac::default_cluster_role_binding)
        }
        ("scheduling.k8s.io", "PriorityClass") => typed(obj, scheduling::default_priority_class),
        ("storage.k8s.io", "StorageClass") => typed(obj, storage::default_storage_class),
        ("autoscaling", "HorizontalPodAutoscaler") => typed(obj, autoscaling::default_hpa),
        _ => {}
    }
}

/// Whether [`normalize_defaulted`] applies `kind`'s defaults as it decodes: only Pods, the
/// kind created most (their defaults read nothing a create's preparation sets). Other kinds
/// take `normalize`, then [`apply`].
pub fn applied_on_decode(group: &str, kind: &str) -> bool {
    matches!((group, kind), ("", "Pod"))
}

/// Typed decoding ([`crate::typed::normalize`]) with the kind's defaults applied in the same
/// pass, as upstream's decoder defaults what it decodes: one decode and one encode instead of
/// two of each. A kind [`applied_on_decode`] does not name is only normalized.
pub fn normalize_defaulted(
    group: &str,
    kind: &str,
    body: Value,
) -> Result<crate::typed::Normalized, crate::typed::DecodeError> {
    match (group, kind) {
        ("", "Pod") => {
            let result = k8s_openapi::api::core::v1::Pod::deserialize(&body)
                .map(|mut pod| {
                    pod::default_pod(&mut pod);
                    pod
                })
                .and_then(serde_json::to_value);
            crate::typed::normalized(body, result)
        }
        _ => crate::typed::normalize(group, kind, body),
    }
}

/// Create-only preparation that upstream's registry strategies do in `PrepareForCreate` and
/// that needs nothing but the object: a Namespace gets the `kubernetes` finalizer; a Job
/// without `manualSelector: true` gets its generated selector and pod labels (this needs
/// `metadata.uid` and `metadata.name` to be set already). Call it once, on create, after
/// [`apply`]: these must not be re-applied on updates (a namespace's finalizer is removed over
/// its life).
pub fn apply_on_create(group: &str, kind: &str, obj: &mut Value) {
    match (group, kind) {
        ("", "Namespace") => typed(obj, core::prepare_namespace_for_create),
        ("batch", "Job") => typed(obj, batch::generate_job_selector),
        _ => {}
    }
}

/// Decodes `obj` as `T` (ignoring apiVersion/kind, which the typed structs are strict about),
/// runs `f`, and writes the result back with the original apiVersion and kind.
fn typed<T: DeserializeOwned + Serialize>(obj: &mut Value, f: impl FnOnce(&mut T)) {
    let Value::Object(map) = &*obj else {
        return;
    };
    let api_version = map.get("apiVersion").cloned();
    let kind = map.get("kind").cloned();
    let Some(mut t) = crate::typed::decode::<T>(obj) else {
        return;
    };
    f(&mut t);
    let Ok(Value::Object(body)) = serde_json::to_value(&t) else {
        return;
    };
    let mut out = serde_json::Map::new();
    if let Some(v) = api_version {
        out.insert("apiVersion".into(), v);
    }
    if let Some(v) = kind {
        out.insert("kind".into(), v);
    }
    for (k, v) in body {
        if k != "apiVersion" && k != "kind" {
            out.insert(k, v);
        }
    }
    *obj = Value::Object(out);
}

/// Like [`typed`], but a `spec.selector` absent from the input stays absent: the typed structs
/// of `apps/v1` make the selector a required field and would otherwise write `selector: {}`,
/// hiding upstream's `spec.selector: Required value`.
fn keep_absent_selector<T: DeserializeOwned + Serialize>(obj: &mut Value, f: impl FnOnce(&mut T)) {
    let absent = obj
        .get("spec")
        .and_then(|s| s.get("selector"))
        .is_none_or(Value::is_null);
    typed(obj, f);
    if absent && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("selector");
    }
}

/// Sets an optional field when unset.
pub(crate) fn or_set<T>(field: &mut Option<T>, value: T) {
    if field.is_none() {
        *field = Some(value);
    }
}

/// Sets an optional string when unset or empty (Go's `== ""`).
pub(crate) fn or_set_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pod_defaulted_as_it_is_decoded_is_the_pod_normalized_then_defaulted() {
        let pods = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i:1",
                    "resources": {"limits": {"cpu": "0.5", "memory": "1Gi"}},
                    "livenessProbe": {"httpGet": {"port": 80}}}]}}),
            // Unknown fields, reported the same either way.
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "colour": "red"},
                "spec": {"hostNetwork": true, "bogus": {"x": 1}, "volumes": [{"name": "v"}],
                    "initContainers": [{"name": "i", "image": "i", "ports": [{"containerPort": 53, "protocol": "UDP"}]}],
                    "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]},
                "status": {"phase": "Running"}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}),
        ];
        for pod in pods {
            let fused = normalize_defaulted("", "Pod", pod.clone()).unwrap();
            let apart = crate::typed::normalize("", "Pod", pod.clone()).unwrap();
            let mut defaulted = apart.object;
            apply("", "Pod", &mut defaulted);
            assert_eq!(fused.object, defaulted, "{pod}");
            assert_eq!(fused.unknown_fields, apart.unknown_fields, "{pod}");
        }
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "c"}});
        assert!(normalize_defaulted("", "Pod", bad).is_err());
        // Other kinds are only normalized.
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        let n = normalize_defaulted("", "Secret", secret.clone()).unwrap();
        assert_eq!(n.object, secret);
        assert!(!applied_on_decode("", "Secret") && applied_on_decode("", "Pod"));
    }

    #[test]
    fn unknown_kinds_and_undecodable_objects_are_untouched() {
        let mut v = json!({"spec": {"containers": "nope"}});
        let before = v.clone();
        apply("", "Pod", &mut v);
        assert_eq!(v, before);
        let mut w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {}});
        let before = w.clone();
        apply("example.com", "Widget", &mut w);
        assert_eq!(w, before);
        for garbage in [json!(null), json!(3), json!("x"), json!([1])] {
            let mut g = garbage.clone();
            apply("", "Service", &mut g);
            apply_on_create("batch", "Job", &mut g);
            assert_eq!(g, garbage);
        }
    }

    #[test]
    fn api_version_and_kind_are_preserved() {
        let mut v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        apply("", "Secret", &mut v);
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque"})
        );
    }
}
