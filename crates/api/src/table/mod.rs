//! Server-side printing: objects rendered as a `meta.k8s.io/v1` [`Table`], the columns
//! `kubectl get` shows.
//!
//! kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the cells
//! it gets back, upper-casing the column names and hiding priority 1 columns unless `-o wide`.
//! The columns and cell formatting of each built-in kind follow upstream's printers; resources
//! without one get upstream's default NAME / CREATED AT table, and custom resources the
//! NAME / AGE table of a CRD without printer columns ([`to_custom_resource_table`]).
//!
//! Everything here is pure: the current time is a parameter, and objects are plain JSON in
//! which any field may be missing or of the wrong type (printed as upstream prints an unset
//! field).

mod age;
mod apps;
mod batch;
mod core;
mod events;
mod networking;
mod other;
mod pod;
mod rbac;
mod storage;
mod types;
mod util;

use jiff::Timestamp;
use serde_json::{Map, Value};

pub use age::human_duration;
pub use types::{
    IncludeObject, META_API_VERSION, Table, TableColumnDefinition, TableError, TableRow,
    TableRowCondition,
};

use util::{Col, NAME, Printer, age, at, col, name, s, time_at};

/// Renders `objects` (the items of a list, or the one object of a GET) of the resource
/// `group`/`resource` (plural, e.g. `""`/`"pods"`, `"apps"`/`"deployments"`) as a table, as the
/// apiserver answers a request for `as=Table`.
///
/// Every column is rendered, wide ones included (kubectl picks what to show). Resources without
/// a printer get the default NAME / CREATED AT columns. `now` is the time ages are measured to;
/// `include` chooses what each row embeds as its `object`. The returned table has empty list
/// metadata: the caller sets it, as upstream does, from the list (resource version, continue
/// token, remaining item count) or, for a single object, to the object's resource version.
pub fn to_table(
    group: &str,
    resource: &str,
    objects: &[Value],
    now: Timestamp,
    include: IncludeObject,
) -> Table {
    match printer(group, resource) {
        Some(p) => render(p.columns, objects, p.order, include, |obj| {
            (p.row)(obj, now)
        }),
        None => render(DEFAULT_COLUMNS, objects, None, include, default_row),
    }
}

/// Renders custom resources whose definition declares no additional printer columns: NAME and
/// AGE, as the apiserver does for such a CRD.
pub fn to_custom_resource_table(
    objects: &[Value],
    now: Timestamp,
    include: IncludeObject,
) -> Table {
    render(CUSTOM_RESOURCE_COLUMNS, objects, None, include, |obj| {
        TableRow::new(vec![name(obj), age(obj, now)])
    })
}

/// Whether `group`/`resource` has its own columns (rather than the default NAME / CREATED AT).
pub fn has_printer(group: &str, resource: &str) -> bool {
    printer(group, resource).is_some()
}

/// The printer of a built-in resource, if upstream has one.
fn printer(group: &str, resource: &str) -> Option<&'static Printer> {
    match group {
        "" => core::printer(resource),
        "apps" => apps::printer(resource),
        "batch" => batch::printer(resource),
        "events.k8s.io" if resource == "events" => Some(&events::EVENTS_V1),
        "networking.k8s.io" => networking::printer(resource),
        "rbac.authorization.k8s.io" => rbac::printer(resource),
        "storage.k8s.io" => storage::printer(resource),
        _ => other::printer(group, resource),
    }
}

fn render(
    columns: &[Col],
    objects: &[Value],
    order: Option<fn(&Value, &Value) -> std::cmp::Ordering>,
    include: IncludeObject,
    row: impl Fn(&Value) -> TableRow,
) -> Table {
    let mut objects: Vec<&Value> = objects.iter().collect();
    if let Some(order) = order {
        objects.sort_by(|a, b| order(a, b));
    }
    let rows = objects
        .into_iter()
        .map(|obj| {
            let mut r = row(obj);
            r.object = embedded_object(obj, include);
            r
        })
        .collect();
    Table::new(columns.iter().map(Col::definition).collect(), rows)
}

/// What a row embeds as its object.
fn embedded_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => {
            let metadata = at(obj, &["metadata"])
                .filter(|m| m.is_object())
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            let mut partial = Map::new();
            partial.insert("kind".to_owned(), s("PartialObjectMetadata"));
            partial.insert("apiVersion".to_owned(), s(META_API_VERSION));
            partial.insert("metadata".to_owned(), metadata);
            Some(Value::Object(partial))
        }
    }
}

/// The default table of a resource without a printer.
const DEFAULT_COLUMNS: &[Col] = &[
    NAME,
    col("Created At", "date", "When the object was created."),
];

/// The default table of a custom resource without printer columns.
const CUSTOM_RESOURCE_COLUMNS: &[Col] = &[
    NAME,
    col("Age", "date", "Time since the object was created."),
];

/// Name and creation time in RFC 3339 (UTC, whole seconds); Go's zero time when unset.
fn default_row(obj: &Value) -> TableRow {
    let created = time_at(obj, &["metadata", "creationTimestamp"])
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned());
    TableRow::new(vec![name(obj), s(created)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "mysql-x7k2p", "namespace": "default", "uid": "u-1",
                         "resourceVersion": "42", "labels": {"name": "mysql"},
                         "creationTimestamp": "2024-05-01T11:57:00Z"},
            "spec": {"containers": [{"name": "mysql", "image": "mysql:8"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIP": "10.42.0.8",
                       "containerStatuses": [{"name": "mysql", "ready": true, "restartCount": 0,
                                              "state": {"running": {"startedAt": "2024-05-01T11:57:30Z"}}}]}
        })
    }

    #[test]
    fn table_json_shape_for_kubectl() {
        let mut table = to_table("", "pods", &[pod()], now(), IncludeObject::Metadata);
        table.metadata.resource_version = Some("42".to_owned());
        let got = serde_json::to_value(&table).unwrap();
        let d = |name: &str, type_: &str, format: &str, priority: i32| {
            (
                name.to_owned(),
                type_.to_owned(),
                format.to_owned(),
                priority,
            )
        };
        let columns: Vec<_> = got["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                // Every field is present, descriptions are non-empty.
                assert!(!c["description"].as_str().unwrap().is_empty());
                d(
                    c["name"].as_str().unwrap(),
                    c["type"].as_str().unwrap(),
                    c["format"].as_str().unwrap(),
                    c["priority"].as_i64().unwrap() as i32,
                )
            })
            .collect();
        assert_eq!(
            columns,
            vec![
                d("Name", "string", "name", 0),
                d("Ready", "string", "", 0),
                d("Status", "string", "", 0),
                d("Restarts", "string", "", 0),
                d("Age", "string", "", 0),
                d("IP", "string", "", 1),
                d("Node", "string", "", 1),
                d("Nominated Node", "string", "", 1),
                d("Readiness Gates", "string", "", 1),
            ]
        );
        let mut without_columns = got.clone();
        without_columns["columnDefinitions"] = json!(null);
        assert_eq!(
            without_columns,
            json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": "42"},
                "columnDefinitions": null,
                "rows": [{
                    "cells": ["mysql-x7k2p", "1/1", "Running", "0", "3m", "10.42.0.8", "node-1", "<none>", "<none>"],
                    "object": {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"name": "mysql-x7k2p", "namespace": "default", "uid": "u-1",
                                     "resourceVersion": "42", "labels": {"name": "mysql"},
                                     "creationTimestamp": "2024-05-01T11:57:00Z"}
                    }
                }]
            })
        );
        // And it reads back.
        let back: Table = serde_json::from_value(got).unwrap();
        assert_eq!(back, table);
    }

    #[test]
    fn table_list_metadata_and_empty_list() {
        let mut table = to_table("apps", "deployments", &[], now(), IncludeObject::Metadata);
        table.metadata.resource_version = Some("7".to_owned());
        table.metadata.continue_ = Some("tok".to_owned());
        table.metadata.remaining_item_count = Some(3);
        let got = serde_json::to_value(&table).unwrap();
        assert_eq!(
            got["metadata"],
            json!({"resourceVersion": "7", "continue": "tok", "remainingItemCount": 3})
        );
        assert_eq!(got["rows"], json!([]));
        assert_eq!(got["columnDefinitions"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn table_include_object_policies() {
        let none = to_table("", "pods", &[pod()], now(), IncludeObject::None);
        let row = serde_json::to_value(&none.rows[0]).unwrap();
        assert_eq!(row["object"], json!(null));
        assert!(row.get("conditions").is_none());

        let full = to_table("", "pods", &[pod()], now(), IncludeObject::Object);
        assert_eq!(full.rows[0].object, Some(pod()));

        assert_eq!("".parse::<IncludeObject>(), Ok(IncludeObject::Metadata));
        assert_eq!("Object".parse::<IncludeObject>(), Ok(IncludeObject::Object));
        assert_eq!("None".parse::<IncludeObject>(), Ok(IncludeObject::None));
        assert_eq!(
            "object".parse::<IncludeObject>(),
            Err(TableError::InvalidIncludeObject("object".to_owned()))
        );
        assert_eq!(IncludeObject::default().to_string(), "Metadata");
    }

    #[test]
    fn table_completed_pod_row_condition_serializes() {
        let mut p = pod();
        p["status"] = json!({"phase": "Succeeded"});
        let t = to_table("", "pods", &[p], now(), IncludeObject::None);
        let row = serde_json::to_value(&t.rows[0]).unwrap();
        assert_eq!(row["conditions"][0]["type"], json!("Completed"));
        assert_eq!(row["conditions"][0]["status"], json!("True"));
        assert_eq!(row["conditions"][0]["reason"], json!("Succeeded"));
    }

    #[test]
    fn table_default_columns_for_resources_without_printer() {
        let role = json!({"metadata": {"name": "pod-reader", "creationTimestamp": "2024-04-02T03:04:05Z"}});
        for (group, resource) in [
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("", "limitranges"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
            ("example.com", "widgets"),
        ] {
            assert!(!has_printer(group, resource));
            let t = to_table(
                group,
                resource,
                std::slice::from_ref(&role),
                now(),
                IncludeObject::None,
            );
            let names: Vec<&str> = t
                .column_definitions
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(names, ["Name", "Created At"]);
            assert_eq!(t.column_definitions[1].type_, "date");
            assert_eq!(
                t.rows[0].cells,
                vec![json!("pod-reader"), json!("2024-04-02T03:04:05Z")]
            );
        }
        let t = to_table(
            "",
            "limitranges",
            &[json!({"metadata": {"name": "x"}})],
            now(),
            IncludeObject::None,
        );
        assert_eq!(
            t.rows[0].cells,
            vec![json!("x"), json!("0001-01-01T00:00:00Z")]
        );
        // Offsets are normalized to UTC, fractions dropped.
        let t = to_table(
            "",
            "limitranges",
            &[
                json!({"metadata": {"name": "y", "creationTimestamp": "2024-04-02T05:04:05.5+02:00"}}),
            ],
            now(),
            IncludeObject::None,
        );
        assert_eq!(t.rows[0].cells[1], json!("2024-04-02T03:04:05Z"));
    }

    #[test]
    fn table_custom_resource_default() {
        let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:00:00Z"}});
        let t = to_custom_resource_table(&[cr], now(), IncludeObject::Metadata);
        let names: Vec<&str> = t
            .column_definitions
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(t.rows[0].cells, vec![json!("w"), json!("60m")]);
    }

    #[test]
    fn table_dispatch_covers_requested_kinds() {
        let kinds = [
            ("", "pods", 9),
            ("", "services", 7),
            ("", "endpoints", 3),
            ("", "configmaps", 3),
            ("", "secrets", 4),
            ("", "serviceaccounts", 3),
            ("", "nodes", 10),
            ("", "namespaces", 3),
            ("", "events", 10),
            ("", "replicationcontrollers", 8),
            ("", "persistentvolumes", 11),
            ("", "persistentvolumeclaims", 9),
            ("", "resourcequotas", 4),
            ("", "podtemplates", 4),
            ("apps", "deployments", 8),
            ("apps", "replicasets", 8),
            ("apps", "statefulsets", 5),
            ("apps", "daemonsets", 11),
            ("apps", "controllerrevisions", 4),
            ("batch", "jobs", 8),
            ("batch", "cronjobs", 10),
            ("autoscaling", "horizontalpodautoscalers", 7),
            ("coordination.k8s.io", "leases", 3),
            ("discovery.k8s.io", "endpointslices", 5),
            ("events.k8s.io", "events", 10),
            ("networking.k8s.io", "ingresses", 6),
            ("networking.k8s.io", "ingressclasses", 4),
            ("networking.k8s.io", "networkpolicies", 3),
            ("policy", "poddisruptionbudgets", 5),
            ("rbac.authorization.k8s.io", "rolebindings", 6),
            ("rbac.authorization.k8s.io", "clusterrolebindings", 6),
            ("scheduling.k8s.io", "priorityclasses", 5),
            ("storage.k8s.io", "storageclasses", 6),
        ];
        let junk = [
            json!(null),
            json!({}),
            json!({"metadata": {"name": 1}, "spec": "x", "status": []}),
        ];
        for (group, resource, width) in kinds {
            assert!(has_printer(group, resource), "{group}/{resource}");
            let t = to_table(group, resource, &junk, now(), IncludeObject::Metadata);
            assert_eq!(t.column_definitions.len(), width, "{group}/{resource}");
            assert_eq!(
                t.column_definitions
                    .iter()
                    .filter(|c| c.format == "name")
                    .count(),
                1
            );
            for row in &t.rows {
                assert_eq!(row.cells.len(), width, "{group}/{resource}");
                let object = row.object.as_ref().unwrap();
                assert_eq!(object["kind"], json!("PartialObjectMetadata"));
                assert!(object["metadata"].is_object());
            }
        }
    }

    #[test]
    fn table_rows_follow_upstream_list_order() {
        let fs = |name: &str, precedence: i64| json!({"metadata": {"name": name}, "spec": {"matchingPrecedence": precedence}});
        let t = to_table(
            "flowcontrol.apiserver.k8s.io",
            "flowschemas",
            &[
                fs("global-default", 9900),
                fs("exempt", 1),
                fs("catch-all", 10000),
            ],
            now(),
            IncludeObject::None,
        );
        let names: Vec<&Value> = t.rows.iter().map(|r| &r.cells[0]).collect();
        assert_eq!(
            names,
            [
                &json!("exempt"),
                &json!("global-default"),
                &json!("catch-all")
            ]
        );
        // Other lists keep their order.
        let t = to_table(
            "",
            "namespaces",
            &[
                json!({"metadata": {"name": "b"}}),
                json!({"metadata": {"name": "a"}}),
            ],
            now(),
            IncludeObject::None,
        );
        assert_eq!(t.rows[0].cells[0], json!("b"));
    }
}
