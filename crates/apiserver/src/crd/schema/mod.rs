//! What a CRD version's structural schema does to custom objects: [`default`] fills `default`s,
//! [`prune`] drops fields the schema does not know (reporting them for `fieldValidation`),
//! [`validate`] checks the value rules (types, bounds, patterns, enums…) with upstream's field
//! causes. Schemas are the CRD's `openAPIV3Schema` as JSON; nodes are read on the fly.

pub mod default;
pub mod prune;
pub mod validate;

use serde_json::Value;

/// A schema flag such as `x-kubernetes-preserve-unknown-fields`.
pub(crate) fn flag(schema: &Value, key: &str) -> bool {
    schema[key].as_bool().unwrap_or(false)
}

/// The schema of property `key` of an object node: its `properties` entry, else its
/// `additionalProperties` schema.
pub(crate) fn property<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    schema["properties"].get(key).or_else(|| {
        schema["additionalProperties"]
            .as_object()
            .map(|_| &schema["additionalProperties"])
    })
}
