//! Events, in both shapes: core `v1` and `events.k8s.io/v1` (same columns, renamed fields).

use jiff::Timestamp;
use serde_json::Value;

use super::age::since;
use super::types::TableRow;
use super::util::{Col, NAME, Printer, col, int_at, n, name, present, s, str_at, time_at, wide};

/// The event columns, shared by both API groups.
const EVENT_COLUMNS: &[Col] = &[
    col(
        "Last Seen",
        "string",
        "Time since the event was last observed.",
    ),
    col("Type", "string", "Type of the event: Normal or Warning."),
    col(
        "Reason",
        "string",
        "Short machine readable reason for the event.",
    ),
    col(
        "Object",
        "string",
        "The object the event is about, as kind/name.",
    ),
    wide(
        "Subobject",
        "string",
        "The part of the object the event is about.",
    ),
    wide(
        "Source",
        "string",
        "The component (and host) that reported the event.",
    ),
    col(
        "Message",
        "string",
        "Human readable description of the event.",
    ),
    wide(
        "First Seen",
        "string",
        "Time since the event was first observed.",
    ),
    wide("Count", "string", "How many times the event was observed."),
    Col {
        priority: 1,
        ..NAME
    },
];

/// Core `v1` events.
pub(crate) static EVENTS: Printer = Printer {
    columns: EVENT_COLUMNS,
    row: core_event_row,
    order: None,
};

/// `events.k8s.io/v1` events.
pub(crate) static EVENTS_V1: Printer = Printer {
    columns: EVENT_COLUMNS,
    row: events_v1_row,
    order: None,
};

/// Where each field lives in one of the two event shapes.
struct Fields {
    regarding: &'static str,
    message: &'static str,
    source: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    reporting_controller: &'static str,
}

const CORE: Fields = Fields {
    regarding: "involvedObject",
    message: "message",
    source: "source",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    reporting_controller: "reportingComponent",
};

const V1: Fields = Fields {
    regarding: "regarding",
    message: "note",
    source: "deprecatedSource",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    reporting_controller: "reportingController",
};

fn core_event_row(ev: &Value, now: Timestamp) -> TableRow {
    event_row(ev, now, &CORE)
}

fn events_v1_row(ev: &Value, now: Timestamp) -> TableRow {
    event_row(ev, now, &V1)
}

fn event_row(ev: &Value, now: Timestamp, f: &Fields) -> TableRow {
    let first = match time_at(ev, &[f.first]) {
        Some(t) => since(now, Some(t)),
        None => since(now, time_at(ev, &["eventTime"])),
    };
    let mut last = match time_at(ev, &[f.last]) {
        Some(t) => since(now, Some(t)),
        None => first.clone(),
    };
    let mut count = int_at(ev, &[f.count]);
    if present(ev, &["series"]) {
        last = since(now, time_at(ev, &["series", "lastObservedTime"]));
        count = int_at(ev, &["series", "count"]);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }

    let kind = str_at(ev, &[f.regarding, "kind"]).to_lowercase();
    let target = match str_at(ev, &[f.regarding, "name"]) {
        "" => kind,
        object => format!("{kind}/{object}"),
    };
    let component = first_non_empty(
        str_at(ev, &[f.source, "component"]),
        str_at(ev, &[f.reporting_controller]),
    );
    let host = first_non_empty(
        str_at(ev, &[f.source, "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    let source = if host.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {host}")
    };
    TableRow::new(vec![
        s(last),
        s(str_at(ev, &["type"])),
        s(str_at(ev, &["reason"])),
        s(target),
        s(str_at(ev, &[f.regarding, "fieldPath"])),
        s(source),
        s(str_at(ev, &[f.message]).trim()),
        s(first),
        n(count),
        name(ev),
    ])
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn table_core_event_cells() {
        let ev = json!({
            "metadata": {"name": "web-0.17c", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled", "type": "Normal",
            "message": "  Container image \"nginx\" already present on machine\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 4
        });
        assert_eq!(
            json!((EVENTS.row)(&ev, now()).cells),
            json!([
                "2m",
                "Normal",
                "Pulled",
                "pod/web-0",
                "spec.containers{web}",
                "kubelet, node-1",
                "Container image \"nginx\" already present on machine",
                "60m",
                4,
                "web-0.17c"
            ])
        );
    }

    #[test]
    fn table_core_event_new_style_fields() {
        // Only eventTime, a series, and reporting fields: what newer clients write.
        let ev = json!({
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Node"},
            "reason": "Starting", "type": "Normal", "message": "Starting kubelet.",
            "eventTime": "2024-05-01T11:50:00.123456Z",
            "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:30.000001Z"},
            "reportingComponent": "kubelet", "reportingInstance": "node-1"
        });
        assert_eq!(
            json!((EVENTS.row)(&ev, now()).cells),
            json!([
                "29s",
                "Normal",
                "Starting",
                "node",
                "",
                "kubelet, node-1",
                "Starting kubelet.",
                "9m59s",
                7,
                "e1"
            ])
        );
        let bare = json!({"metadata": {"name": "e2"}});
        assert_eq!(
            json!((EVENTS.row)(&bare, now()).cells),
            json!(["<unknown>", "", "", "", "", "", "", "<unknown>", 1, "e2"])
        );
    }

    #[test]
    fn table_events_v1_cells() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1"},
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "type": "Normal",
            "note": "Scaled up replica set web-5d to 3",
            "reportingController": "deployment-controller",
            "eventTime": null,
            "deprecatedFirstTimestamp": "2024-05-01T11:30:00Z",
            "deprecatedLastTimestamp": "2024-05-01T11:45:00Z",
            "deprecatedCount": 2,
            "deprecatedSource": {"component": "deployment-controller"}
        });
        assert_eq!(
            json!((EVENTS_V1.row)(&ev, now()).cells),
            json!([
                "15m",
                "Normal",
                "ScalingReplicaSet",
                "deployment/web",
                "",
                "deployment-controller",
                "Scaled up replica set web-5d to 3",
                "30m",
                2,
                "web.1"
            ])
        );
    }
}
