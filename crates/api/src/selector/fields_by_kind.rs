//! Which field labels each resource can be selected by, and how their values are read.
//!
//! This mirrors Kubernetes v1.33: the field label conversion functions registered per kind
//! (`AddFieldLabelConversionFunc` in `pkg/apis/*/v1/conversion.go`) decide which labels are
//! accepted, their error message, and renames (a pod's `spec.host`, events.k8s.io's
//! `regarding.*`); each registry's `GetAttrs`/`ToSelectableFields` decides the value a field
//! has, with absent fields reading as Go's zero value (`""`, `"0"`, `"false"`).
//!
//! Resources without a conversion function of their own support exactly `metadata.name` and
//! `metadata.namespace` (cluster-scoped ones too, where the namespace reads as `""`). Note that
//! upstream's own lists for nodes, namespaces and certificatesigningrequests leave out
//! `metadata.namespace`, and that apps/v1 replicasets support no `status.replicas` (its
//! registry computes the field but no conversion function admits it).

use serde_json::Value;

use super::error::SelectorError;
use super::validation::go_quote;

/// The field labels of one resource and how to read them.
struct KindFields {
    group: &'static str,
    resource: &'static str,
    /// `(label a client may send, field it selects)`.
    labels: &'static [(&'static str, &'static str)],
    /// Upstream's message for an unsupported label.
    unsupported: fn(&str) -> String,
    /// The value of a kind-specific field (metadata fields are handled for every kind).
    value: fn(&Value, &str) -> Option<String>,
}

const META: &[(&str, &str)] = &[
    ("metadata.name", "metadata.name"),
    ("metadata.namespace", "metadata.namespace"),
];

static KINDS: &[KindFields] = &[
    KindFields {
        group: "",
        resource: "pods",
        labels: &[
            ("metadata.name", "metadata.name"),
            ("metadata.namespace", "metadata.namespace"),
            ("spec.nodeName", "spec.nodeName"),
            ("spec.restartPolicy", "spec.restartPolicy"),
            ("spec.schedulerName", "spec.schedulerName"),
            ("spec.serviceAccountName", "spec.serviceAccountName"),
            ("spec.hostNetwork", "spec.hostNetwork"),
            ("status.phase", "status.phase"),
            ("status.podIP", "status.podIP"),
            ("status.podIPs", "status.podIPs"),
            ("status.nominatedNodeName", "status.nominatedNodeName"),
            // Kept upstream for old v1 clients.
            ("spec.host", "spec.nodeName"),
        ],
        unsupported: not_supported,
        value: pod_value,
    },
    KindFields {
        group: "",
        resource: "nodes",
        labels: &[
            ("metadata.name", "metadata.name"),
            ("spec.unschedulable", "spec.unschedulable"),
        ],
        unsupported: not_supported,
        value: node_value,
    },
    KindFields {
        group: "",
        resource: "replicationcontrollers",
        labels: &[
            ("metadata.name", "metadata.name"),
            ("metadata.namespace", "metadata.namespace"),
            ("status.replicas", "status.replicas"),
        ],
        unsupported: not_supported,
        value: replication_controller_value,
    },
    KindFields {
        group: "",
        resource: "events",
        labels: &[
            ("involvedObject.kind", "involvedObject.kind"),
            ("involvedObject.namespace", "involvedObject.namespace"),
            ("involvedObject.name", "involvedObject.name"),
            ("involvedObject.uid", "involvedObject.uid"),
            ("involvedObject.apiVersion", "involvedObject.apiVersion"),
            (
                "involvedObject.resourceVersion",
                "involvedObject.resourceVersion",
            ),
            ("involvedObject.fieldPath", "involvedObject.fieldPath"),
            ("reason", "reason"),
            ("reportingComponent", "reportingComponent"),
            ("source", "source"),
            ("type", "type"),
            ("metadata.namespace", "metadata.namespace"),
            ("metadata.name", "metadata.name"),
        ],
        unsupported: not_supported,
        value: event_value,
    },
    KindFields {
        group: "events.k8s.io",
        resource: "events",
        labels: &[
            ("reason", "reason"),
            ("regarding.kind", "involvedObject.kind"),
            ("regarding.namespace", "involvedObject.namespace"),
            ("regarding.name", "involvedObject.name"),
            ("regarding.uid", "involvedObject.uid"),
            ("regarding.apiVersion", "involvedObject.apiVersion"),
            (
                "regarding.resourceVersion",
                "involvedObject.resourceVersion",
            ),
            ("regarding.fieldPath", "involvedObject.fieldPath"),
            ("reportingController", "reportingComponent"),
            ("source", "source"),
            ("type", "type"),
            ("metadata.namespace", "metadata.namespace"),
            ("metadata.name", "metadata.name"),
        ],
        unsupported: not_supported,
        value: event_value,
    },
    KindFields {
        group: "",
        resource: "namespaces",
        labels: &[
            ("status.phase", "status.phase"),
            ("metadata.name", "metadata.name"),
        ],
        unsupported: not_supported,
        value: namespace_value,
    },
    KindFields {
        group: "",
        resource: "secrets",
        labels: &[
            ("type", "type"),
            ("metadata.namespace", "metadata.namespace"),
            ("metadata.name", "metadata.name"),
        ],
        unsupported: not_supported,
        value: secret_value,
    },
    KindFields {
        group: "",
        resource: "services",
        labels: &[
            ("metadata.namespace", "metadata.namespace"),
            ("metadata.name", "metadata.name"),
            ("spec.clusterIP", "spec.clusterIP"),
            ("spec.type", "spec.type"),
        ],
        unsupported: not_supported,
        value: service_value,
    },
    KindFields {
        group: "batch",
        resource: "jobs",
        labels: &[
            ("metadata.name", "metadata.name"),
            ("metadata.namespace", "metadata.namespace"),
            ("status.successful", "status.successful"),
        ],
        unsupported: job_not_supported,
        value: job_value,
    },
    KindFields {
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests",
        labels: &[
            ("metadata.name", "metadata.name"),
            ("spec.signerName", "spec.signerName"),
        ],
        unsupported: not_supported,
        value: csr_value,
    },
];

/// The generic rules, for every resource not in [`KINDS`].
static DEFAULT: KindFields = KindFields {
    group: "",
    resource: "",
    labels: META,
    unsupported: default_not_supported,
    value: no_value,
};

fn kind(group: &str, resource: &str) -> &'static KindFields {
    KINDS
        .iter()
        .find(|k| k.group == group && k.resource == resource)
        .unwrap_or(&DEFAULT)
}

fn not_supported(label: &str) -> String {
    format!("field label not supported: {label}")
}

fn job_not_supported(label: &str) -> String {
    format!(
        "field label {} not supported for batchv1.Job",
        go_quote(label)
    )
}

fn default_not_supported(label: &str) -> String {
    format!(
        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        go_quote(label)
    )
}

/// The field labels a client may use for the resource (`group` `""` is the core group,
/// `resource` the plural name), in upstream's order.
pub fn supported_field_labels(group: &str, resource: &str) -> Vec<&'static str> {
    kind(group, resource)
        .labels
        .iter()
        .map(|(label, _)| *label)
        .collect()
}

/// Converts a field label a client sent into the field it selects, or upstream's error for an
/// unsupported label (e.g. `field label not supported: spec.foo`, or for resources with only the
/// generic fields `"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"`).
pub fn convert_field_label(
    group: &str,
    resource: &str,
    label: &str,
) -> Result<&'static str, SelectorError> {
    let kind = kind(group, resource);
    kind.labels
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, field)| *field)
        .ok_or_else(|| SelectorError::UnsupportedFieldLabel {
            label: label.to_string(),
            message: (kind.unsupported)(label),
        })
}

/// The value field `field` has in `object` (JSON in the resource's own group form), as upstream
/// compares it: strings as they are, booleans as `true`/`false`, counts in decimal, absent fields
/// as their zero value. `field` may be a label a client sends or the field it converts to.
/// `None` when the resource has no such field.
pub fn field_value(group: &str, resource: &str, object: &Value, field: &str) -> Option<String> {
    let kind = kind(group, resource);
    let field = kind
        .labels
        .iter()
        .find(|(label, _)| *label == field)
        .map_or(field, |(_, canonical)| *canonical);
    match field {
        "metadata.name" => Some(string_at(object, &["metadata", "name"])),
        "metadata.namespace" => Some(string_at(object, &["metadata", "namespace"])),
        _ => (kind.value)(object, field),
    }
}

fn at<'v>(object: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(object, |value, key| value.get(key))
}

/// A string field; absent or not a string reads as `""`.
fn string_at(object: &Value, path: &[&str]) -> String {
    at(object, path)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A non-empty string field, or `None`.
fn non_empty_at<'v>(object: &'v Value, path: &[&str]) -> Option<&'v str> {
    at(object, path)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A boolean field as Go formats it; absent reads as `false`.
fn bool_at(object: &Value, path: &[&str]) -> String {
    let value = at(object, path).and_then(Value::as_bool).unwrap_or(false);
    value.to_string()
}

/// An integer field in decimal; absent reads as `0`.
fn int_at(object: &Value, path: &[&str]) -> String {
    let value = at(object, path).and_then(Value::as_i64).unwrap_or(0);
    value.to_string()
}

fn no_value(_: &Value, _: &str) -> Option<String> {
    None
}

fn pod_value(pod: &Value, field: &str) -> Option<String> {
    Some(match field {
        "spec.nodeName" => string_at(pod, &["spec", "nodeName"]),
        "spec.restartPolicy" => string_at(pod, &["spec", "restartPolicy"]),
        "spec.schedulerName" => string_at(pod, &["spec", "schedulerName"]),
        "spec.serviceAccountName" => string_at(pod, &["spec", "serviceAccountName"]),
        "spec.hostNetwork" => bool_at(pod, &["spec", "hostNetwork"]),
        "status.phase" => string_at(pod, &["status", "phase"]),
        // The primary IP: status.podIP wins over podIPs[0], as in upstream's v1 conversion.
        "status.podIP" => non_empty_at(pod, &["status", "podIP"])
            .or_else(|| {
                at(pod, &["status", "podIPs"])
                    .and_then(|ips| ips.get(0))
                    .and_then(|ip| ip.get("ip"))
                    .and_then(Value::as_str)
            })
            .unwrap_or_default()
            .to_string(),
        // Accepted upstream but absent from the pod's selectable fields, so always empty.
        "status.podIPs" => String::new(),
        "status.nominatedNodeName" => string_at(pod, &["status", "nominatedNodeName"]),
        _ => return None,
    })
}

fn node_value(node: &Value, field: &str) -> Option<String> {
    (field == "spec.unschedulable").then(|| bool_at(node, &["spec", "unschedulable"]))
}

fn replication_controller_value(rc: &Value, field: &str) -> Option<String> {
    (field == "status.replicas").then(|| int_at(rc, &["status", "replicas"]))
}

/// Events are read in either layout: core/v1 (`involvedObject`, `reportingComponent`,
/// `source.component`) or events.k8s.io/v1 (`regarding`, `reportingController`,
/// `deprecatedSource.component`), so one stored form serves both groups.
fn event_value(event: &Value, field: &str) -> Option<String> {
    let either = |core: &[&str], events: &[&str]| {
        at(event, core)
            .or_else(|| at(event, events))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if let Some(sub) = field.strip_prefix("involvedObject.") {
        return matches!(
            sub,
            "kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion" | "fieldPath"
        )
        .then(|| either(&["involvedObject", sub], &["regarding", sub]));
    }
    Some(match field {
        "reason" => string_at(event, &["reason"]),
        "type" => string_at(event, &["type"]),
        "reportingComponent" => either(&["reportingComponent"], &["reportingController"]),
        "source" => non_empty_at(event, &["source", "component"])
            .or_else(|| non_empty_at(event, &["deprecatedSource", "component"]))
            .map(str::to_string)
            .unwrap_or_else(|| either(&["reportingComponent"], &["reportingController"])),
        _ => return None,
    })
}

fn namespace_value(namespace: &Value, field: &str) -> Option<String> {
    (field == "status.phase").then(|| string_at(namespace, &["status", "phase"]))
}

fn secret_value(secret: &Value, field: &str) -> Option<String> {
    (field == "type").then(|| string_at(secret, &["type"]))
}

fn service_value(service: &Value, field: &str) -> Option<String> {
    match field {
        "spec.clusterIP" => Some(string_at(service, &["spec", "clusterIP"])),
        "spec.type" => Some(string_at(service, &["spec", "type"])),
        _ => None,
    }
}

fn job_value(job: &Value, field: &str) -> Option<String> {
    (field == "status.successful").then(|| int_at(job, &["status", "succeeded"]))
}

fn csr_value(csr: &Value, field: &str) -> Option<String> {
    (field == "spec.signerName").then(|| string_at(csr, &["spec", "signerName"]))
}
