//! Kubernetes strategic merge patch: a JSON merge patch whose lists merge by the strategy of
//! their field (items matched by the field's merge key, scalar lists merged as sets) and whose
//! maps may carry directives: `$patch: replace|delete|merge`, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`. `null` deletes a field.
//! Fields of unknown definitions merge as JSON merge patch does (maps merged, lists replaced).

mod list;
mod order;

use serde_json::{Map, Value};

use super::PatchError;
use super::json::type_name;
use super::schema::{self, FieldMeta};

/// The directive key of a map: `$patch`.
pub const DIRECTIVE: &str = "$patch";
/// `$retainKeys`: the keys the map keeps; all others are cleared.
pub const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>`: the order of the field's list after the merge.
pub const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
/// `$deleteFromPrimitiveList/<field>`: scalars removed from the field's list.
pub const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies the strategic merge patch `patch` to `original`, an object of the built-in
/// definition `definition` (e.g. `io.k8s.api.core.v1.Pod`).
pub fn apply(original: &Value, patch: &Value, definition: &str) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::malformed(format!(
            "a strategic merge patch must be a JSON object, not {}",
            type_name(patch)
        )));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    match merge_map(original, patch, Some(definition))? {
        Merged::Map(map) => Ok(Value::Object(map)),
        Merged::Deleted => Err(PatchError::does_not_apply(
            "a strategic merge patch cannot delete the whole object",
        )),
    }
}

/// What merging into a map gave.
enum Merged {
    Map(Map<String, Value>),
    /// The patch said `$patch: delete`.
    Deleted,
}

fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    definition: Option<&str>,
) -> Result<Merged, PatchError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                rest.remove(DIRECTIVE);
                return merge_map(Map::new(), &rest, definition);
            }
            Some("delete") => return Ok(Merged::Deleted),
            // The default, said explicitly.
            Some("merge") => {}
            _ => return Err(bad_patch_type(directive, patch)),
        }
    }
    retain_keys(&mut original, patch)?;
    let mut done = Vec::new();
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            set_element_order(&mut original, patch, field, order, definition)?;
            done.push(field);
        }
    }
    for (key, value) in patch {
        if key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            delete_from_primitive_list(&mut original, field, value)?;
            continue;
        }
        if done.contains(&key.as_str()) {
            continue;
        }
        if value.is_null() {
            original.remove(key);
            continue;
        }
        let meta = schema::lookup(definition, key);
        match merge_value(original.remove(key), value, &meta)? {
            Some(merged) => original.insert(key.clone(), merged),
            None => None,
        };
    }
    Ok(Merged::Map(original))
}

/// Merges one field's patch value into its current value (`None` when absent); `None` out
/// when the field goes away.
fn merge_value(
    current: Option<Value>,
    patch: &Value,
    meta: &FieldMeta,
) -> Result<Option<Value>, PatchError> {
    match (current, patch) {
        (Some(Value::Object(current)), Value::Object(patch)) if !meta.replace => {
            // An existing map told `$patch: delete` becomes empty, as upstream.
            Ok(Some(match merge_map(current, patch, meta.target)? {
                Merged::Map(map) => Value::Object(map),
                Merged::Deleted => Value::Object(Map::new()),
            }))
        }
        (Some(Value::Array(current)), Value::Array(patch)) if meta.merge => {
            list::merge(current, patch, meta).map(|l| Some(Value::Array(l)))
        }
        (Some(Value::Array(_)), Value::Array(patch)) => Ok(Some(Value::Array(patch.clone()))),
        // Absent, of another type, or replaced: the patch's value, its directives applied.
        (_, Value::Object(patch)) => Ok(match merge_map(Map::new(), patch, meta.target)? {
            Merged::Map(map) => Some(Value::Object(map)),
            Merged::Deleted => None,
        }),
        (_, Value::Array(patch)) if meta.merge => {
            list::merge(Vec::new(), patch, meta).map(|l| Some(Value::Array(l)))
        }
        (_, other) => Ok(Some(other.clone())),
    }
}

/// `$retainKeys`: clears the keys of `original` not listed; every key the patch sets must be
/// listed.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(keys) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || PatchError::malformed("invalid patch format of retainKeys");
    let keys = keys.as_array().ok_or_else(bad)?;
    let listed = |k: &str| keys.iter().any(|x| x.as_str() == Some(k));
    for (k, v) in patch {
        if v.is_null()
            || k.starts_with('$') && (k == DIRECTIVE || k == RETAIN_KEYS || k.contains('/'))
        {
            continue;
        }
        if !listed(k) {
            return Err(bad());
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$deleteFromPrimitiveList/<field>`: removes the listed scalars from the field's list.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    doomed: &Value,
) -> Result<(), PatchError> {
    let doomed = doomed
        .as_array()
        .ok_or_else(|| PatchError::malformed("invalid patch format of primitive list"))?;
    if let Some(Value::Array(items)) = original.get_mut(field) {
        items.retain(|item| !doomed.iter().any(|d| super::json::same(d, item)));
    }
    Ok(())
}

/// `$setElementOrder/<field>`: merges the field's list (if the patch has one) and orders the
/// result: the listed items in the listed order, the server's others kept where they were.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    field: &str,
    order: &Value,
    definition: Option<&str>,
) -> Result<(), PatchError> {
    let bad = || PatchError::malformed("invalid patch format of setElementOrder list");
    let order = order.as_array().ok_or_else(bad)?;
    let meta = schema::lookup(definition, field);
    let current = match original.remove(field) {
        Some(Value::Array(items)) => Some(items),
        Some(other) => {
            original.insert(field.to_string(), other);
            return Err(bad());
        }
        None => None,
    };
    let patch_list = match patch.get(field) {
        Some(Value::Array(items)) => Some(items),
        Some(_) => return Err(bad()),
        None => None,
    };
    if let Some(patch_list) = patch_list {
        order::check_subsequence(patch_list, order, meta.merge_key)?;
    }
    let server_order = current.clone().unwrap_or_default();
    let merged = match (current, patch_list) {
        (None, None) => return Ok(()),
        (Some(current), None) => current,
        (None, Some(patch_list)) => list::merge(Vec::new(), patch_list, &meta)?,
        (Some(current), Some(patch_list)) if meta.merge => list::merge(current, patch_list, &meta)?,
        (Some(_), Some(patch_list)) => patch_list.clone(),
    };
    let ordered = order::by_set_order(merged, order, &server_order, meta.merge_key)?;
    original.insert(field.to_string(), Value::Array(ordered));
    Ok(())
}

fn bad_patch_type(directive: &Value, patch: &Map<String, Value>) -> PatchError {
    PatchError::malformed(format!(
        "unknown patch type: {directive} in map: {}",
        Value::Object(patch.clone())
    ))
}
