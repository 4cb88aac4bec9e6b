//! `events.k8s.io/v1` Events as a view of the stored core `v1` Event: the same object with
//! renamed fields, as upstream's `pkg/apis/events/v1` conversion maps them (`involvedObject` is
//! `regarding`, `message` is `note`, the legacy series fields get a `deprecated` prefix,
//! `reportingComponent` is `reportingController`). Every other field keeps its name.

use serde_json::{Map, Value};

/// The API version of the view.
pub const API_VERSION: &str = "events.k8s.io/v1";

/// (core `v1` name, `events.k8s.io/v1` name) of every field whose name differs.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// A stored core `v1` Event as `events.k8s.io/v1` shows it.
pub fn core_to_v1(event: Value) -> Value {
    renamed(event, API_VERSION, |(core, v1)| (core, v1))
}

/// An `events.k8s.io/v1` Event in the stored core `v1` form.
pub fn v1_to_core(event: Value) -> Value {
    renamed(event, "v1", |(core, v1)| (v1, core))
}

fn renamed(
    event: Value,
    api_version: &str,
    direction: impl Fn((&'static str, &'static str)) -> (&'static str, &'static str),
) -> Value {
    let Value::Object(mut fields) = event else {
        return event;
    };
    let mut moved = Map::new();
    for &pair in RENAMED {
        let (from, to) = direction(pair);
        // A field of the other shape that has no counterpart here would be dropped by typed
        // decoding anyway; only the mapped names move.
        if let Some(v) = fields.remove(from) {
            moved.insert(to.to_string(), v);
        }
    }
    fields.extend(moved);
    fields.insert("apiVersion".into(), api_version.into());
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn core() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "d", "resourceVersion": "7"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "d"},
            "reason": "Started", "message": "Started container web", "type": "Normal",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:01:00Z",
            "count": 2, "reportingComponent": "kubelet", "reportingInstance": "n1",
            "series": {"count": 3, "lastObservedTime": "2024-01-01T00:02:00.000000Z"},
            "action": "Start", "related": {"kind": "Node", "name": "n1"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
        })
    }

    #[test]
    fn core_fields_take_their_events_v1_names() {
        let v1 = core_to_v1(core());
        assert_eq!(
            v1,
            json!({
                "apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": {"name": "web.1", "namespace": "d", "resourceVersion": "7"},
                "regarding": {"kind": "Pod", "name": "web", "namespace": "d"},
                "reason": "Started", "note": "Started container web", "type": "Normal",
                "deprecatedSource": {"component": "kubelet", "host": "n1"},
                "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z",
                "deprecatedLastTimestamp": "2024-01-01T00:01:00Z",
                "deprecatedCount": 2, "reportingController": "kubelet", "reportingInstance": "n1",
                "series": {"count": 3, "lastObservedTime": "2024-01-01T00:02:00.000000Z"},
                "action": "Start", "related": {"kind": "Node", "name": "n1"},
                "eventTime": "2024-01-01T00:00:00.000000Z",
            })
        );
        // The typed events.k8s.io/v1 struct reads it without dropping anything.
        let typed: k8s_openapi::api::events::v1::Event =
            serde_json::from_value(v1.clone()).unwrap();
        assert_eq!(serde_json::to_value(typed).unwrap(), v1);
    }

    #[test]
    fn round_trips() {
        assert_eq!(v1_to_core(core_to_v1(core())), core());
        let minimal = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {}});
        assert_eq!(v1_to_core(core_to_v1(minimal.clone())), minimal);
        assert_eq!(core_to_v1(json!("not an object")), json!("not an object"));
    }
}
