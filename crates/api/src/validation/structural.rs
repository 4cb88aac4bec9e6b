//! Whether a CRD version's `openAPIV3Schema` is *structural*, as `apiextensions.k8s.io/v1`
//! requires: every node says its type (unless it is `x-kubernetes-int-or-string` or keeps
//! unknown fields), the root is an object, arrays say their items, and properties and
//! additionalProperties are not mixed. Messages follow upstream's structural-schema errors.

use super::{Errors, Path};
use crate::status::FieldCause;
use serde_json::Value;

const TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// Where a node sits, for the missing-type message.
#[derive(Clone, Copy)]
enum Place {
    Field,
    Item,
}

/// Problems of the schema at `path` (the `openAPIV3Schema` of one version).
pub fn validate(schema: &Value, path: &Path, _status_enabled: bool) -> Errors {
    let mut errs = Vec::new();
    match schema["type"].as_str().unwrap_or("") {
        "" => errs.push(FieldCause::required_detail(
            path.child("type"),
            "must not be empty at the root",
        )),
        "object" => {}
        _ => errs.push(FieldCause::invalid(
            path.child("type"),
            &schema["type"],
            "must be object at the root",
        )),
    }
    children(schema, path, &mut errs);
    if let Some(meta) = schema["properties"]["metadata"].as_object()
        && let Some(props) = meta.get("properties").and_then(Value::as_object)
        && props.keys().any(|k| k != "name" && k != "generateName")
    {
        errs.push(FieldCause::forbidden(
            path.child("properties").key("metadata"),
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
    errs
}

fn node(s: &Value, path: &Path, place: Place, errs: &mut Errors) {
    let Some(map) = s.as_object() else {
        errs.push(FieldCause::invalid(
            path.as_str(),
            s,
            "must be a schema object",
        ));
        return;
    };
    let flag = |k: &str| map.get(k).and_then(Value::as_bool).unwrap_or(false);
    let ty = map.get("type").and_then(Value::as_str).unwrap_or("");
    if ty.is_empty() {
        if !flag("x-kubernetes-int-or-string") && !flag("x-kubernetes-preserve-unknown-fields") {
            let what = match place {
                Place::Field => "must not be empty for specified object fields",
                Place::Item => "must not be empty for specified array items",
            };
            errs.push(FieldCause::required_detail(path.child("type"), what));
        }
    } else if !TYPES.contains(&ty) {
        errs.push(FieldCause::not_supported(
            path.child("type"),
            &map["type"],
            TYPES,
        ));
    }
    children(s, path, errs);
}

/// The checks of one node's own keywords and its sub-schemas.
fn children(s: &Value, path: &Path, errs: &mut Errors) {
    let ty = s["type"].as_str().unwrap_or("");
    if ty == "array" && s.get("items").is_none() {
        errs.push(FieldCause::required_detail(
            path.child("items"),
            "must be specified",
        ));
    }
    if s["uniqueItems"] == true {
        errs.push(FieldCause::forbidden(
            path.child("uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let has_props = s["properties"].as_object().is_some_and(|p| !p.is_empty());
    match &s["additionalProperties"] {
        Value::Object(_) if has_props => errs.push(FieldCause::forbidden(
            path.child("additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        )),
        Value::Bool(false) if has_props => errs.push(FieldCause::forbidden(
            path.child("additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        )),
        v @ Value::Object(_) => node(v, &path.child("additionalProperties"), Place::Field, errs),
        _ => {}
    }
    if let Some(props) = s["properties"].as_object() {
        for (k, v) in props {
            node(v, &path.child("properties").key(k), Place::Field, errs);
        }
    }
    if let Some(items) = s.get("items") {
        node(items, &path.child("items"), Place::Item, errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value) -> Vec<String> {
        validate(&schema, &Path::new("s"), false)
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn missing_types_are_named_by_place() {
        let errs = check(json!({"type": "object", "properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "list": {"type": "array", "items": {}},
            "n": {"x-kubernetes-int-or-string": true},
            "free": {"x-kubernetes-preserve-unknown-fields": true}}}));
        assert_eq!(
            errs,
            [
                "s.properties[list].items.type: Required value: must not be empty for specified array items",
                "s.properties[spec].type: Required value: must not be empty for specified object fields",
            ]
        );
    }

    #[test]
    fn root_and_arrays() {
        assert_eq!(
            check(json!({"type": "string"})),
            ["s.type: Invalid value: \"string\": must be object at the root"]
        );
        assert_eq!(
            check(json!({"type": "object", "properties": {"l": {"type": "array"}}})),
            ["s.properties[l].items: Required value: must be specified"]
        );
    }
}
