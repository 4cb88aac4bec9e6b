//! The smaller groups: autoscaling, coordination, discovery, policy, scheduling, node,
//! certificates, admission registration and flow control.

use std::cmp::Ordering;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::age::human_duration;
use super::types::TableRow;
use super::util::{
    AGE, NAME, Printer, age, arr_at, at, col, format_label_selector, int_at, int_or_string_at,
    list_with_more, n, name, opt_bool, opt_int, opt_str, present, quantity_at, s, str_at, str_or,
};

/// The printer of a resource of one of the smaller groups.
pub(crate) fn printer(group: &str, resource: &str) -> Option<&'static Printer> {
    Some(match (group, resource) {
        ("autoscaling", "horizontalpodautoscalers") => &HORIZONTAL_POD_AUTOSCALERS,
        ("coordination.k8s.io", "leases") => &LEASES,
        ("discovery.k8s.io", "endpointslices") => &ENDPOINT_SLICES,
        ("policy", "poddisruptionbudgets") => &POD_DISRUPTION_BUDGETS,
        ("scheduling.k8s.io", "priorityclasses") => &PRIORITY_CLASSES,
        ("node.k8s.io", "runtimeclasses") => &RUNTIME_CLASSES,
        ("certificates.k8s.io", "certificatesigningrequests") => &CERTIFICATE_SIGNING_REQUESTS,
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
        | ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => {
            &WEBHOOK_CONFIGURATIONS
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => {
            &VALIDATING_ADMISSION_POLICIES
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => {
            &VALIDATING_ADMISSION_POLICY_BINDINGS
        }
        ("flowcontrol.apiserver.k8s.io", "flowschemas") => &FLOW_SCHEMAS,
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations") => {
            &PRIORITY_LEVEL_CONFIGURATIONS
        }
        _ => return None,
    })
}

static HORIZONTAL_POD_AUTOSCALERS: Printer = Printer {
    columns: &[
        NAME,
        col("Reference", "string", "The scaled object, as Kind/name."),
        col(
            "Targets",
            "string",
            "Current and target values of the first two metrics.",
        ),
        col("MinPods", "string", "Lower limit of replicas."),
        col("MaxPods", "string", "Upper limit of replicas."),
        col("Replicas", "string", "Current number of replicas."),
        AGE,
    ],
    row: hpa_row,
    order: None,
};

fn hpa_row(hpa: &Value, now: Timestamp) -> TableRow {
    let reference = format!(
        "{}/{}",
        str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
        str_at(hpa, &["spec", "scaleTargetRef", "name"])
    );
    // Storage defaults minReplicas to 1.
    let min = opt_int(hpa, &["spec", "minReplicas"]).unwrap_or(1);
    TableRow::new(vec![
        name(hpa),
        s(reference),
        s(hpa_targets(hpa)),
        s(min.to_string()),
        n(int_at(hpa, &["spec", "maxReplicas"])),
        n(int_at(hpa, &["status", "currentReplicas"])),
        age(hpa, now),
    ])
}

/// The metric specs and statuses of an HPA in the `autoscaling/v2` shape. An `autoscaling/v1`
/// object (target CPU utilization) is converted; an object without metrics gets the default
/// metric storage gives it (80% average CPU utilization).
fn hpa_metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    // An autoscaling/v1 object carries its other metrics in annotations: convert it whole.
    if hpa["apiVersion"] == "autoscaling/v1"
        && let Ok(v2) = serde_json::from_value(hpa.clone())
            .map_err(crate::convert::ConvertError::from)
            .and_then(crate::convert::autoscaling::v1_to_v2)
            .and_then(|v2| Ok(serde_json::to_value(v2)?))
    {
        return (
            arr_at(&v2, &["spec", "metrics"]).to_vec(),
            arr_at(&v2, &["status", "currentMetrics"]).to_vec(),
        );
    }
    let specs = arr_at(hpa, &["spec", "metrics"]);
    if !specs.is_empty() {
        return (
            specs.to_vec(),
            arr_at(hpa, &["status", "currentMetrics"]).to_vec(),
        );
    }
    let target = opt_int(hpa, &["spec", "targetCPUUtilizationPercentage"]).unwrap_or(80);
    let spec = serde_json::json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match opt_int(hpa, &["status", "currentCPUUtilizationPercentage"]) {
        Some(current) => vec![
            serde_json::json!({"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": current}}}),
        ],
        None => arr_at(hpa, &["status", "currentMetrics"]).to_vec(),
    };
    (vec![spec], status)
}

fn hpa_targets(hpa: &Value) -> String {
    const MAX: usize = 2;
    let (specs, statuses) = hpa_metrics(hpa);
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    // Go prints a missing quantity as "<nil>".
    let q = |v: &Value, path: &[&str]| quantity_at(v, path).unwrap_or_else(|| "<nil>".to_owned());
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        // The status of metric i, when it is of the same source kind.
        let current_of = |source: &str| status.filter(|st| present(st, &[source]));
        let entry = match str_at(spec, &["type"]) {
            source_type @ ("External" | "Object") => {
                let source = if source_type == "External" {
                    "external"
                } else {
                    "object"
                };
                if present(spec, &[source, "target", "averageValue"]) {
                    let current = current_of(source)
                        .filter(|st| present(st, &[source, "current", "averageValue"]))
                        .map_or_else(
                            || "<unknown>".to_owned(),
                            |st| q(st, &[source, "current", "averageValue"]),
                        );
                    format!(
                        "{current}/{} (avg)",
                        q(spec, &[source, "target", "averageValue"])
                    )
                } else {
                    let current = current_of(source).map_or_else(
                        || "<unknown>".to_owned(),
                        |st| q(st, &[source, "current", "value"]),
                    );
                    format!("{current}/{}", q(spec, &[source, "target", "value"]))
                }
            }
            "Pods" => {
                let current = current_of("pods").map_or_else(
                    || "<unknown>".to_owned(),
                    |st| q(st, &["pods", "current", "averageValue"]),
                );
                format!("{current}/{}", q(spec, &["pods", "target", "averageValue"]))
            }
            source_type @ ("Resource" | "ContainerResource") => {
                let source = if source_type == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource_name = str_at(spec, &[source, "name"]);
                if present(spec, &[source, "target", "averageValue"]) {
                    let current = current_of(source).map_or_else(
                        || "<unknown>".to_owned(),
                        |st| q(st, &[source, "current", "averageValue"]),
                    );
                    format!(
                        "{resource_name}: {current}/{}",
                        q(spec, &[source, "target", "averageValue"])
                    )
                } else {
                    let current = current_of(source)
                        .and_then(|st| opt_int(st, &[source, "current", "averageUtilization"]))
                        .map_or_else(|| "<unknown>".to_owned(), |u| format!("{u}%"));
                    let target = opt_int(spec, &[source, "target", "averageUtilization"])
                        .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
                    format!("{resource_name}: {current}/{target}")
                }
            }
            _ => "<unknown type>".to_owned(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > MAX {
        list.truncate(MAX);
        return format!("{} + {} more...", list.join(", "), count - MAX);
    }
    list.join(", ")
}

static LEASES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Holder",
            "string",
            "Identity of the lease's current holder.",
        ),
        AGE,
    ],
    row: lease_row,
    order: None,
};

fn lease_row(lease: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(lease),
        s(str_at(lease, &["spec", "holderIdentity"])),
        age(lease, now),
    ])
}

static ENDPOINT_SLICES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "AddressType",
            "string",
            "The address family of the endpoints.",
        ),
        col(
            "Ports",
            "string",
            "Ports of the slice, the first three of them.",
        ),
        col(
            "Endpoints",
            "string",
            "Addresses of the endpoints, the first three of them.",
        ),
        AGE,
    ],
    row: endpoint_slice_row,
    order: None,
};

fn endpoint_slice_row(slice: &Value, now: Timestamp) -> TableRow {
    let ports: Vec<String> = arr_at(slice, &["ports"])
        .iter()
        .map(|p| match (opt_int(p, &["port"]), opt_str(p, &["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_owned(),
            (None, None) => "*".to_owned(),
        })
        .collect();
    let addresses: Vec<String> = arr_at(slice, &["endpoints"])
        .iter()
        .flat_map(|e| arr_at(e, &["addresses"]))
        .map(|a| a.as_str().unwrap_or("").to_owned())
        .collect();
    TableRow::new(vec![
        name(slice),
        s(str_at(slice, &["addressType"])),
        s(list_with_more(&ports, 3)),
        s(list_with_more(&addresses, 3)),
        age(slice, now),
    ])
}

static POD_DISRUPTION_BUDGETS: Printer = Printer {
    columns: &[
        NAME,
        col("Min Available", "string", "Pods that must stay available."),
        col("Max Unavailable", "string", "Pods that may be unavailable."),
        col(
            "Allowed Disruptions",
            "integer",
            "Pods that may be disrupted right now.",
        ),
        AGE,
    ],
    row: pdb_row,
    order: None,
};

fn pdb_row(pdb: &Value, now: Timestamp) -> TableRow {
    let bound =
        |field: &str| int_or_string_at(pdb, &["spec", field]).unwrap_or_else(|| "N/A".into());
    TableRow::new(vec![
        name(pdb),
        s(bound("minAvailable")),
        s(bound("maxUnavailable")),
        n(int_at(pdb, &["status", "disruptionsAllowed"])),
        age(pdb, now),
    ])
}

static PRIORITY_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        col("Value", "integer", "The priority of pods using the class."),
        col(
            "Global-Default",
            "boolean",
            "Whether pods without a class get this one.",
        ),
        AGE,
        col(
            "PreemptionPolicy",
            "string",
            "Whether pods of the class preempt lower ones.",
        ),
    ],
    row: priority_class_row,
    order: None,
};

fn priority_class_row(pc: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(pc),
        n(int_at(pc, &["value"])),
        Value::Bool(opt_bool(pc, &["globalDefault"]).unwrap_or(false)),
        age(pc, now),
        // Storage defaults the policy; upstream prints an unset one as an empty cell.
        s(str_at(pc, &["preemptionPolicy"])),
    ])
}

static RUNTIME_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Handler",
            "string",
            "The CRI handler that runs pods of the class.",
        ),
        AGE,
    ],
    row: runtime_class_row,
    order: None,
};

fn runtime_class_row(rc: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![name(rc), s(str_at(rc, &["handler"])), age(rc, now)])
}

static CERTIFICATE_SIGNING_REQUESTS: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        col(
            "SignerName",
            "string",
            "The signer asked to sign the certificate.",
        ),
        col("Requestor", "string", "The user who created the request."),
        col(
            "RequestedDuration",
            "string",
            "The validity the requestor asked for.",
        ),
        col(
            "Condition",
            "string",
            "Approval state, and whether it failed or was issued.",
        ),
    ],
    row: csr_row,
    order: None,
};

fn csr_row(csr: &Value, now: Timestamp) -> TableRow {
    let has = |type_: &str| {
        arr_at(csr, &["status", "conditions"])
            .iter()
            .any(|c| str_at(c, &["type"]) == type_)
    };
    let mut condition = if has("Denied") {
        "Denied".to_owned()
    } else if has("Approved") {
        "Approved".to_owned()
    } else {
        "Pending".to_owned()
    };
    if has("Failed") {
        condition.push_str(",Failed");
    }
    if !str_at(csr, &["status", "certificate"]).is_empty() {
        condition.push_str(",Issued");
    }
    let duration = opt_int(csr, &["spec", "expirationSeconds"]).map_or_else(
        || "<none>".to_owned(),
        |secs| human_duration(SignedDuration::from_secs(secs)),
    );
    TableRow::new(vec![
        name(csr),
        age(csr, now),
        s(str_or(csr, &["spec", "signerName"], "<none>")),
        s(str_at(csr, &["spec", "username"])),
        s(duration),
        s(condition),
    ])
}

static WEBHOOK_CONFIGURATIONS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Webhooks",
            "integer",
            "Number of webhooks in the configuration.",
        ),
        AGE,
    ],
    row: webhook_configuration_row,
    order: None,
};

fn webhook_configuration_row(cfg: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(cfg),
        Value::from(arr_at(cfg, &["webhooks"]).len()),
        age(cfg, now),
    ])
}

static VALIDATING_ADMISSION_POLICIES: Printer = Printer {
    columns: &[
        NAME,
        col("Validations", "integer", "Number of validation rules."),
        col(
            "ParamKind",
            "string",
            "Kind of the resources that parameterize the policy.",
        ),
        AGE,
    ],
    row: validating_admission_policy_row,
    order: None,
};

fn validating_admission_policy_row(p: &Value, now: Timestamp) -> TableRow {
    let param_kind = if present(p, &["spec", "paramKind"]) {
        format!(
            "{}/{}",
            str_at(p, &["spec", "paramKind", "apiVersion"]),
            str_at(p, &["spec", "paramKind", "kind"])
        )
    } else {
        "<unset>".to_owned()
    };
    TableRow::new(vec![
        name(p),
        Value::from(arr_at(p, &["spec", "validations"]).len()),
        s(param_kind),
        age(p, now),
    ])
}

static VALIDATING_ADMISSION_POLICY_BINDINGS: Printer = Printer {
    columns: &[
        NAME,
        col("PolicyName", "string", "The policy the binding applies."),
        col(
            "ParamRef",
            "string",
            "The resource that parameterizes the policy.",
        ),
        AGE,
    ],
    row: validating_admission_policy_binding_row,
    order: None,
};

fn validating_admission_policy_binding_row(b: &Value, now: Timestamp) -> TableRow {
    let param = match at(b, &["spec", "paramRef"]).filter(|v| !v.is_null()) {
        None => "<unset>".to_owned(),
        Some(r) => {
            let ref_name = str_at(r, &["name"]);
            let namespace = str_at(r, &["namespace"]);
            if !ref_name.is_empty() {
                if namespace.is_empty() {
                    format!("*/{ref_name}")
                } else {
                    format!("{namespace}/{ref_name}")
                }
            } else if present(r, &["selector"]) {
                format_label_selector(at(r, &["selector"]))
            } else {
                "<unset>".to_owned()
            }
        }
    };
    TableRow::new(vec![
        name(b),
        s(str_at(b, &["spec", "policyName"])),
        s(param),
        age(b, now),
    ])
}

static FLOW_SCHEMAS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "PriorityLevel",
            "string",
            "The priority level requests are assigned to.",
        ),
        col(
            "MatchingPrecedence",
            "string",
            "Lower values are matched first.",
        ),
        col(
            "DistinguisherMethod",
            "string",
            "How requests are split into flows.",
        ),
        AGE,
        col(
            "MissingPL",
            "string",
            "Whether the priority level does not exist.",
        ),
    ],
    row: flow_schema_row,
    order: Some(flow_schema_order),
};

fn flow_schema_row(fs: &Value, now: Timestamp) -> TableRow {
    let distinguisher = if present(fs, &["spec", "distinguisherMethod"]) {
        str_at(fs, &["spec", "distinguisherMethod", "type"])
    } else {
        "<none>"
    };
    let missing = arr_at(fs, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == "Dangling")
        .map_or("?", |c| str_at(c, &["status"]));
    TableRow::new(vec![
        name(fs),
        s(str_at(fs, &["spec", "priorityLevelConfiguration", "name"])),
        n(int_at(fs, &["spec", "matchingPrecedence"])),
        s(distinguisher),
        age(fs, now),
        s(missing),
    ])
}

/// Flow schemas are listed by matching precedence, then name.
fn flow_schema_order(a: &Value, b: &Value) -> Ordering {
    int_at(a, &["spec", "matchingPrecedence"])
        .cmp(&int_at(b, &["spec", "matchingPrecedence"]))
        .then_with(|| str_at(a, &["metadata", "name"]).cmp(str_at(b, &["metadata", "name"])))
}

static PRIORITY_LEVEL_CONFIGURATIONS: Printer = Printer {
    columns: &[
        NAME,
        col("Type", "string", "Exempt or Limited."),
        col(
            "NominalConcurrencyShares",
            "string",
            "Share of the server's concurrency.",
        ),
        col("Queues", "string", "Number of queues."),
        col(
            "HandSize",
            "string",
            "Queues each flow is shuffle-sharded over.",
        ),
        col("QueueLengthLimit", "string", "Requests a queue may hold."),
        AGE,
    ],
    row: priority_level_row,
    order: None,
};

fn priority_level_row(pl: &Value, now: Timestamp) -> TableRow {
    let none = || s("<none>");
    let (shares, queues, hand, limit) = if present(pl, &["spec", "limited"]) {
        let shares = n(int_at(pl, &["spec", "limited", "nominalConcurrencyShares"]));
        let queuing = ["spec", "limited", "limitResponse", "queuing"];
        if present(pl, &queuing) {
            let field = |f: &str| {
                n(int_at(
                    pl,
                    &["spec", "limited", "limitResponse", "queuing", f],
                ))
            };
            (
                shares,
                field("queues"),
                field("handSize"),
                field("queueLengthLimit"),
            )
        } else {
            (shares, none(), none(), none())
        }
    } else {
        (none(), none(), none(), none())
    };
    TableRow::new(vec![
        name(pl),
        s(str_at(pl, &["spec", "type"])),
        shares,
        queues,
        hand,
        limit,
        age(pl, now),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "creationTimestamp": "2024-05-01T11:00:00Z"})
    }

    fn cells(p: &Printer, obj: Value) -> Value {
        let row = (p.row)(&obj, now());
        assert_eq!(row.cells.len(), p.columns.len(), "cells vs columns");
        json!(row.cells)
    }

    #[test]
    fn table_hpa_cells() {
        let hpa = json!({"metadata": meta("web"),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 2, "maxReplicas": 10,
                     "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50}}},
                        {"type": "Resource", "resource": {"name": "memory",
                            "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "qps"},
                            "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
            "status": {"currentReplicas": 3, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 23, "averageValue": "115m"}}}]}});
        assert_eq!(
            cells(&HORIZONTAL_POD_AUTOSCALERS, hpa),
            json!([
                "web",
                "Deployment/web",
                "cpu: 23%/50%, memory: <unknown>/500Mi + 1 more...",
                "2",
                10,
                3,
                "60m"
            ])
        );
        // autoscaling/v1 shape, and defaults.
        let v1 = json!({"metadata": meta("php"),
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "php"}, "maxReplicas": 5,
                     "targetCPUUtilizationPercentage": 60},
            "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 0}});
        assert_eq!(
            cells(&HORIZONTAL_POD_AUTOSCALERS, v1),
            json!(["php", "Deployment/php", "cpu: 0%/60%", "1", 5, 1, "60m"])
        );
        // The autoscaling/v1 view of a v2 object: its other metrics come from the annotation.
        let mut annotated = meta("v");
        annotated["annotations"] = json!({"autoscaling.alpha.kubernetes.io/metrics":
            r#"[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"1Gi"}}]"#});
        let view = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": annotated,
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "v"}, "maxReplicas": 4,
                     "targetCPUUtilizationPercentage": 70},
            "status": {"currentReplicas": 2, "desiredReplicas": 2}});
        assert_eq!(
            cells(&HORIZONTAL_POD_AUTOSCALERS, view),
            json!([
                "v",
                "Deployment/v",
                "memory: <unknown>/1Gi, cpu: <unknown>/70%",
                "1",
                4,
                2,
                "60m"
            ])
        );
        let bare = json!({"metadata": meta("b"), "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "db"}}});
        assert_eq!(
            cells(&HORIZONTAL_POD_AUTOSCALERS, bare),
            json!([
                "b",
                "StatefulSet/db",
                "cpu: <unknown>/80%",
                "1",
                0,
                0,
                "60m"
            ])
        );
        let ext = json!({"metadata": meta("q"), "spec": {"metrics": [
            {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}},
            {"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "2"}}}]},
            "status": {"currentMetrics": [{"type": "External", "external": {"current": {"value": "12"}}}]}});
        assert_eq!(
            cells(&HORIZONTAL_POD_AUTOSCALERS, ext)[2],
            json!("12/30, <unknown>/2 (avg)")
        );
    }

    #[test]
    fn table_lease_slice_pdb_cells() {
        let lease = json!({"metadata": meta("node-1"), "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}});
        assert_eq!(cells(&LEASES, lease), json!(["node-1", "node-1", "60m"]));
        let slice = json!({"metadata": meta("web-abc"), "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "named"}, {}, {"port": 9090}],
            "endpoints": [{"addresses": ["10.42.0.5"]}, {"addresses": ["10.42.0.6"]}]});
        assert_eq!(
            cells(&ENDPOINT_SLICES, slice),
            json!([
                "web-abc",
                "IPv4",
                "80,named,* + 1 more...",
                "10.42.0.5,10.42.0.6",
                "60m"
            ])
        );
        let empty = json!({"metadata": meta("e"), "addressType": "IPv6"});
        assert_eq!(
            cells(&ENDPOINT_SLICES, empty),
            json!(["e", "IPv6", "<unset>", "<unset>", "60m"])
        );
        let pdb = json!({"metadata": meta("web"), "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            cells(&POD_DISRUPTION_BUDGETS, pdb),
            json!(["web", "2", "N/A", 1, "60m"])
        );
        let pdb = json!({"metadata": meta("db"), "spec": {"maxUnavailable": "25%"}});
        assert_eq!(
            cells(&POD_DISRUPTION_BUDGETS, pdb),
            json!(["db", "N/A", "25%", 0, "60m"])
        );
    }

    #[test]
    fn table_cluster_kinds_cells() {
        let pc = json!({"metadata": meta("system-node-critical"), "value": 2000001000,
            "preemptionPolicy": "PreemptLowerPriority"});
        assert_eq!(
            cells(&PRIORITY_CLASSES, pc),
            json!([
                "system-node-critical",
                2000001000,
                false,
                "60m",
                "PreemptLowerPriority"
            ])
        );
        let pc = json!({"metadata": meta("batch"), "value": -5, "globalDefault": true});
        assert_eq!(
            cells(&PRIORITY_CLASSES, pc),
            json!(["batch", -5, true, "60m", ""])
        );
        let rc = json!({"metadata": meta("runc"), "handler": "runc"});
        assert_eq!(cells(&RUNTIME_CLASSES, rc), json!(["runc", "runc", "60m"]));
        let csr = json!({"metadata": meta("node-csr-1"), "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "username": "system:node:node-1", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}});
        assert_eq!(
            cells(&CERTIFICATE_SIGNING_REQUESTS, csr),
            json!([
                "node-csr-1",
                "60m",
                "kubernetes.io/kube-apiserver-client-kubelet",
                "system:node:node-1",
                "24h",
                "Approved,Issued"
            ])
        );
        let wh = json!({"metadata": meta("hooks"), "webhooks": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(
            cells(&WEBHOOK_CONFIGURATIONS, wh),
            json!(["hooks", 2, "60m"])
        );
        let vap = json!({"metadata": meta("p"), "spec": {"validations": [{"expression": "true"}],
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}});
        assert_eq!(
            cells(&VALIDATING_ADMISSION_POLICIES, vap),
            json!(["p", 1, "v1/ConfigMap", "60m"])
        );
        let vapb = json!({"metadata": meta("b"), "spec": {"policyName": "p", "paramRef": {"name": "cfg"}}});
        assert_eq!(
            cells(&VALIDATING_ADMISSION_POLICY_BINDINGS, vapb),
            json!(["b", "p", "*/cfg", "60m"])
        );
    }

    #[test]
    fn table_flow_control_cells() {
        let fs = json!({"metadata": meta("exempt"), "spec": {"matchingPrecedence": 1,
            "priorityLevelConfiguration": {"name": "exempt"}},
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]}});
        assert_eq!(
            cells(&FLOW_SCHEMAS, fs),
            json!(["exempt", "exempt", 1, "<none>", "60m", "False"])
        );
        let a = json!({"metadata": {"name": "b"}, "spec": {"matchingPrecedence": 100}});
        let b = json!({"metadata": {"name": "a"}, "spec": {"matchingPrecedence": 100}});
        let c = json!({"metadata": {"name": "z"}, "spec": {"matchingPrecedence": 2}});
        let mut all = [&a, &b, &c];
        all.sort_by(|x, y| flow_schema_order(x, y));
        let names: Vec<&str> = all
            .iter()
            .map(|o| str_at(o, &["metadata", "name"]))
            .collect();
        assert_eq!(names, ["z", "a", "b"]);

        let pl = json!({"metadata": meta("workload-low"), "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 100, "limitResponse": {"type": "Queue",
            "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            cells(&PRIORITY_LEVEL_CONFIGURATIONS, pl),
            json!(["workload-low", "Limited", 100, 128, 6, 50, "60m"])
        );
        let pl = json!({"metadata": meta("exempt"), "spec": {"type": "Exempt", "exempt": {}}});
        assert_eq!(
            cells(&PRIORITY_LEVEL_CONFIGURATIONS, pl),
            json!([
                "exempt", "Exempt", "<none>", "<none>", "<none>", "<none>", "60m"
            ])
        );
    }
}
