//! Validation of objects as upstream's `pkg/apis/<group>/validation` does it: create checks
//! (names, metadata, spec) and update checks (everything create checks plus immutable fields).
//! Messages and field paths follow upstream's wording, because clients and users match on them.
//!
//! Objects arrive as JSON that already decodes into the k8s-openapi type of their kind; each
//! kind's checks decode it and work on the typed struct. Nothing here panics on any input.

pub mod apiextensions;
pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod coordination;
pub mod core;
pub mod cron;
pub mod discovery;
pub mod events;
pub mod meta;
pub mod names;
pub mod networking;
pub mod pod;
pub mod policy;
pub mod quantity;
pub mod rbac;
pub mod scheduling;
pub mod service;
pub mod storage;
pub mod structural;
pub mod volumes;

use crate::status::FieldCause;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

/// A list of field problems; empty means valid.
pub type Errors = Vec<FieldCause>;

/// Validation of a new object (upstream's `ValidateXxx`), names and metadata included.
/// Empty means valid. Kinds this module does not know are not checked (empty result).
pub fn validate_create(group: &str, kind: &str, obj: &Value) -> Vec<FieldCause> {
    match (group, kind) {
        ("", "Pod") => pod::validate_pod_create(obj),
        ("", "PodTemplate") => core::validate_pod_template(obj, None),
        ("", "ReplicationController") => core::validate_replication_controller(obj, None),
        ("", "Service") => service::validate_service(obj, None),
        ("", "ConfigMap") => core::validate_config_map(obj, None),
        ("", "Secret") => core::validate_secret(obj, None),
        ("", "Namespace") => core::validate_namespace(obj, None),
        ("", "Node") => core::validate_node(obj, None),
        ("", "ServiceAccount") => core::validate_service_account(obj, None),
        ("", "Endpoints") => core::validate_endpoints(obj, None),
        ("", "Event") => core::validate_event(obj, None),
        ("", "LimitRange") => core::validate_limit_range(obj, None),
        ("", "ResourceQuota") => core::validate_resource_quota(obj, None),
        ("", "PersistentVolume") => core::validate_persistent_volume(obj, None),
        ("", "PersistentVolumeClaim") => core::validate_persistent_volume_claim(obj, None),
        ("", "Binding") => core::validate_binding(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            apiextensions::validate_crd(obj, None)
        }
        ("apps", "Deployment") => apps::validate_deployment(obj, None),
        ("apps", "ReplicaSet") => apps::validate_replica_set(obj, None),
        ("apps", "StatefulSet") => apps::validate_stateful_set(obj, None),
        ("apps", "DaemonSet") => apps::validate_daemon_set(obj, None),
        ("apps", "ControllerRevision") => apps::validate_controller_revision(obj, None),
        ("batch", "Job") => batch::validate_job(obj, None),
        ("batch", "CronJob") => batch::validate_cron_job(obj, None),
        ("coordination.k8s.io", "Lease") => coordination::validate_lease(obj, None),
        ("discovery.k8s.io", "EndpointSlice") => discovery::validate_endpoint_slice(obj, None),
        ("networking.k8s.io", "Ingress") => networking::validate_ingress(obj, None),
        ("networking.k8s.io", "IngressClass") => networking::validate_ingress_class(obj, None),
        ("networking.k8s.io", "NetworkPolicy") => networking::validate_network_policy(obj, None),
        ("policy", "PodDisruptionBudget") => policy::validate_pdb(obj, None),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(obj, None),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_cluster_role(obj, None),
        ("rbac.authorization.k8s.io", "RoleBinding") => rbac::validate_role_binding(obj, None),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_cluster_role_binding(obj, None)
        }
        ("scheduling.k8s.io", "PriorityClass") => scheduling::validate_priority_class(obj, None),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class(obj, None),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::validate_hpa(obj, None),
        _ => Vec::new(),
    }
}

/// Validation of an update (upstream's `ValidateXxxUpdate`): everything [`validate_create`]
/// checks on `new` plus metadata immutability and each kind's immutable fields.
pub fn validate_update(group: &str, kind: &str, new: &Value, old: &Value) -> Vec<FieldCause> {
    if (group, kind) == ("", "Pod") {
        return pod::validate_pod_update(new, old);
    }
    let old = Some(old);
    match (group, kind) {
        ("", "PodTemplate") => core::validate_pod_template(new, old),
        ("", "ReplicationController") => core::validate_replication_controller(new, old),
        ("", "Service") => service::validate_service(new, old),
        ("", "ConfigMap") => core::validate_config_map(new, old),
        ("", "Secret") => core::validate_secret(new, old),
        ("", "Namespace") => core::validate_namespace(new, old),
        ("", "Node") => core::validate_node(new, old),
        ("", "ServiceAccount") => core::validate_service_account(new, old),
        ("", "Endpoints") => core::validate_endpoints(new, old),
        ("", "Event") => core::validate_event(new, old),
        ("", "LimitRange") => core::validate_limit_range(new, old),
        ("", "ResourceQuota") => core::validate_resource_quota(new, old),
        ("", "PersistentVolume") => core::validate_persistent_volume(new, old),
        ("", "PersistentVolumeClaim") => core::validate_persistent_volume_claim(new, old),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            apiextensions::validate_crd(new, old)
        }
        ("apps", "Deployment") => apps::validate_deployment(new, old),
        ("apps", "ReplicaSet") => apps::validate_replica_set(new, old),
        ("apps", "StatefulSet") => apps::validate_stateful_set(new, old),
        ("apps", "DaemonSet") => apps::validate_daemon_set(new, old),
        ("apps", "ControllerRevision") => apps::validate_controller_revision(new, old),
        ("batch", "Job") => batch::validate_job(new, old),
        ("batch", "CronJob") => batch::validate_cron_job(new, old),
        ("coordination.k8s.io", "Lease") => coordination::validate_lease(new, old),
        ("discovery.k8s.io", "EndpointSlice") => discovery::validate_endpoint_slice(new, old),
        ("networking.k8s.io", "Ingress") => networking::validate_ingress(new, old),
        ("networking.k8s.io", "IngressClass") => networking::validate_ingress_class(new, old),
        ("networking.k8s.io", "NetworkPolicy") => networking::validate_network_policy(new, old),
        ("policy", "PodDisruptionBudget") => policy::validate_pdb(new, old),
        ("rbac.authorization.k8s.io", "Role") => rbac::validate_role(new, old),
        ("rbac.authorization.k8s.io", "ClusterRole") => rbac::validate_cluster_role(new, old),
        ("rbac.authorization.k8s.io", "RoleBinding") => rbac::validate_role_binding(new, old),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            rbac::validate_cluster_role_binding(new, old)
        }
        ("scheduling.k8s.io", "PriorityClass") => scheduling::validate_priority_class(new, old),
        ("storage.k8s.io", "StorageClass") => storage::validate_storage_class(new, old),
        ("autoscaling", "HorizontalPodAutoscaler") => autoscaling::validate_hpa(new, old),
        _ => Vec::new(),
    }
}

/// [`validate_create`] of a `kind` stored in `group`, written through `via_group`/`via_version`:
/// a few versions add checks of their own (upstream passes the request's version to the
/// validator), e.g. `events.k8s.io/v1` Events ([`events`]).
pub fn validate_create_via(
    via_group: &str,
    via_version: &str,
    group: &str,
    kind: &str,
    obj: &Value,
) -> Vec<FieldCause> {
    let errs = validate_create(group, kind, obj);
    match (via_group, via_version, group, kind) {
        ("events.k8s.io", "v1", "", "Event") => events::validate_v1_create(obj, errs),
        _ => errs,
    }
}

/// [`validate_update`] through `via_group`/`via_version`, as [`validate_create_via`].
pub fn validate_update_via(
    via_group: &str,
    via_version: &str,
    group: &str,
    kind: &str,
    new: &Value,
    old: &Value,
) -> Vec<FieldCause> {
    let errs = validate_update(group, kind, new, old);
    match (via_group, via_version, group, kind) {
        ("events.k8s.io", "v1", "", "Event") => events::validate_v1_update(new, old, errs),
        _ => errs,
    }
}

/// A field path as upstream prints it: `spec.containers[0].ports[1].name`, `data[key]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    /// A path starting at `name` (may be empty for "the whole object").
    pub fn new(name: &str) -> Path {
        Path(name.to_string())
    }

    /// `self.name`.
    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            self.joined(&[".", name])
        }
    }

    /// `self[i]`.
    pub fn index(&self, i: usize) -> Path {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(self.0.len() + 8);
        out.push_str(&self.0);
        let _ = write!(out, "[{i}]");
        Path(out)
    }

    /// `self[key]` (map keys are printed unquoted, as upstream does).
    pub fn key(&self, key: &str) -> Path {
        self.joined(&["[", key, "]"])
    }

    // Every field validated gets a path, error or not: built in one allocation of the right
    // size rather than through `format!` (a visible share of a pod create's validation).
    fn joined(&self, parts: &[&str]) -> Path {
        let len = self.0.len() + parts.iter().map(|p| p.len()).sum::<usize>();
        let mut out = String::with_capacity(len);
        out.push_str(&self.0);
        for p in parts {
            out.push_str(p);
        }
        Path(out)
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> String {
        p.0.clone()
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.0
    }
}

pub(crate) use crate::typed::decode;

/// The cause reported when an object does not even decode into its type.
pub(crate) fn undecodable(kind: &str) -> Errors {
    vec![FieldCause::invalid(
        "",
        &Value::String(String::new()),
        format!("object does not decode as a {kind}"),
    )]
}

/// Decodes `new` (and `old` when given) or returns the undecodable cause.
pub(crate) fn decode_pair<T: DeserializeOwned>(
    kind: &str,
    new: &Value,
    old: Option<&Value>,
) -> Result<(T, Option<T>), Errors> {
    let Some(n) = decode::<T>(new) else {
        return Err(undecodable(kind));
    };
    let o = match old {
        None => None,
        Some(o) => match decode::<T>(o) {
            Some(o) => Some(o),
            None => return Err(undecodable(kind)),
        },
    };
    Ok((n, o))
}

/// An optional part borrowed, or its default when absent (validation only reads; cloning a
/// pod's spec to read it was a visible part of every pod create).
pub(crate) fn or_default<T: Clone + Default>(v: &Option<T>) -> std::borrow::Cow<'_, T> {
    v.as_ref().map_or_else(
        || std::borrow::Cow::Owned(T::default()),
        std::borrow::Cow::Borrowed,
    )
}

/// The string in an optional field, `""` when unset (Go's zero value).
pub(crate) fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

/// A JSON string value, for [`FieldCause`] constructors.
pub(crate) fn jstr(v: &str) -> Value {
    Value::String(v.to_string())
}

/// `must be greater than or equal to 0` when `value` is negative.
pub(crate) fn nonnegative(value: i64, path: &Path) -> Errors {
    if value < 0 {
        vec![FieldCause::invalid(
            path,
            &Value::from(value),
            "must be greater than or equal to 0",
        )]
    } else {
        Vec::new()
    }
}

/// Go's `%q` for a string (close enough: Rust's debug quoting).
pub(crate) fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// Go's `%#v` of a `map[string]string`, e.g. `map[string]string{"app":"web"}`.
pub(crate) fn go_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a `[]string`, e.g. `[]string{"a", "b"}`.
pub(crate) fn go_strings(list: Option<&[String]>) -> String {
    match list {
        None => "[]string(nil)".to_string(),
        Some(l) => {
            let items: Vec<String> = l.iter().map(|s| go_quote(s)).collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of an `intstr.IntOrString`.
pub(crate) fn go_int_or_string(
    v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
) -> String {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match v {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => {
            format!(
                "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
                go_quote(s)
            )
        }
    }
}

/// Go's `%#v` of a `metav1.LabelSelector`, as upstream prints an immutable selector.
pub(crate) fn go_label_selector(
    sel: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> String {
    let Some(sel) = sel else {
        return "null".to_string();
    };
    let exprs = match &sel.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(&r.key),
                        go_quote(&r.operator),
                        go_strings(r.values.as_deref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_map(sel.match_labels.as_ref()),
        exprs
    )
}

/// The JSON form of a typed value, for messages that print a whole struct.
pub(crate) fn json_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::status::FieldCause;

    /// `field: message` lines, for compact assertions.
    pub fn lines(errs: &[FieldCause]) -> Vec<String> {
        errs.iter().map(FieldCause::to_message).collect()
    }

    /// Asserts that some cause has exactly this field and message.
    #[track_caller]
    pub fn assert_has(errs: &[FieldCause], field: &str, message: &str) {
        assert!(
            errs.iter()
                .any(|e| e.field == field && e.message == message),
            "expected `{field}: {message}` in {:#?}",
            lines(errs)
        );
    }

    /// Asserts that some cause is on this field with a message starting with `prefix`.
    #[track_caller]
    pub fn assert_has_prefix(errs: &[FieldCause], field: &str, prefix: &str) {
        assert!(
            errs.iter()
                .any(|e| e.field == field && e.message.starts_with(prefix)),
            "expected `{field}: {prefix}...` in {:#?}",
            lines(errs)
        );
    }

    /// Asserts there are no causes.
    #[track_caller]
    pub fn assert_valid(errs: &[FieldCause]) {
        assert!(errs.is_empty(), "expected valid, got {:#?}", lines(errs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_print_like_upstream() {
        let p = Path::new("spec").child("containers").index(0).child("name");
        assert_eq!(p.as_str(), "spec.containers[0].name");
        assert_eq!(Path::new("data").key("a b").as_str(), "data[a b]");
        assert_eq!(Path::new("").child("x").as_str(), "x");
        for i in [0, 7, 10, 99, 1234, usize::MAX] {
            assert_eq!(Path::new("a").index(i).as_str(), format!("a[{i}]"));
        }
    }

    #[test]
    fn go_renderings() {
        let mut m = BTreeMap::new();
        m.insert("app".to_string(), "web".to_string());
        m.insert("tier".to_string(), "fe".to_string());
        assert_eq!(
            go_map(Some(&m)),
            r#"map[string]string{"app":"web", "tier":"fe"}"#
        );
        assert_eq!(go_map(None), "map[string]string(nil)");
        let sel: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "nginx2"}})).unwrap();
        assert_eq!(
            go_label_selector(Some(&sel)),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"nginx2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
    }

    fn samples() -> Vec<(&'static str, &'static str, Value)> {
        let pod_spec = json!({"containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80, "hostPort": 8080, "name": "http"}],
            "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "0.5"}},
            "livenessProbe": {"httpGet": {"port": "http", "path": "/"}, "successThreshold": 1},
            "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "x"}]}],
            "volumes": [{"name": "v", "secret": {"secretName": "s", "items": [{"key": "k", "path": "p", "mode": 256}]}}],
            "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute", "tolerationSeconds": 5}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "k", "operator": "In", "values": ["a"]}]}]}}},
            "hostname": "h", "nodeSelector": {"a": "b"}});
        let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": pod_spec});
        let mut job_template = template.clone();
        job_template["spec"]["restartPolicy"] = json!("Never");
        let meta = json!({"name": "n", "namespace": "d", "labels": {"app": "x"}, "annotations": {"a": "b"},
            "finalizers": ["example.com/f"], "resourceVersion": "1", "uid": "u", "generation": 1,
            "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u", "controller": true}]});
        let mut cmeta = meta.clone();
        cmeta.as_object_mut().map(|m| m.remove("namespace"));
        let sel = json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]});
        vec![
            ("", "Pod", json!({"metadata": meta, "spec": pod_spec})),
            (
                "",
                "Pod",
                json!({"metadata": meta, "spec": {"activeDeadlineSeconds": 10, "containers": [{"name": "c", "image": "x"}]}}),
            ),
            (
                "",
                "PodTemplate",
                json!({"metadata": meta, "template": template}),
            ),
            (
                "",
                "ReplicationController",
                json!({"metadata": meta, "spec": {"replicas": 2, "selector": {"app": "x"}, "template": template}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": meta, "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": "http", "nodePort": 30001, "name": "a"}],
                "selector": {"app": "x"}, "clusterIP": "10.43.0.5", "clusterIPs": ["10.43.0.5"], "ipFamilies": ["IPv4"], "externalIPs": ["1.2.3.4"]}}),
            ),
            (
                "",
                "ConfigMap",
                json!({"metadata": meta, "data": {"k": "v"}, "binaryData": {"b": "eA=="}}),
            ),
            (
                "",
                "Secret",
                json!({"metadata": meta, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA==", "tls.key": "eA=="}, "stringData": {"x": "y"}}),
            ),
            (
                "",
                "Namespace",
                json!({"metadata": cmeta, "spec": {"finalizers": ["kubernetes"]}}),
            ),
            (
                "",
                "Node",
                json!({"metadata": cmeta, "spec": {"podCIDRs": ["10.42.0.0/24"], "taints": [{"key": "k", "effect": "NoSchedule"}]},
                "status": {"capacity": {"cpu": "2"}, "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}),
            ),
            (
                "",
                "Endpoints",
                json!({"metadata": meta, "subsets": [{"addresses": [{"ip": "10.0.0.1", "hostname": "h"}], "ports": [{"port": 1}]}]}),
            ),
            (
                "",
                "Event",
                json!({"metadata": meta, "involvedObject": {"namespace": "d"}, "reason": "r", "action": "a",
                "reportingComponent": "kubelet", "reportingInstance": "node-1", "eventTime": "2024-01-01T00:00:00.000000Z"}),
            ),
            (
                "",
                "LimitRange",
                json!({"metadata": meta, "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "1"}, "maxLimitRequestRatio": {"cpu": "2"}}]}}),
            ),
            (
                "",
                "ResourceQuota",
                json!({"metadata": meta, "spec": {"hard": {"pods": "10"}, "scopes": ["BestEffort"]}}),
            ),
            (
                "",
                "PersistentVolume",
                json!({"metadata": cmeta, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "local": {"path": "/x"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}]}}}}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"metadata": meta, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                "dataSource": {"kind": "PersistentVolumeClaim", "name": "p"}}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"metadata": meta, "spec": {"selector": sel, "template": template, "strategy": {"rollingUpdate": {"maxSurge": "10%"}}}}),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"metadata": meta, "spec": {"selector": sel, "template": template}}),
            ),
            (
                "apps",
                "StatefulSet",
                json!({"metadata": meta, "spec": {"selector": sel, "template": template, "ordinals": {"start": 1},
                "updateStrategy": {"rollingUpdate": {"maxUnavailable": "50%"}},
                "volumeClaimTemplates": [{"metadata": {"name": "v"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
            ),
            (
                "apps",
                "DaemonSet",
                json!({"metadata": meta, "spec": {"selector": sel, "template": template}}),
            ),
            (
                "apps",
                "ControllerRevision",
                json!({"metadata": meta, "revision": 2, "data": {"a": 1}}),
            ),
            (
                "batch",
                "Job",
                json!({"metadata": meta, "spec": {"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1, "maxFailedIndexes": 2,
                "podFailurePolicy": {"rules": [{"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget"}]}]}, "template": job_template}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"metadata": meta, "spec": {"schedule": "*/5 1-3 * JAN-MAR MON", "timeZone": "Europe/Paris", "jobTemplate": {"spec": {"template": job_template}}}}),
            ),
            (
                "coordination.k8s.io",
                "Lease",
                json!({"metadata": meta, "spec": {"leaseDurationSeconds": 10}}),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"metadata": meta, "addressType": "FQDN", "endpoints": [{"addresses": ["a.example.com"], "hostname": "h"}], "ports": [{"port": 1, "name": "p", "appProtocol": "http"}]}),
            ),
            (
                "networking.k8s.io",
                "Ingress",
                json!({"metadata": meta, "spec": {"rules": [{"host": "*.a.com", "http": {"paths": [{"path": "/a", "pathType": "Exact",
                "backend": {"resource": {"kind": "K", "name": "n", "apiGroup": "g.io"}}}]}}], "tls": [{"hosts": ["a.com"], "secretName": "s"}]}}),
            ),
            (
                "networking.k8s.io",
                "IngressClass",
                json!({"metadata": cmeta, "spec": {"controller": "a.io/c", "parameters": {"kind": "K", "name": "n", "scope": "Namespace", "namespace": "d"}}}),
            ),
            (
                "networking.k8s.io",
                "NetworkPolicy",
                json!({"metadata": meta, "spec": {"podSelector": sel, "egress": [{"to": [{"ipBlock": {"cidr": "::/0", "except": ["fe80::/10"]}}], "ports": [{"port": 1, "endPort": 2}]}]}}),
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"metadata": meta, "spec": {"maxUnavailable": 1, "selector": sel}}),
            ),
            (
                "rbac.authorization.k8s.io",
                "Role",
                json!({"metadata": meta, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRole",
                json!({"metadata": cmeta, "aggregationRule": {"clusterRoleSelectors": [sel]}}),
            ),
            (
                "rbac.authorization.k8s.io",
                "RoleBinding",
                json!({"metadata": meta, "roleRef": {"kind": "Role", "name": "r"}, "subjects": [{"kind": "Group", "name": "g"}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                json!({"metadata": cmeta, "roleRef": {"kind": "ClusterRole", "name": "r"}, "subjects": [{"kind": "ServiceAccount", "name": "s", "namespace": "d"}]}),
            ),
            (
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"metadata": cmeta, "value": 1000, "globalDefault": true, "description": "d", "preemptionPolicy": "Never"}),
            ),
            (
                "storage.k8s.io",
                "StorageClass",
                json!({"metadata": cmeta, "provisioner": "a.io/p", "parameters": {"a": "b"},
                "allowedTopologies": [{"matchLabelExpressions": [{"key": "k", "values": ["v"]}]}]}),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"metadata": meta, "spec": {"maxReplicas": 3, "scaleTargetRef": {"kind": "Deployment", "name": "d"},
                "metrics": [{"type": "External", "external": {"metric": {"name": "m"}, "target": {"type": "Value", "value": "1k"}}}],
                "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 1}]}}}}),
            ),
            (
                "",
                "Binding",
                json!({"metadata": meta, "target": {"kind": "Node", "name": "n"}}),
            ),
        ]
    }

    fn map_leaves(v: &Value, f: &dyn Fn(&Value) -> Option<Value>) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), map_leaves(v, f)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|v| map_leaves(v, f)).collect()),
            other => f(other).unwrap_or_else(|| other.clone()),
        }
    }

    #[test]
    fn samples_are_valid_after_defaulting_and_mutations_never_panic() {
        for (group, kind, obj) in samples() {
            let mut defaulted = obj.clone();
            crate::defaults::apply(group, kind, &mut defaulted);
            crate::defaults::apply_on_create(group, kind, &mut defaulted);
            let errs = validate_create(group, kind, &defaulted);
            assert!(
                errs.is_empty(),
                "{group}/{kind}: {:#?}",
                testutil::lines(&errs)
            );
            let errs = validate_update(group, kind, &defaulted, &defaulted);
            assert!(
                errs.is_empty(),
                "{group}/{kind} update: {:#?}",
                testutil::lines(&errs)
            );

            let strings = [
                "",
                "-",
                "é/%..",
                "..",
                "A B",
                "\u{0}",
                "0",
                "1e999999",
                "-1Ki",
                "*",
                "a".repeat(300).leak(),
            ];
            for s in strings {
                let mutated = map_leaves(&obj, &|v| {
                    v.is_string().then(|| Value::String(s.to_string()))
                });
                let mut d = mutated.clone();
                crate::defaults::apply(group, kind, &mut d);
                crate::defaults::apply_on_create(group, kind, &mut d);
                let _ = validate_create(group, kind, &d);
                let _ = validate_update(group, kind, &d, &defaulted);
                let _ = validate_update(group, kind, &defaulted, &d);
            }
            for n in [
                i64::from(i32::MIN),
                -1,
                0,
                i64::from(i32::MAX),
                i64::MIN,
                i64::MAX,
            ] {
                let mutated = map_leaves(&obj, &|v| v.is_number().then(|| Value::from(n)));
                let mut d = mutated.clone();
                crate::defaults::apply(group, kind, &mut d);
                let _ = validate_create(group, kind, &d);
                let _ = validate_update(group, kind, &d, &defaulted);
            }
            for b in [true, false] {
                let mutated = map_leaves(&obj, &|v| v.is_boolean().then_some(Value::Bool(b)));
                let mut d = mutated.clone();
                crate::defaults::apply(group, kind, &mut d);
                let _ = validate_create(group, kind, &d);
            }
        }
    }

    #[test]
    fn unknown_kinds_and_garbage_never_panic() {
        assert!(validate_create("example.com", "Widget", &json!({})).is_empty());
        for kind in [
            ("", "Pod"),
            ("", "Service"),
            ("apps", "Deployment"),
            ("batch", "CronJob"),
            ("", "Secret"),
            ("networking.k8s.io", "Ingress"),
            ("autoscaling", "HorizontalPodAutoscaler"),
        ] {
            for garbage in [
                json!(null),
                json!(5),
                json!("x"),
                json!({"spec": 5}),
                json!({"metadata": {"name": 7}}),
                json!({"spec": {"containers": "no"}}),
            ] {
                let errs = validate_create(kind.0, kind.1, &garbage);
                assert!(!errs.is_empty(), "{kind:?} {garbage}");
                let _ = validate_update(kind.0, kind.1, &garbage, &garbage);
            }
        }
    }
}
