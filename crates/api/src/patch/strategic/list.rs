//! Merging a list whose field has the `merge` strategy: scalars as a set, objects item by item
//! by the field's merge key, with `$patch: delete|replace` items.

use serde_json::{Map, Value};

use super::super::PatchError;
use super::super::json::same;
use super::super::schema::FieldMeta;
use super::{DIRECTIVE, Merged, merge_map, order};

/// The merge of `patch` into `current`, ordered as upstream orders it: the patch's items in
/// the patch's order, the server's others kept where they were.
pub(super) fn merge(
    current: Vec<Value>,
    patch: &[Value],
    meta: &FieldMeta,
) -> Result<Vec<Value>, PatchError> {
    if current.is_empty() && patch.is_empty() {
        return Ok(current);
    }
    if element_kind(&current, patch)? != "object" {
        return Ok(merge_scalars(current, patch));
    }
    let key = meta.merge_key.ok_or_else(|| {
        PatchError::does_not_apply("cannot merge lists without merge key for type struct")
    })?;
    let (mut current, patch) = match special_items(current, patch, key)? {
        Special::Replace(items) => return clean_all(&items, meta),
        Special::Merge(current, rest) => (current, rest),
    };
    let server_order = current.clone();
    for item in &patch {
        let value = key_of(item, key)?;
        let found = current
            .iter()
            .position(|c| c.get(key).is_some_and(|v| same(v, value)));
        let Value::Object(item) = item else {
            continue;
        };
        match found {
            Some(i) => {
                let Value::Object(existing) = std::mem::take(&mut current[i]) else {
                    return Err(not_a_map(&current[i]));
                };
                current[i] = match merge_map(existing, item, meta.target)? {
                    Merged::Map(map) => Value::Object(map),
                    Merged::Deleted => Value::Object(Map::new()),
                };
            }
            None => {
                if let Merged::Map(map) = merge_map(Map::new(), item, meta.target)? {
                    current.push(Value::Object(map));
                }
            }
        }
    }
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) = current.into_iter().partition(|c| {
        c.get(key)
            .is_some_and(|v| patch.iter().any(|p| p.get(key).is_some_and(|w| same(v, w))))
    });
    Ok(order::normalize(
        in_patch,
        server_only,
        &patch,
        &server_order,
        Some(key),
    ))
}

/// Scalars: the union, without duplicates, in upstream's order.
fn merge_scalars(current: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::with_capacity(current.len() + patch.len());
    for item in current.iter().chain(patch) {
        if !merged.iter().any(|m| same(m, item)) {
            merged.push(item.clone());
        }
    }
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|m| patch.iter().any(|p| same(m, p)));
    order::normalize(in_patch, server_only, patch, &current, None)
}

/// The common kind of every item; lists of lists and mixed lists cannot merge.
fn element_kind(current: &[Value], patch: &[Value]) -> Result<&'static str, PatchError> {
    let mut kind = None;
    for item in current.iter().chain(patch) {
        let k = match item {
            Value::Array(_) => {
                return Err(PatchError::does_not_apply(
                    "lists of lists are not supported",
                ));
            }
            Value::Object(_) => "object",
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::Null => "null",
        };
        match kind {
            None => kind = Some(k),
            Some(seen) if seen != k => {
                return Err(PatchError::does_not_apply(format!(
                    "list element types are not identical: {} and {}",
                    Value::Array(current.to_vec()),
                    Value::Array(patch.to_vec())
                )));
            }
            Some(_) => {}
        }
    }
    Ok(kind.unwrap_or("object"))
}

enum Special {
    /// `$patch: replace`: the list becomes these items.
    Replace(Vec<Value>),
    /// The current list with `$patch: delete` items removed, and the patch's plain items.
    Merge(Vec<Value>, Vec<Value>),
}

fn special_items(
    mut current: Vec<Value>,
    patch: &[Value],
    key: &str,
) -> Result<Special, PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = item else {
            return Err(not_a_map(item));
        };
        match map.get(DIRECTIVE) {
            None => plain.push(item.clone()),
            Some(d) if d == "delete" => {
                let value = key_of(item, key)?;
                current.retain(|c| !c.get(key).is_some_and(|v| same(v, value)));
            }
            Some(d) if d == "replace" => replace = true,
            Some(d) if d == "merge" => {
                return Err(PatchError::does_not_apply(
                    "merging lists cannot yet be specified in the patch",
                ));
            }
            Some(d) => return Err(super::bad_patch_type(d, map)),
        }
    }
    Ok(if replace {
        Special::Replace(plain)
    } else {
        Special::Merge(current, plain)
    })
}

fn clean_all(items: &[Value], meta: &FieldMeta) -> Result<Vec<Value>, PatchError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Value::Object(map) = item
            && let Merged::Map(map) = merge_map(Map::new(), map, meta.target)?
        {
            out.push(Value::Object(map));
        }
    }
    Ok(out)
}

/// The merge key's value of a list item.
pub(super) fn key_of<'a>(item: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    match item {
        Value::Object(map) => map.get(key).ok_or_else(|| {
            PatchError::does_not_apply(format!(
                "map: {item} does not contain declared merge key: {key}"
            ))
        }),
        other => Err(not_a_map(other)),
    }
}

fn not_a_map(item: &Value) -> PatchError {
    PatchError::does_not_apply(format!(
        "expected a map, but received {}: {item}",
        super::super::json::type_name(item)
    ))
}
