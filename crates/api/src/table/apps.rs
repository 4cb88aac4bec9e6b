//! The `apps` group: deployments, replica sets, stateful sets, daemon sets, controller
//! revisions.

use jiff::Timestamp;
use serde_json::Value;

use super::types::TableRow;
use super::util::{
    AGE, CONTAINERS, IMAGES, NAME, Printer, age, arr_at, at, col, container_cells,
    format_label_selector, format_labels, int_at, label_selector_string, n, name, obj_at, opt_int,
    s, str_at, wide,
};

/// The printer of an `apps` resource, by plural name.
pub(crate) fn printer(resource: &str) -> Option<&'static Printer> {
    Some(match resource {
        "deployments" => &DEPLOYMENTS,
        "replicasets" => &REPLICA_SETS,
        "statefulsets" => &STATEFUL_SETS,
        "daemonsets" => &DAEMON_SETS,
        "controllerrevisions" => &CONTROLLER_REVISIONS,
        _ => return None,
    })
}

/// `spec.replicas`, which storage defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

fn template_containers(obj: &Value) -> (Value, Value) {
    container_cells(arr_at(obj, &["spec", "template", "spec", "containers"]))
}

static DEPLOYMENTS: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready replicas out of desired replicas."),
        col(
            "Up-to-date",
            "string",
            "Replicas running the latest template.",
        ),
        col("Available", "string", "Replicas available to serve."),
        AGE,
        CONTAINERS,
        IMAGES,
        wide(
            "Selector",
            "string",
            "Labels of the pods the deployment manages.",
        ),
    ],
    row: deployment_row,
    order: None,
};

fn deployment_row(d: &Value, now: Timestamp) -> TableRow {
    let (containers, images) = template_containers(d);
    // Unlike the other workloads, an empty selector prints as nothing rather than <none>.
    let selector = label_selector_string(at(d, &["spec", "selector"]))
        .unwrap_or_else(|()| "<invalid>".to_owned());
    TableRow::new(vec![
        name(d),
        s(format!(
            "{}/{}",
            int_at(d, &["status", "readyReplicas"]),
            desired_replicas(d)
        )),
        n(int_at(d, &["status", "updatedReplicas"])),
        n(int_at(d, &["status", "availableReplicas"])),
        age(d, now),
        containers,
        images,
        s(selector),
    ])
}

static REPLICA_SETS: Printer = Printer {
    columns: &[
        NAME,
        col("Desired", "integer", "Number of replicas wanted."),
        col("Current", "integer", "Number of replicas that exist."),
        col("Ready", "integer", "Number of replicas that are ready."),
        AGE,
        CONTAINERS,
        IMAGES,
        wide(
            "Selector",
            "string",
            "Labels of the pods the replica set owns.",
        ),
    ],
    row: replica_set_row,
    order: None,
};

fn replica_set_row(rs: &Value, now: Timestamp) -> TableRow {
    let (containers, images) = template_containers(rs);
    TableRow::new(vec![
        name(rs),
        n(desired_replicas(rs)),
        n(int_at(rs, &["status", "replicas"])),
        n(int_at(rs, &["status", "readyReplicas"])),
        age(rs, now),
        containers,
        images,
        s(format_label_selector(at(rs, &["spec", "selector"]))),
    ])
}

static STATEFUL_SETS: Printer = Printer {
    columns: &[
        NAME,
        col("Ready", "string", "Ready replicas out of desired replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
    ],
    row: stateful_set_row,
    order: None,
};

fn stateful_set_row(ss: &Value, now: Timestamp) -> TableRow {
    let (containers, images) = template_containers(ss);
    TableRow::new(vec![
        name(ss),
        s(format!(
            "{}/{}",
            int_at(ss, &["status", "readyReplicas"]),
            desired_replicas(ss)
        )),
        age(ss, now),
        containers,
        images,
    ])
}

static DAEMON_SETS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Desired",
            "integer",
            "Number of nodes that should run the daemon pod.",
        ),
        col(
            "Current",
            "integer",
            "Number of nodes running the daemon pod.",
        ),
        col(
            "Ready",
            "integer",
            "Number of nodes with a ready daemon pod.",
        ),
        col(
            "Up-to-date",
            "integer",
            "Number of nodes running the latest template.",
        ),
        col(
            "Available",
            "integer",
            "Number of nodes with an available daemon pod.",
        ),
        col(
            "Node Selector",
            "string",
            "Node labels the daemon pods are restricted to.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        wide(
            "Selector",
            "string",
            "Labels of the pods the daemon set owns.",
        ),
    ],
    row: daemon_set_row,
    order: None,
};

fn daemon_set_row(ds: &Value, now: Timestamp) -> TableRow {
    let (containers, images) = template_containers(ds);
    TableRow::new(vec![
        name(ds),
        n(int_at(ds, &["status", "desiredNumberScheduled"])),
        n(int_at(ds, &["status", "currentNumberScheduled"])),
        n(int_at(ds, &["status", "numberReady"])),
        n(int_at(ds, &["status", "updatedNumberScheduled"])),
        n(int_at(ds, &["status", "numberAvailable"])),
        s(format_labels(obj_at(
            ds,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age(ds, now),
        containers,
        images,
        s(format_label_selector(at(ds, &["spec", "selector"]))),
    ])
}

static CONTROLLER_REVISIONS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Controller",
            "string",
            "The object that owns the revision, as kind.group/name.",
        ),
        col("Revision", "string", "Revision number."),
        AGE,
    ],
    row: controller_revision_row,
    order: None,
};

fn controller_revision_row(cr: &Value, now: Timestamp) -> TableRow {
    let controller = arr_at(cr, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| at(r, &["controller"]).and_then(Value::as_bool) == Some(true))
        .map_or_else(|| "<none>".to_owned(), owner_name);
    TableRow::new(vec![
        name(cr),
        s(controller),
        n(int_at(cr, &["revision"])),
        age(cr, now),
    ])
}

/// An owner reference as `kind.group/name` (lowercase kind and group), or just the name when
/// both kind and group are empty.
fn owner_name(owner: &Value) -> String {
    let api_version = str_at(owner, &["apiVersion"]);
    let group = match api_version.split_once('/') {
        Some((group, _)) => group,
        None => "",
    };
    let kind = str_at(owner, &["kind"]);
    let name = str_at(owner, &["name"]);
    match (kind, group) {
        ("", "") => name.to_owned(),
        (kind, "") => format!("{}/{name}", kind.to_lowercase()),
        (kind, group) => format!("{}/{name}", format!("{kind}.{group}").to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn meta(name: &str) -> Value {
        json!({"name": name, "namespace": "default", "creationTimestamp": "2024-05-01T08:57:00Z"})
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                       {"name": "log", "image": "busybox"}]}})
    }

    fn cells(p: &Printer, obj: Value) -> Value {
        let row = (p.row)(&obj, now());
        assert_eq!(row.cells.len(), p.columns.len(), "cells vs columns");
        json!(row.cells)
    }

    #[test]
    fn table_deployment_cells() {
        let d = json!({"metadata": meta("web"),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        assert_eq!(
            cells(&DEPLOYMENTS, d),
            json!([
                "web",
                "2/3",
                3,
                2,
                "3h3m",
                "web,log",
                "nginx:1.27,busybox",
                "app=web"
            ])
        );
        let fresh = json!({"metadata": meta("new"), "spec": {"selector": {}}});
        assert_eq!(
            cells(&DEPLOYMENTS, fresh),
            json!(["new", "0/1", 0, 0, "3h3m", "", "", ""])
        );
        let bad = json!({"metadata": meta("bad"), "spec": {"replicas": 0,
            "selector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}}});
        assert_eq!(
            cells(&DEPLOYMENTS, bad),
            json!(["bad", "0/0", 0, 0, "3h3m", "", "", "<invalid>"])
        );
    }

    #[test]
    fn table_replica_set_cells() {
        let rs = json!({"metadata": meta("web-5d8f"),
            "spec": {"replicas": 2, "template": template(),
                     "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d8f"}}},
            "status": {"replicas": 2, "readyReplicas": 2}});
        assert_eq!(
            cells(&REPLICA_SETS, rs),
            json!([
                "web-5d8f",
                2,
                2,
                2,
                "3h3m",
                "web,log",
                "nginx:1.27,busybox",
                "app=web,pod-template-hash=5d8f"
            ])
        );
    }

    #[test]
    fn table_stateful_and_daemon_set_cells() {
        let ss = json!({"metadata": meta("db"),
            "spec": {"replicas": 3, "template": template()}, "status": {"readyReplicas": 1}});
        assert_eq!(
            cells(&STATEFUL_SETS, ss),
            json!(["db", "1/3", "3h3m", "web,log", "nginx:1.27,busybox"])
        );
        let mut tpl = template();
        tpl["spec"]["nodeSelector"] = json!({"kubernetes.io/os": "linux"});
        let ds = json!({"metadata": meta("agent"),
            "spec": {"template": tpl, "selector": {"matchLabels": {"app": "agent"}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 3, "numberAvailable": 2}});
        assert_eq!(
            cells(&DAEMON_SETS, ds),
            json!([
                "agent",
                3,
                3,
                2,
                3,
                2,
                "kubernetes.io/os=linux",
                "3h3m",
                "web,log",
                "nginx:1.27,busybox",
                "app=agent"
            ])
        );
    }

    #[test]
    fn table_controller_revision_cells() {
        let mut cr = json!({"metadata": meta("db-7b9c"), "revision": 4});
        cr["metadata"]["ownerReferences"] = json!([
            {"apiVersion": "v1", "kind": "Pod", "name": "other"},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]);
        assert_eq!(
            cells(&CONTROLLER_REVISIONS, cr),
            json!(["db-7b9c", "statefulset.apps/db", 4, "3h3m"])
        );
        let orphan = json!({"metadata": meta("x"), "revision": 1});
        assert_eq!(
            cells(&CONTROLLER_REVISIONS, orphan),
            json!(["x", "<none>", 1, "3h3m"])
        );
        let core_owner = json!({"kind": "Node", "apiVersion": "v1", "name": "n1"});
        assert_eq!(owner_name(&core_owner), "node/n1");
    }
}
