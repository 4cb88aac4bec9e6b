//! Decoding a request body into its kind's k8s-openapi type and back, as upstream decodes into
//! its Go types: unknown fields are dropped (and reported, for `fieldValidation`), wrongly typed
//! fields are a decoding error.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes `obj` into its typed struct, ignoring `apiVersion`/`kind` (the typed structs insist
/// on their own version). `None` when the JSON does not fit the type.
pub(crate) fn decode<T: DeserializeOwned>(obj: &Value) -> Option<T> {
    // Straight from the borrow when apiVersion/kind are the type's own (or absent), the usual
    // case: no copy of the object.
    if let Ok(t) = T::deserialize(obj) {
        return Some(t);
    }
    match obj {
        Value::Object(map) => {
            let mut map = map.clone();
            map.remove("apiVersion");
            map.remove("kind");
            serde_json::from_value(Value::Object(map)).ok()
        }
        _ => None,
    }
}

/// Why a body could not be decoded as its kind.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// The body, re-encoded from the typed struct, and the paths of fields that were dropped.
pub struct Normalized {
    /// The object as upstream would store it.
    pub object: Value,
    /// Dropped fields, as `.spec.foo` paths.
    pub unknown_fields: Vec<String>,
}

macro_rules! typed_kinds {
    ($( $group:literal $kind:literal => $ty:ty ;)*) => {
        fn roundtrip(group: &str, kind: &str, v: &Value) -> Option<Result<Value, serde_json::Error>> {
            match (group, kind) {
                $(($group, $kind) => Some(
                    <$ty as serde::Deserialize>::deserialize(v).and_then(serde_json::to_value)
                ),)*
                _ => None,
            }
        }
    };
}

typed_kinds! {
    "" "Binding" => k8s_openapi::api::core::v1::Binding;
    "" "ConfigMap" => k8s_openapi::api::core::v1::ConfigMap;
    "" "Endpoints" => k8s_openapi::api::core::v1::Endpoints;
    "" "Event" => k8s_openapi::api::core::v1::Event;
    "" "LimitRange" => k8s_openapi::api::core::v1::LimitRange;
    "" "Namespace" => k8s_openapi::api::core::v1::Namespace;
    "" "Node" => k8s_openapi::api::core::v1::Node;
    "" "PersistentVolumeClaim" => k8s_openapi::api::core::v1::PersistentVolumeClaim;
    "" "PersistentVolume" => k8s_openapi::api::core::v1::PersistentVolume;
    "" "Pod" => k8s_openapi::api::core::v1::Pod;
    "" "PodTemplate" => k8s_openapi::api::core::v1::PodTemplate;
    "" "ReplicationController" => k8s_openapi::api::core::v1::ReplicationController;
    "" "ResourceQuota" => k8s_openapi::api::core::v1::ResourceQuota;
    "" "Secret" => k8s_openapi::api::core::v1::Secret;
    "" "ServiceAccount" => k8s_openapi::api::core::v1::ServiceAccount;
    "" "Service" => k8s_openapi::api::core::v1::Service;
    "apiextensions.k8s.io" "CustomResourceDefinition" => k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    "apps" "ControllerRevision" => k8s_openapi::api::apps::v1::ControllerRevision;
    "apps" "DaemonSet" => k8s_openapi::api::apps::v1::DaemonSet;
    "apps" "Deployment" => k8s_openapi::api::apps::v1::Deployment;
    "apps" "ReplicaSet" => k8s_openapi::api::apps::v1::ReplicaSet;
    "apps" "StatefulSet" => k8s_openapi::api::apps::v1::StatefulSet;
    "autoscaling" "HorizontalPodAutoscaler" => k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    "autoscaling" "Scale" => k8s_openapi::api::autoscaling::v1::Scale;
    "batch" "CronJob" => k8s_openapi::api::batch::v1::CronJob;
    "batch" "Job" => k8s_openapi::api::batch::v1::Job;
    "coordination.k8s.io" "Lease" => k8s_openapi::api::coordination::v1::Lease;
    "discovery.k8s.io" "EndpointSlice" => k8s_openapi::api::discovery::v1::EndpointSlice;
    "networking.k8s.io" "IngressClass" => k8s_openapi::api::networking::v1::IngressClass;
    "networking.k8s.io" "Ingress" => k8s_openapi::api::networking::v1::Ingress;
    "networking.k8s.io" "NetworkPolicy" => k8s_openapi::api::networking::v1::NetworkPolicy;
    "policy" "Eviction" => k8s_openapi::api::policy::v1::Eviction;
    "policy" "PodDisruptionBudget" => k8s_openapi::api::policy::v1::PodDisruptionBudget;
    "rbac.authorization.k8s.io" "ClusterRoleBinding" => k8s_openapi::api::rbac::v1::ClusterRoleBinding;
    "rbac.authorization.k8s.io" "ClusterRole" => k8s_openapi::api::rbac::v1::ClusterRole;
    "rbac.authorization.k8s.io" "RoleBinding" => k8s_openapi::api::rbac::v1::RoleBinding;
    "rbac.authorization.k8s.io" "Role" => k8s_openapi::api::rbac::v1::Role;
    "scheduling.k8s.io" "PriorityClass" => k8s_openapi::api::scheduling::v1::PriorityClass;
    "storage.k8s.io" "StorageClass" => k8s_openapi::api::storage::v1::StorageClass;
}

/// Decodes `body` as `group`/`kind` (its `apiVersion` and `kind` already set) and re-encodes it.
/// A kind without a typed struct passes through unchanged.
pub fn normalize(group: &str, kind: &str, body: Value) -> Result<Normalized, DecodeError> {
    // Decoded from a borrow: the body stays whole for the dropped-field diff, uncopied.
    let Some(result) = roundtrip(group, kind, &body) else {
        return Ok(Normalized {
            object: body,
            unknown_fields: Vec::new(),
        });
    };
    normalized(body, result)
}

/// [`normalize`] for a kind in one of the versions served besides the stored one, which decode
/// as their own types (`autoscaling/v1` HorizontalPodAutoscaler, `events.k8s.io/v1` Event);
/// any other version is the one [`normalize`] knows.
pub fn normalize_version(
    group: &str,
    version: &str,
    kind: &str,
    body: Value,
) -> Result<Normalized, DecodeError> {
    use k8s_openapi::api::{autoscaling, events};
    fn roundtrip<T: serde::de::DeserializeOwned + serde::Serialize>(
        v: &Value,
    ) -> Result<Value, serde_json::Error> {
        T::deserialize(v).and_then(serde_json::to_value)
    }
    let result = match (group, version, kind) {
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
            roundtrip::<autoscaling::v1::HorizontalPodAutoscaler>(&body)
        }
        ("events.k8s.io", "v1", "Event") => roundtrip::<events::v1::Event>(&body),
        _ => return normalize(group, kind, body),
    };
    normalized(body, result)
}

/// The [`Normalized`] of `original`, given the typed round trip's `result` (which may also
/// hold defaults: they add fields, never drop one).
pub(crate) fn normalized(
    original: Value,
    result: Result<Value, serde_json::Error>,
) -> Result<Normalized, DecodeError> {
    let object = result.map_err(|e| DecodeError(e.to_string()))?;
    let mut unknown_fields = Vec::new();
    dropped_fields(&original, &object, &mut String::new(), &mut unknown_fields);
    Ok(Normalized {
        object,
        unknown_fields,
    })
}

/// Collects the paths present in `before` but not in `after` (nulls do not count: an explicit
/// null and an absent field mean the same).
fn dropped_fields(before: &Value, after: &Value, path: &mut String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                match a.get(k) {
                    Some(av) => dropped_fields(bv, av, path, out),
                    None if !bv.is_null() && !is_empty_container(bv) => out.push(path.clone()),
                    None => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                dropped_fields(bv, av, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Typed structs omit empty optional maps and lists; dropping those loses nothing.
fn is_empty_container(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(|v| v.is_null() || is_empty_container(v)),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_dropped_and_reported() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "colour": "red"}]}});
        let n = normalize("", "Pod", pod).unwrap();
        assert_eq!(
            n.unknown_fields,
            [".metadata.bogus", ".spec.containers[0].colour"]
        );
        assert_eq!(
            n.object["spec"]["containers"][0],
            json!({"name": "c", "image": "i"})
        );
    }

    #[test]
    fn wrong_types_are_decode_errors() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": "not a list"}});
        assert!(normalize("", "Pod", pod).is_err());
    }

    #[test]
    fn served_versions_decode_as_their_own_types() {
        let hpa = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 2,
                     "targetCPUUtilizationPercentage": 5, "metrics": [{"type": "Pods"}]}});
        let n = normalize_version("autoscaling", "v1", "HorizontalPodAutoscaler", hpa).unwrap();
        assert_eq!(n.unknown_fields, [".spec.metrics"]);
        assert_eq!(n.object["spec"]["targetCPUUtilizationPercentage"], 5);
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e"}, "note": "n", "message": "m"});
        let n = normalize_version("events.k8s.io", "v1", "Event", ev).unwrap();
        assert_eq!(n.unknown_fields, [".message"]);
        let cm =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "x": 1});
        let n = normalize_version("", "v1", "ConfigMap", cm).unwrap();
        assert_eq!(n.unknown_fields, [".x"]);
    }

    #[test]
    fn nulls_and_empty_maps_are_not_unknown() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": null, "annotations": {}}, "data": {"k": "v"}});
        let n = normalize("", "ConfigMap", cm).unwrap();
        assert!(n.unknown_fields.is_empty(), "{:?}", n.unknown_fields);
    }
}
