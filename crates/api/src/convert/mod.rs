//! Conversion between the versions served of one stored kind. Some resources are served in
//! more than one group version over the same stored objects (see
//! [`crate::resources::storage_version`]); requests through another version are converted to
//! the stored one on the way in and back on the way out, as upstream's conversion functions do:
//!
//! - `events.k8s.io/v1` Event ⇄ core `v1` Event ([`events`]);
//! - `autoscaling/v1` HorizontalPodAutoscaler ⇄ `autoscaling/v2` ([`autoscaling`]).
//!
//! Objects are JSON; a kind this module does not know passes through unchanged.

pub mod autoscaling;
pub mod events;

use crate::resources::ResourceInfo;
use serde_json::Value;

/// Why an object could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The object does not decode as its version's type.
    #[error("{0}")]
    Decode(#[from] serde_json::Error),
    /// A round-trip annotation holds something that is not what it should.
    #[error("annotation {annotation}: {source}")]
    Annotation {
        /// The annotation key.
        annotation: &'static str,
        /// The decoding error.
        source: serde_json::Error,
    },
}

/// The version pairs this module converts: `(group, version, kind)` of the served version.
fn conversion(view: &ResourceInfo) -> Option<Pair> {
    match (view.group, view.version, view.kind) {
        ("events.k8s.io", "v1", "Event") => Some(Pair::EventsV1),
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => Some(Pair::AutoscalingV1),
        _ => None,
    }
}

enum Pair {
    EventsV1,
    AutoscalingV1,
}

/// Converts `obj`, in `view`'s version, to the version it is stored in.
pub fn to_storage(view: &ResourceInfo, obj: Value) -> Result<Value, ConvertError> {
    match conversion(view) {
        None => Ok(obj),
        Some(Pair::EventsV1) => Ok(events::v1_to_core(obj)),
        Some(Pair::AutoscalingV1) => {
            let v1 = serde_json::from_value(obj)?;
            Ok(serde_json::to_value(autoscaling::v1_to_v2(v1)?)?)
        }
    }
}

/// Converts a stored object to `view`'s version.
pub fn from_storage(view: &ResourceInfo, obj: Value) -> Result<Value, ConvertError> {
    match conversion(view) {
        None => Ok(obj),
        Some(Pair::EventsV1) => Ok(events::core_to_v1(obj)),
        Some(Pair::AutoscalingV1) => {
            let v2 = serde_json::from_value(obj)?;
            Ok(serde_json::to_value(autoscaling::v2_to_v1(v2)?)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn storage_versions_pass_through() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(to_storage(pods, pod.clone()).unwrap(), pod);
        assert_eq!(from_storage(pods, pod.clone()).unwrap(), pod);
    }

    #[test]
    fn views_convert_with_type_meta() {
        let v1 = find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        let hpa = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                     "targetCPUUtilizationPercentage": 50}});
        let stored = to_storage(v1, hpa).unwrap();
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
        assert_eq!(
            stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            50
        );
        let back = from_storage(v1, stored).unwrap();
        assert_eq!(back["apiVersion"], "autoscaling/v1");
        assert_eq!(back["spec"]["targetCPUUtilizationPercentage"], 50);

        let events = find("events.k8s.io", "v1", "events").unwrap();
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e"}, "note": "hi"});
        let stored = to_storage(events, ev).unwrap();
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["message"], "hi");

        let bad = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"}, "spec": {"maxReplicas": "three"}});
        assert!(to_storage(v1, bad).is_err());
    }
}
