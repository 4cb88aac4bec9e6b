//! Events written through `events.k8s.io/v1`: upstream validates them (in their stored core
//! form) with the legacy core checks plus stricter ones — `eventTime` required, `type` Normal or
//! Warning, the deprecated series fields unset, DNS-subdomain names — and, on update, most
//! fields immutable. Core `v1` writes get only the legacy checks ([`super::core::validate_event`]).

use super::meta::validate_object_meta;
use super::names::NameRule;
use super::{Errors, Path, decode, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::core::v1::Event;
use serde_json::Value;

/// The legacy checks name the reporting field as the request's version does.
fn renamed(mut errs: Errors) -> Errors {
    for e in &mut errs {
        if e.field == "reportingComponent" {
            e.field = "reportingController".into();
        }
    }
    errs
}

fn invalid_empty(field: &str, detail: impl std::fmt::Display) -> FieldCause {
    FieldCause::invalid(field, &jstr(""), detail)
}

fn series(e: &Event) -> Errors {
    let mut errs = Vec::new();
    if let Some(series) = &e.series {
        if series.count.unwrap_or(0) < 2 {
            errs.push(invalid_empty("series.count", "should be at least 2"));
        }
        if series.last_observed_time.is_none() {
            errs.push(FieldCause::required("series.lastObservedTime"));
        }
    }
    errs
}

/// Checks of an `events.k8s.io/v1` create; `legacy` are the core checks' results.
pub fn validate_v1_create(obj: &Value, legacy: Errors) -> Errors {
    let mut errs = renamed(legacy);
    let Some(e) = decode::<Event>(obj) else {
        return errs;
    };
    errs.extend(validate_object_meta(
        &e.metadata,
        true,
        NameRule::Subdomain,
        &Path::new("metadata"),
    ));
    errs.extend(series(&e));
    if e.event_time.is_none() {
        errs.push(FieldCause::required("eventTime"));
    }
    let type_ = s(&e.type_);
    if type_ != "Normal" && type_ != "Warning" {
        errs.push(invalid_empty("type", format!("has invalid value: {type_}")));
    }
    let set = [
        ("firstTimestamp", e.first_timestamp.is_some()),
        ("lastTimestamp", e.last_timestamp.is_some()),
        ("count", e.count.is_some_and(|c| c != 0)),
        (
            "source",
            e.source
                .as_ref()
                .is_some_and(|src| !s(&src.component).is_empty() || !s(&src.host).is_empty()),
        ),
    ];
    for (field, is_set) in set {
        if is_set {
            errs.push(invalid_empty(field, "needs to be unset"));
        }
    }
    errs
}

/// Checks of an `events.k8s.io/v1` update; `legacy` are the core checks' results (which
/// include the metadata update checks).
pub fn validate_v1_update(new: &Value, old: &Value, legacy: Errors) -> Errors {
    let mut errs = renamed(legacy);
    let (Some(n), Some(o)) = (decode::<Event>(new), decode::<Event>(old)) else {
        return errs;
    };
    if n.series != o.series {
        errs.extend(series(&n));
    }
    let fields: [(&str, Value, Value); 13] = [
        (
            "involvedObject",
            json(&n.involved_object),
            json(&o.involved_object),
        ),
        ("reason", json(&n.reason), json(&o.reason)),
        ("message", json(&n.message), json(&o.message)),
        ("source", json(&n.source), json(&o.source)),
        (
            "firstTimestamp",
            json(&n.first_timestamp),
            json(&o.first_timestamp),
        ),
        (
            "lastTimestamp",
            json(&n.last_timestamp),
            json(&o.last_timestamp),
        ),
        ("count", json(&n.count), json(&o.count)),
        ("type", json(&n.type_), json(&o.type_)),
        ("eventTime", json(&n.event_time), json(&o.event_time)),
        ("action", json(&n.action), json(&o.action)),
        ("related", json(&n.related), json(&o.related)),
        (
            "reportingController",
            json(&n.reporting_component),
            json(&o.reporting_component),
        ),
        (
            "reportingInstance",
            json(&n.reporting_instance),
            json(&o.reporting_instance),
        ),
    ];
    for (field, new_value, old_value) in fields {
        if new_value != old_value {
            let shown = if new_value.is_null() {
                jstr("")
            } else {
                new_value
            };
            errs.push(FieldCause::invalid(field, &shown, "field is immutable"));
        }
    }
    errs
}

/// A field as JSON, to compare and show differently typed fields alike.
fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::lines;
    use super::super::{validate_create_via, validate_update_via};
    use serde_json::{Value, json};

    fn event() -> Value {
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"},
            "reason": "Started", "action": "Start", "type": "Normal",
            "reportingComponent": "kubelet", "reportingInstance": "n1",
            "eventTime": "2024-01-01T00:00:00.000000Z"})
    }

    #[test]
    fn new_style_events_pass_both_ways() {
        assert!(validate_create_via("events.k8s.io", "v1", "", "Event", &event()).is_empty());
        assert!(validate_create_via("", "v1", "", "Event", &event()).is_empty());
    }

    #[test]
    fn events_v1_creates_are_strict() {
        let old_style = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "e_1", "namespace": "d"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "d"},
            "type": "Info", "count": 3, "firstTimestamp": "2024-01-01T00:00:00Z",
            "source": {"component": "me"}, "series": {"count": 1}});
        // Through core v1 the legacy checks pass.
        assert!(validate_create_via("", "v1", "", "Event", &old_style).is_empty());
        let errs = lines(&validate_create_via(
            "events.k8s.io",
            "v1",
            "",
            "Event",
            &old_style,
        ));
        for want in [
            "metadata.name: Invalid value: \"e_1\": a lowercase RFC 1123 subdomain",
            "series.count: Invalid value: \"\": should be at least 2",
            "series.lastObservedTime: Required value",
            "eventTime: Required value",
            "type: Invalid value: \"\": has invalid value: Info",
            "firstTimestamp: Invalid value: \"\": needs to be unset",
            "count: Invalid value: \"\": needs to be unset",
            "source: Invalid value: \"\": needs to be unset",
        ] {
            assert!(
                errs.iter().any(|e| e.starts_with(want)),
                "missing {want:?} in {errs:#?}"
            );
        }
        // The legacy checks name the reporting field as events.k8s.io/v1 does.
        let mut no_controller = event();
        no_controller
            .as_object_mut()
            .unwrap()
            .remove("reportingComponent");
        let errs = lines(&validate_create_via(
            "events.k8s.io",
            "v1",
            "",
            "Event",
            &no_controller,
        ));
        assert!(errs.contains(&"reportingController: Required value".to_string()));
        let errs = lines(&validate_create_via("", "v1", "", "Event", &no_controller));
        assert!(errs.contains(&"reportingComponent: Required value".to_string()));
    }

    #[test]
    fn events_v1_updates_keep_the_event_immutable() {
        let mut old_ev = event();
        old_ev["metadata"]["resourceVersion"] = "5".into();
        old_ev["metadata"]["uid"] = "u".into();
        let mut new_ev = old_ev.clone();
        new_ev["reason"] = "Killed".into();
        new_ev["series"] = json!({"count": 2, "lastObservedTime": "2024-01-01T00:00:01.000000Z"});
        let errs = lines(&validate_update_via(
            "events.k8s.io",
            "v1",
            "",
            "Event",
            &new_ev,
            &old_ev,
        ));
        assert_eq!(
            errs,
            vec!["reason: Invalid value: \"Killed\": field is immutable"]
        );
        assert!(validate_update_via("", "v1", "", "Event", &new_ev, &old_ev).is_empty());
    }
}
