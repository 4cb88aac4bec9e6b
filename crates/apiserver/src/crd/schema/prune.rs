//! Pruning: fields a structural schema does not specify are dropped (unless a node keeps unknown
//! fields with `x-kubernetes-preserve-unknown-fields`), and their paths are reported so
//! `fieldValidation` can warn or refuse. `apiVersion`, `kind` and `metadata` at the root (and
//! in embedded resources) are always kept.

use super::flag;
use serde_json::Value;

/// Drops unknown fields of `value` (the whole object) and returns their paths (`spec.foo`).
pub fn prune(value: &mut Value, schema: &Value) -> Vec<String> {
    let mut dropped = Vec::new();
    walk(value, schema, true, &mut String::new(), &mut dropped);
    dropped
}

fn walk(value: &mut Value, schema: &Value, root: bool, path: &mut String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = root || flag(schema, "x-kubernetes-embedded-resource");
            let props = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let always = embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata");
                let sub = props.and_then(|p| p.get(&key)).or(match additional {
                    Value::Object(_) => Some(additional),
                    _ => None,
                });
                match sub {
                    // Metadata is the server's to check, not the schema's.
                    _ if always && key == "metadata" => {}
                    Some(sub) => {
                        if let Some(v) = map.get_mut(&key) {
                            walk(v, sub, false, path, out);
                        }
                    }
                    None if always || preserve || additional == &Value::Bool(true) => {}
                    None => {
                        map.remove(&key);
                        out.push(path.clone());
                    }
                }
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, &schema["items"], false, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_go_and_are_reported() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "a": {"type": "string"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "map": {"type": "object", "additionalProperties": {"type": "string"}},
                "list": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}}}}}});
        let mut obj = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "whatever": 1},
            "spec": {"a": "x", "foo": 1, "free": {"any": {"thing": 1}}, "map": {"k": "v"},
                "list": [{"n": 1, "m": 2}]}, "top": true});
        let dropped = prune(&mut obj, &schema);
        assert_eq!(dropped, ["spec.foo", "spec.list[0].m", "top"]);
        assert_eq!(obj["spec"]["free"]["any"]["thing"], 1);
        assert_eq!(obj["spec"]["map"]["k"], "v");
        assert_eq!(obj["metadata"]["whatever"], 1);
        assert_eq!(obj.get("top"), None);
    }
}
