//! Value validation of a custom object against its version's structural schema, with the
//! causes upstream's OpenAPI validator reports (`spec.replicas: Invalid value: "string":
//! spec.replicas in body must be of type integer: "string"`).

use super::flag;
use rkube_api::status::FieldCause;
use serde_json::Value;

/// The causes for `value` (the whole object) against `schema`.
pub fn validate(value: &Value, schema: &Value) -> Vec<FieldCause> {
    let mut errs = Vec::new();
    if let Some(map) = value.as_object() {
        // The root's apiVersion, kind and metadata are the server's.
        for (key, v) in map {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(sub) = super::property(schema, key) {
                node(v, sub, key, &mut errs);
            }
        }
        required(map, schema, "", &mut errs);
    }
    errs
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_invalid(path: &str, v: &Value, want: &str) -> FieldCause {
    let got = type_name(v);
    FieldCause {
        reason: "FieldValueTypeInvalid",
        field: path.to_string(),
        message: format!(
            "Invalid value: \"{got}\": {path} in body must be of type {want}: \"{got}\""
        ),
    }
}

fn invalid(path: &str, v: &Value, detail: String) -> FieldCause {
    FieldCause::invalid(path, v, format!("{path} in body {detail}"))
}

/// A schema bound as upstream prints it (`0`, not `0.0`: typed decoding makes bounds floats).
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn required(
    map: &serde_json::Map<String, Value>,
    schema: &Value,
    path: &str,
    errs: &mut Vec<FieldCause>,
) {
    for r in schema["required"].as_array().into_iter().flatten() {
        if let Some(r) = r.as_str()
            && !map.contains_key(r)
        {
            errs.push(FieldCause::required(child(path, r)));
        }
    }
}

fn node(v: &Value, schema: &Value, path: &str, errs: &mut Vec<FieldCause>) {
    if v.is_null() {
        if !flag(schema, "nullable") {
            let want = schema["type"].as_str().unwrap_or("");
            if !want.is_empty() {
                errs.push(type_invalid(path, v, want));
            }
        }
        return;
    }
    let want = schema["type"].as_str().unwrap_or("");
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            errs.push(type_invalid(path, v, "integer,string"));
            return;
        }
    } else if !want.is_empty() {
        let ok = match want {
            "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "number" => v.is_number(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        };
        if !ok {
            errs.push(type_invalid(path, v, want));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        errs.push(FieldCause {
            reason: "FieldValueNotSupported",
            field: path.to_string(),
            message: format!(
                "Unsupported value: {}: supported values: {}",
                v,
                list.join(", ")
            ),
        });
    }
    match v {
        Value::Number(n) => number(n.as_f64().unwrap_or(0.0), v, schema, path, errs),
        Value::String(s) => string(s, v, schema, path, errs),
        Value::Array(items) => array(items, v, schema, path, errs),
        Value::Object(map) => object(map, v, schema, path, errs),
        _ => {}
    }
}

fn number(n: f64, v: &Value, schema: &Value, path: &str, errs: &mut Vec<FieldCause>) {
    let excl = |k: &str| flag(schema, k);
    if let Some(min) = schema["minimum"].as_f64() {
        if excl("exclusiveMinimum") && n <= min {
            errs.push(invalid(
                path,
                v,
                format!("should be greater than {}", num(&schema["minimum"])),
            ));
        } else if n < min {
            errs.push(invalid(
                path,
                v,
                format!(
                    "should be greater than or equal to {}",
                    num(&schema["minimum"])
                ),
            ));
        }
    }
    if let Some(max) = schema["maximum"].as_f64() {
        if excl("exclusiveMaximum") && n >= max {
            errs.push(invalid(
                path,
                v,
                format!("should be less than {}", num(&schema["maximum"])),
            ));
        } else if n > max {
            errs.push(invalid(
                path,
                v,
                format!(
                    "should be less than or equal to {}",
                    num(&schema["maximum"])
                ),
            ));
        }
    }
    if let Some(m) = schema["multipleOf"].as_f64()
        && m > 0.0
        && (n / m).fract() != 0.0
    {
        errs.push(invalid(
            path,
            v,
            format!("should be a multiple of {}", num(&schema["multipleOf"])),
        ));
    }
    match schema["format"].as_str() {
        Some("int32") if n < i32::MIN as f64 || n > i32::MAX as f64 => {
            errs.push(invalid(path, v, "must be of type int32".to_string()));
        }
        _ => {}
    }
}

fn string(s: &str, v: &Value, schema: &Value, path: &str, errs: &mut Vec<FieldCause>) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema["maxLength"].as_u64()
        && len > max
    {
        errs.push(FieldCause {
            reason: "FieldValueTooLong",
            field: path.to_string(),
            message: format!("Too long: may not be more than {max} bytes"),
        });
    }
    if let Some(min) = schema["minLength"].as_u64()
        && len < min
    {
        errs.push(invalid(
            path,
            v,
            format!("should be at least {min} chars long"),
        ));
    }
    if let Some(p) = schema["pattern"].as_str() {
        match regex::Regex::new(p) {
            Ok(re) if !re.is_match(s) => {
                errs.push(invalid(path, v, format!("should match '{p}'")));
            }
            _ => {}
        }
    }
    let format_ok = match schema["format"].as_str() {
        Some("date-time") => s.parse::<jiff::Timestamp>().is_ok(),
        Some("date") => s.parse::<jiff::civil::Date>().is_ok(),
        Some("int-or-string") | None => true,
        Some(_) => true,
    };
    if !format_ok {
        let format = schema["format"].as_str().unwrap_or("");
        errs.push(invalid(path, v, format!("must be of type {format}: {v}")));
    }
}

fn array(items: &[Value], v: &Value, schema: &Value, path: &str, errs: &mut Vec<FieldCause>) {
    let n = items.len() as u64;
    if let Some(max) = schema["maxItems"].as_u64()
        && n > max
    {
        errs.push(FieldCause {
            reason: "FieldValueTooMany",
            field: path.to_string(),
            message: format!("Too many: {n}: must have at most {max} items"),
        });
    }
    if let Some(min) = schema["minItems"].as_u64()
        && n < min
    {
        errs.push(invalid(
            path,
            v,
            format!("should have at least {min} items"),
        ));
    }
    let set = schema["x-kubernetes-list-type"] == "set";
    if schema["uniqueItems"] == true || set {
        for (i, item) in items.iter().enumerate() {
            if items[..i].contains(item) {
                errs.push(FieldCause::duplicate(format!("{path}[{i}]"), item));
            }
        }
    }
    if schema["items"].is_object() {
        for (i, item) in items.iter().enumerate() {
            node(item, &schema["items"], &format!("{path}[{i}]"), errs);
        }
    }
}

fn object(
    map: &serde_json::Map<String, Value>,
    v: &Value,
    schema: &Value,
    path: &str,
    errs: &mut Vec<FieldCause>,
) {
    let n = map.len() as u64;
    if let Some(max) = schema["maxProperties"].as_u64()
        && n > max
    {
        errs.push(FieldCause {
            reason: "FieldValueTooMany",
            field: path.to_string(),
            message: format!("Too many: {n}: must have at most {max} items"),
        });
    }
    if let Some(min) = schema["minProperties"].as_u64()
        && n < min
    {
        errs.push(invalid(
            path,
            v,
            format!("should have at least {min} properties"),
        ));
    }
    if flag(schema, "x-kubernetes-embedded-resource") {
        for key in ["apiVersion", "kind"] {
            if map
                .get(key)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                errs.push(FieldCause::required_detail(
                    child(path, key),
                    "must not be empty",
                ));
            }
        }
    }
    required(map, schema, path, errs);
    for (key, sub_value) in map {
        let Some(sub) = super::property(schema, key) else {
            continue;
        };
        node(sub_value, sub, &child(path, key), errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "integer", "minimum": 1, "maximum": 10},
            "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1},
            "color": {"type": "string", "enum": ["red", "blue"]},
            "name": {"type": "string", "maxLength": 5, "minLength": 2, "pattern": "^[a-z]+$"},
            "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
            "port": {"x-kubernetes-int-or-string": true},
            "when": {"type": "string", "format": "date-time"},
            "maybe": {"type": "string", "nullable": true},
            "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}}}}}})
    }

    fn check(spec: Value) -> Vec<String> {
        validate(
            &json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}, "spec": spec}),
            &schema(),
        )
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect()
    }

    #[test]
    fn a_valid_object_passes() {
        let ok = check(
            json!({"size": 3, "ratio": 0.5, "color": "red", "name": "abc",
            "tags": ["a"], "port": "http", "when": "2024-01-01T00:00:00Z", "maybe": null,
            "labels": {"a": "b"}}),
        );
        assert_eq!(ok, Vec::<String>::new());
        assert_eq!(check(json!({"size": 3, "port": 80})), Vec::<String>::new());
    }

    #[test]
    fn causes_read_like_upstreams() {
        assert_eq!(
            check(json!({"size": "string"})),
            [
                "spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
            ]
        );
        assert_eq!(check(json!({})), ["spec.size: Required value"]);
        let errs = check(
            json!({"size": 0, "ratio": 1, "color": "pink", "name": "ABCDEFG",
            "tags": ["a", "b", "c"], "port": true, "when": "yesterday", "labels": {"a": "1", "b": "2"}}),
        );
        for want in [
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
            "spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1",
            "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
            "spec.name: Too long: may not be more than 5 bytes",
            "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'",
            "spec.tags: Too many: 3: must have at most 2 items",
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            "spec.labels: Too many: 2: must have at most 1 items",
        ] {
            assert!(
                errs.contains(&want.to_string()),
                "{want} missing from {errs:#?}"
            );
        }
        assert!(
            errs.iter()
                .any(|e| e.starts_with("spec.when: Invalid value"))
        );
        assert_eq!(
            check(json!({"size": 11}))[0],
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"
        );
    }
}
