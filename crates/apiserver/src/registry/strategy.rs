//! Per-kind behaviour in the generic registry's fixed order (ARCHITECTURE.md §5):
//! prepare_for_create → defaults → validate, and prepare_for_update (status on the main
//! resource and spec on `/status` are kept from the stored object).

use super::meta::{meta_mut, timestamp};
use rkube_api::resources::ResourceInfo;
use serde_json::{Value, json};

/// Kinds whose `metadata.generation` counts spec changes (upstream sets it in their strategies).
fn tracks_generation(info: &ResourceInfo) -> bool {
    matches!(
        (info.group, info.kind),
        ("", "Pod" | "ReplicationController")
            | (
                "apps",
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            )
            | ("batch", "Job" | "CronJob")
            | ("autoscaling", "HorizontalPodAutoscaler")
            | ("policy", "PodDisruptionBudget")
            | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    ) || crate::crd::custom(info).is_some()
}

fn has_status(info: &ResourceInfo) -> bool {
    info.has_subresource("status")
}

/// System fields of a new object, and the status it starts with.
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value, now: jiff::Timestamp) {
    let uid = uuid::Uuid::new_v4().to_string();
    let meta = meta_mut(obj);
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(field);
    }
    meta.insert("uid".into(), uid.into());
    meta.insert("creationTimestamp".into(), timestamp(now));
    if tracks_generation(info) {
        meta.insert("generation".into(), 1.into());
    } else {
        meta.remove("generation");
    }
    if !has_status(info) {
        return;
    }
    let initial = match (info.group, info.kind) {
        ("", "Pod") => Some(json!({"phase": "Pending"})),
        ("", "Namespace") => Some(json!({"phase": "Active"})),
        ("", "PersistentVolume" | "PersistentVolumeClaim") => Some(json!({"phase": "Pending"})),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            Some(crate::crd::admit::initial_crd_status(obj))
        }
        // The kubelet registers a node with its status filled in.
        ("", "Node") => return,
        _ => None,
    };
    match (obj.as_object_mut(), initial) {
        (Some(map), Some(status)) => {
            map.insert("status".into(), status);
        }
        (Some(map), None) => {
            map.remove("status");
        }
        (None, _) => {}
    }
}

/// Carries over from `old` what an update through `subresource` may not change.
pub fn prepare_for_update(
    info: &ResourceInfo,
    subresource: Option<&str>,
    new: &mut Value,
    old: &Value,
) {
    // Identity and lifecycle fields are the server's.
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let keep = [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ];
    {
        let meta = meta_mut(new);
        meta.remove("resourceVersion");
        meta.remove("selfLink");
        for field in keep {
            match old_meta.get(field) {
                Some(v) => meta.insert(field.to_string(), v.clone()),
                None => meta.remove(field),
            };
        }
    }
    match subresource {
        Some("finalize") => {
            // Only spec.finalizers changes through /finalize.
            let finalizers = new["spec"]["finalizers"].clone();
            *new = old.clone();
            meta_mut(new).remove("resourceVersion");
            match finalizers {
                Value::Null => {
                    if let Some(spec) = new["spec"].as_object_mut() {
                        spec.remove("finalizers");
                    }
                }
                f => new["spec"]["finalizers"] = f,
            }
        }
        Some("status") => {
            // A status update changes status only: spec and metadata stay as stored
            // (upstream's ResetObjectMetaForStatus).
            if let Some(map) = new.as_object_mut() {
                map.insert("metadata".into(), old_meta);
                for (k, v) in old.as_object().into_iter().flatten() {
                    if k != "status" && k != "metadata" {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => {
            if has_status(info)
                && let Some(map) = new.as_object_mut()
            {
                match old.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            let changed = crate::crd::admit::bumps_generation(info, new, old)
                .unwrap_or_else(|| new.get("spec") != old.get("spec"));
            if tracks_generation(info) && changed {
                let generation = old_meta
                    .get("generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta_mut(new).insert("generation".into(), (generation + 1).into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkube_api::resources::find;

    #[test]
    fn create_resets_status_and_sets_identity() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        let mut obj = json!({"metadata": {"name": "d", "resourceVersion": "7", "uid": "mine"},
            "spec": {}, "status": {"replicas": 5}});
        prepare_for_create(deploy, &mut obj, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(obj.get("status"), None);
        assert_eq!(obj["metadata"]["generation"], 1);
        assert_ne!(obj["metadata"]["uid"], "mine");
        assert_eq!(obj["metadata"].get("resourceVersion"), None);
        let pods = find("", "v1", "pods").unwrap();
        let mut pod = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
        prepare_for_create(pods, &mut pod, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(pod["status"], json!({"phase": "Pending"}));
    }

    #[test]
    fn main_updates_keep_status_and_bump_generation_on_spec_change() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        let old = json!({"metadata": {"name": "d", "uid": "u", "generation": 3},
            "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "d", "uid": "other", "labels": {"a": "b"}},
            "spec": {"replicas": 2}, "status": {"replicas": 9}});
        prepare_for_update(deploy, None, &mut new, &old);
        assert_eq!(new["status"], json!({"replicas": 1}));
        assert_eq!(new["metadata"]["generation"], 4);
        assert_eq!(new["metadata"]["uid"], "u");
        assert_eq!(new["metadata"]["labels"], json!({"a": "b"}));
        let mut same = old.clone();
        prepare_for_update(deploy, None, &mut same, &old);
        assert_eq!(same["metadata"]["generation"], 3);
    }

    #[test]
    fn finalize_changes_only_spec_finalizers() {
        let ns = find("", "v1", "namespaces").unwrap();
        let old = json!({"metadata": {"name": "n", "labels": {"a": "b"}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}});
        let mut new = json!({"metadata": {"name": "n", "labels": {}}, "spec": {"finalizers": []},
            "status": {"phase": "Active"}});
        prepare_for_update(ns, Some("finalize"), &mut new, &old);
        assert_eq!(new["spec"]["finalizers"], json!([]));
        assert_eq!(new["status"]["phase"], "Terminating");
        assert_eq!(new["metadata"]["labels"], json!({"a": "b"}));
    }

    #[test]
    fn status_updates_keep_spec_and_metadata() {
        let deploy = find("apps", "v1", "deployments").unwrap();
        let old = json!({"metadata": {"name": "d", "labels": {"a": "b"}}, "spec": {"replicas": 1}});
        let mut new = json!({"metadata": {"name": "d", "labels": {"x": "y"}},
            "spec": {"replicas": 5}, "status": {"replicas": 1}});
        prepare_for_update(deploy, Some("status"), &mut new, &old);
        assert_eq!(new["spec"], json!({"replicas": 1}));
        assert_eq!(new["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(new["status"], json!({"replicas": 1}));
    }
}
