//! The `storage.k8s.io` group: storage classes, CSI drivers and nodes, volume attachments,
//! CSI storage capacities.

use jiff::Timestamp;
use serde_json::Value;

use super::types::TableRow;
use super::util::{
    AGE, NAME, Printer, age, arr_at, col, name, opt_bool, opt_str, present, quantity_at, s, str_at,
    str_or,
};

/// The printer of a `storage.k8s.io` resource, by plural name.
pub(crate) fn printer(resource: &str) -> Option<&'static Printer> {
    Some(match resource {
        "storageclasses" => &STORAGE_CLASSES,
        "csidrivers" => &CSI_DRIVERS,
        "csinodes" => &CSI_NODES,
        "volumeattachments" => &VOLUME_ATTACHMENTS,
        "csistoragecapacities" => &CSI_STORAGE_CAPACITIES,
        _ => return None,
    })
}

static STORAGE_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Provisioner",
            "string",
            "The volume plugin that provisions volumes of the class.",
        ),
        col(
            "ReclaimPolicy",
            "string",
            "What happens to provisioned volumes when released.",
        ),
        col(
            "VolumeBindingMode",
            "string",
            "When volumes are bound and provisioned.",
        ),
        col(
            "AllowVolumeExpansion",
            "string",
            "Whether claims of the class may grow.",
        ),
        AGE,
    ],
    row: storage_class_row,
    order: None,
};

/// Annotations marking the default storage class (GA and beta spellings).
const DEFAULT_CLASS_ANNOTATIONS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

fn storage_class_row(sc: &Value, now: Timestamp) -> TableRow {
    let is_default = DEFAULT_CLASS_ANNOTATIONS
        .iter()
        .any(|a| opt_str(sc, &["metadata", "annotations", a]) == Some("true"));
    let mut display_name = str_at(sc, &["metadata", "name"]).to_owned();
    if is_default {
        display_name.push_str(" (default)");
    }
    TableRow::new(vec![
        s(display_name),
        s(str_at(sc, &["provisioner"])),
        s(str_or(sc, &["reclaimPolicy"], "Delete")),
        s(str_or(sc, &["volumeBindingMode"], "Immediate")),
        Value::Bool(opt_bool(sc, &["allowVolumeExpansion"]).unwrap_or(false)),
        age(sc, now),
    ])
}

static CSI_DRIVERS: Printer = Printer {
    columns: &[
        NAME,
        col(
            "AttachRequired",
            "boolean",
            "Whether volumes need an attach step.",
        ),
        col(
            "PodInfoOnMount",
            "boolean",
            "Whether pod information is passed on mount.",
        ),
        col(
            "StorageCapacity",
            "boolean",
            "Whether the driver reports storage capacity.",
        ),
        col(
            "TokenRequests",
            "string",
            "Audiences of the service account tokens passed on mount.",
        ),
        col(
            "RequiresRepublish",
            "boolean",
            "Whether volumes are periodically re-published.",
        ),
        col(
            "Modes",
            "string",
            "The volume lifecycle modes the driver supports.",
        ),
        AGE,
    ],
    row: csi_driver_row,
    order: None,
};

fn csi_driver_row(d: &Value, now: Timestamp) -> TableRow {
    let flag =
        |field: &str, default: bool| Value::Bool(opt_bool(d, &["spec", field]).unwrap_or(default));
    let tokens = if present(d, &["spec", "tokenRequests"]) {
        arr_at(d, &["spec", "tokenRequests"])
            .iter()
            .map(|t| str_at(t, &["audience"]))
            .collect::<Vec<_>>()
            .join(",")
    } else {
        "<unset>".to_owned()
    };
    // Storage defaults the lifecycle modes to Persistent.
    let modes = if present(d, &["spec", "volumeLifecycleModes"]) {
        let modes: Vec<&str> = arr_at(d, &["spec", "volumeLifecycleModes"])
            .iter()
            .map(|m| m.as_str().unwrap_or(""))
            .collect();
        if modes.is_empty() {
            "<none>".to_owned()
        } else {
            modes.join(",")
        }
    } else {
        "Persistent".to_owned()
    };
    TableRow::new(vec![
        name(d),
        flag("attachRequired", true),
        flag("podInfoOnMount", false),
        flag("storageCapacity", false),
        s(tokens),
        flag("requiresRepublish", false),
        s(modes),
        age(d, now),
    ])
}

static CSI_NODES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "Drivers",
            "integer",
            "Number of CSI drivers registered on the node.",
        ),
        AGE,
    ],
    row: csi_node_row,
    order: None,
};

fn csi_node_row(node: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(node),
        Value::from(arr_at(node, &["spec", "drivers"]).len()),
        age(node, now),
    ])
}

static VOLUME_ATTACHMENTS: Printer = Printer {
    columns: &[
        NAME,
        super::util::Col {
            format: "name",
            ..col("Attacher", "string", "The driver that attaches the volume.")
        },
        col("PV", "string", "The persistent volume being attached."),
        col("Node", "string", "The node the volume is attached to."),
        col("Attached", "boolean", "Whether the volume is attached."),
        AGE,
    ],
    row: volume_attachment_row,
    order: None,
};

fn volume_attachment_row(va: &Value, now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(va),
        s(str_at(va, &["spec", "attacher"])),
        s(str_at(va, &["spec", "source", "persistentVolumeName"])),
        s(str_at(va, &["spec", "nodeName"])),
        Value::Bool(opt_bool(va, &["status", "attached"]).unwrap_or(false)),
        age(va, now),
    ])
}

static CSI_STORAGE_CAPACITIES: Printer = Printer {
    columns: &[
        NAME,
        col(
            "StorageClassName",
            "string",
            "The storage class the capacity applies to.",
        ),
        col("Capacity", "string", "The available capacity."),
    ],
    row: csi_storage_capacity_row,
    order: None,
};

fn csi_storage_capacity_row(c: &Value, _now: Timestamp) -> TableRow {
    TableRow::new(vec![
        name(c),
        s(str_at(c, &["storageClassName"])),
        s(quantity_at(c, &["capacity"]).unwrap_or_else(|| "<unset>".to_owned())),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn cells(p: &Printer, obj: Value) -> Value {
        let row = (p.row)(&obj, now());
        assert_eq!(row.cells.len(), p.columns.len(), "cells vs columns");
        json!(row.cells)
    }

    #[test]
    fn table_storage_class_cells() {
        let sc = json!({"metadata": {"name": "local-path", "creationTimestamp": "2024-04-01T12:00:00Z",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            cells(&STORAGE_CLASSES, sc),
            json!([
                "local-path (default)",
                "rancher.io/local-path",
                "Delete",
                "WaitForFirstConsumer",
                false,
                "30d"
            ])
        );
        let sc = json!({"metadata": {"name": "fast", "creationTimestamp": "2024-04-01T12:00:00Z"},
            "provisioner": "csi.example.com", "allowVolumeExpansion": true});
        assert_eq!(
            cells(&STORAGE_CLASSES, sc),
            json!([
                "fast",
                "csi.example.com",
                "Delete",
                "Immediate",
                true,
                "30d"
            ])
        );
    }

    #[test]
    fn table_csi_kinds_cells() {
        let d = json!({"metadata": {"name": "csi.example.com"},
            "spec": {"tokenRequests": [{"audience": "vault"}, {"audience": "gcp"}],
                     "volumeLifecycleModes": ["Persistent", "Ephemeral"], "podInfoOnMount": true}});
        assert_eq!(
            cells(&CSI_DRIVERS, d),
            json!([
                "csi.example.com",
                true,
                true,
                false,
                "vault,gcp",
                false,
                "Persistent,Ephemeral",
                "<unknown>"
            ])
        );
        let d = json!({"metadata": {"name": "plain"}, "spec": {"attachRequired": false}});
        assert_eq!(
            cells(&CSI_DRIVERS, d),
            json!([
                "plain",
                false,
                false,
                false,
                "<unset>",
                false,
                "Persistent",
                "<unknown>"
            ])
        );
        let node = json!({"metadata": {"name": "node-1"}, "spec": {"drivers": [{"name": "a"}]}});
        assert_eq!(cells(&CSI_NODES, node), json!(["node-1", 1, "<unknown>"]));
        let va = json!({"metadata": {"name": "csi-123"}, "spec": {"attacher": "csi.example.com",
            "source": {"persistentVolumeName": "pv-1"}, "nodeName": "node-1"}, "status": {"attached": true}});
        assert_eq!(
            cells(&VOLUME_ATTACHMENTS, va),
            json!([
                "csi-123",
                "csi.example.com",
                "pv-1",
                "node-1",
                true,
                "<unknown>"
            ])
        );
        let cap =
            json!({"metadata": {"name": "cap"}, "storageClassName": "fast", "capacity": "100Gi"});
        assert_eq!(
            cells(&CSI_STORAGE_CAPACITIES, cap),
            json!(["cap", "fast", "100Gi"])
        );
    }
}
