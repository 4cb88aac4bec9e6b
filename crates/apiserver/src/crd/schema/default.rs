//! Schema defaulting, as upstream's structural defaulting: inside every object that is present,
//! a property with a `default` that is absent (or null while not nullable) gets the default,
//! and defaults apply again inside what they filled in.

use super::property;
use serde_json::Value;

/// Fills the defaults `schema` declares into `value`.
pub fn apply(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                for (key, sub) in props {
                    let Some(default) = sub.get("default") else {
                        continue;
                    };
                    let missing = match map.get(key) {
                        None => true,
                        Some(Value::Null) => !super::flag(sub, "nullable"),
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(key.clone(), default.clone());
                    }
                }
            }
            for (key, v) in map.iter_mut() {
                if let Some(sub) = property(schema, key) {
                    apply(v, sub);
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for item in items {
                apply(item, &schema["items"]);
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
    fn defaults_fill_absent_fields_in_present_objects() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "replicas": {"type": "integer", "default": 1},
                "mode": {"type": "string", "default": "fast"},
                "ports": {"type": "array", "items": {"type": "object", "properties": {
                    "protocol": {"type": "string", "default": "TCP"}}}},
                "nested": {"type": "object", "default": {}, "properties": {
                    "on": {"type": "boolean", "default": true}}}}},
            "status": {"type": "object", "properties": {"x": {"type": "string", "default": "y"}}}}});
        let mut obj = json!({"spec": {"mode": "slow", "ports": [{"port": 1}]}});
        apply(&mut obj, &schema);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["spec"]["mode"], "slow");
        assert_eq!(obj["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(obj["spec"]["nested"], json!({"on": true}));
        assert_eq!(obj.get("status"), None, "absent objects stay absent");
    }
}
