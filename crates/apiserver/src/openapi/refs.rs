//! `$ref` handling: which definitions a schema reaches, and rewriting reference prefixes.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Where references point in the version-neutral definitions (Swagger 2.0's place).
pub(crate) const V2_PREFIX: &str = "#/definitions/";
/// Where references point in OpenAPI 3.
pub(crate) const V3_PREFIX: &str = "#/components/schemas/";

/// Calls `f` with every `$ref` string inside `value`.
pub(crate) fn for_each_ref(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => f(r),
                    // Enum values, defaults and examples are data, not schemas.
                    ("enum" | "default" | "example", _) => {}
                    _ => for_each_ref(v, f),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| for_each_ref(v, f)),
        _ => {}
    }
}

/// The names of the definitions reachable from `roots` (the roots included), following
/// `#/definitions/` references through `definitions`. Unknown names are kept (so a caller can
/// report them) but not followed.
pub(crate) fn closure<'a>(
    definitions: &Map<String, Value>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = roots.into_iter().map(str::to_string).collect();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(def) = definitions.get(&name) {
            for_each_ref(def, &mut |r| {
                if let Some(next) = r.strip_prefix(V2_PREFIX)
                    && !seen.contains(next)
                {
                    stack.push(next.to_string());
                }
            });
        }
    }
    seen
}

/// Rewrites every `$ref` starting with `from` to start with `to` instead.
pub(crate) fn rewrite(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(rest) = r.strip_prefix(from) {
                            *r = format!("{to}{rest}");
                        }
                    }
                    ("enum" | "default" | "example", _) => {}
                    (_, v) => rewrite(v, from, to),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn closure_follows_refs_and_stops_on_cycles() {
        let defs = json!({
            "A": {"properties": {"b": {"$ref": "#/definitions/B"}}},
            "B": {"items": {"$ref": "#/definitions/A"}, "default": {"$ref": "#/definitions/C"}},
            "C": {},
        });
        let defs = defs.as_object().unwrap();
        let got: Vec<_> = closure(defs, ["A"]).into_iter().collect();
        assert_eq!(got, ["A", "B"]);
    }

    #[test]
    fn rewrite_changes_only_matching_refs() {
        let mut v = json!({"a": {"$ref": "#/definitions/X"}, "b": [{"$ref": "other"}]});
        rewrite(&mut v, V2_PREFIX, V3_PREFIX);
        assert_eq!(
            v,
            json!({"a": {"$ref": "#/components/schemas/X"}, "b": [{"$ref": "other"}]})
        );
    }
}
