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

use serde::Serialize;
use serde::de::DeserializeOwned;
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
