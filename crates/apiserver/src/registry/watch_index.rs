//! The field a resource's watchers are indexed by in the watch cache (upstream's "trigger"
//! functions): a pod's `spec.nodeName`, since every kubelet watches its node's pods. A watch
//! whose field selector pins that field (`spec.nodeName=n`) is offered only the changes of
//! pods that were or are on `n`.

use rkube_api::resources::ResourceInfo;
use serde_json::Value;

use super::watch_cache::IndexFn;

/// The indexed field of `info`'s objects, with how to read it.
pub fn indexed_field(info: &ResourceInfo) -> Option<(&'static str, IndexFn)> {
    match (info.group, info.plural) {
        ("", "pods") => Some(("spec.nodeName", pod_node_name)),
        _ => None,
    }
}

/// A pod's node, `""` before it is scheduled (what `spec.nodeName=` selects).
fn pod_node_name(pod: &Value) -> String {
    pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_indexed_by_node_and_an_unscheduled_pod_by_the_empty_name() {
        let pods = rkube_api::resources::find("", "v1", "pods").unwrap();
        let (field, value_of) = indexed_field(pods).unwrap();
        assert_eq!(field, "spec.nodeName");
        assert_eq!(value_of(&json!({"spec": {"nodeName": "n1"}})), "n1");
        assert_eq!(value_of(&json!({"spec": {}})), "");
        let services = rkube_api::resources::find("", "v1", "services").unwrap();
        assert!(indexed_field(services).is_none());
    }
}
