//! RFC 6902 JSON patch: a list of `add`, `remove`, `replace`, `move`, `copy` and `test`
//! operations applied in order, all or nothing.

use serde_json::{Map, Value};

use super::{PatchError, pointer};

/// Most operations one patch may carry (upstream's limit).
pub const MAX_OPERATIONS: usize = 10_000;

/// A decoded JSON patch: the operation objects, interpreted when applied (as upstream does, an
/// unknown `op` is a patch that does not apply rather than a malformed document).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPatch(Vec<Map<String, Value>>);

impl JsonPatch {
    /// Checks the document is a list of objects of at most [`MAX_OPERATIONS`].
    pub fn parse(doc: &Value) -> Result<JsonPatch, PatchError> {
        let Value::Array(items) = doc else {
            return Err(PatchError::malformed(format!(
                "a JSON patch must be a list of operations, not {}",
                type_name(doc)
            )));
        };
        if items.len() > MAX_OPERATIONS {
            return Err(PatchError::TooManyOperations {
                max: MAX_OPERATIONS,
                got: items.len(),
            });
        }
        items
            .iter()
            .map(|item| match item {
                Value::Object(op) => Ok(op.clone()),
                other => Err(PatchError::malformed(format!(
                    "a JSON patch operation must be an object, not {}",
                    type_name(other)
                ))),
            })
            .collect::<Result<_, _>>()
            .map(JsonPatch)
    }

    /// Applies every operation to a copy of `doc`; the first failing one fails the patch.
    pub fn apply(&self, doc: &Value) -> Result<Value, PatchError> {
        let mut out = doc.clone();
        for op in &self.0 {
            apply_one(&mut out, op)?;
        }
        Ok(out)
    }
}

fn apply_one(doc: &mut Value, op: &Map<String, Value>) -> Result<(), PatchError> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
    let path = || {
        op.get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::does_not_apply(format!("{kind} operation missing path")))
    };
    // Upstream's library reads a missing `value` as null.
    let value = || op.get("value").cloned().unwrap_or(Value::Null);
    let from = || {
        op.get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::does_not_apply(format!("{kind} operation missing from")))
    };
    match kind {
        "add" => add(doc, path()?, value()),
        "remove" => remove(doc, path()?).map(drop),
        "replace" => {
            let path = path()?;
            let target = get_mut(doc, path).ok_or_else(|| {
                PatchError::does_not_apply(format!(
                    "replace operation does not apply: doc is missing key: {path}"
                ))
            })?;
            *target = value();
            Ok(())
        }
        "move" => {
            let (from, path) = (from()?, path()?);
            if path.starts_with(from) && path[from.len()..].starts_with('/') {
                return Err(PatchError::does_not_apply(format!(
                    "move operation does not apply: from {from} is a prefix of path {path}"
                )));
            }
            let moved = remove(doc, from).map_err(|_| missing_from("move", from))?;
            add(doc, path, moved)
        }
        "copy" => {
            let from = from()?;
            let copied = get_mut(doc, from)
                .map(|v| v.clone())
                .ok_or_else(|| missing_from("copy", from))?;
            add(doc, path()?, copied)
        }
        "test" => {
            let path = path()?;
            match get_mut(doc, path) {
                Some(actual) if same(actual, &value()) => Ok(()),
                _ => Err(PatchError::does_not_apply(format!(
                    "testing value {path} failed: test failed"
                ))),
            }
        }
        other => Err(PatchError::does_not_apply(format!(
            "Unexpected kind: {other}"
        ))),
    }
}

fn missing_from(kind: &str, from: &str) -> PatchError {
    PatchError::does_not_apply(format!(
        "{kind} operation does not apply: doc is missing from path: {from}"
    ))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    let mut tokens = pointer::parse(path)?;
    let Some(last) = tokens.pop() else {
        *doc = value;
        return Ok(());
    };
    let missing = || {
        PatchError::does_not_apply(format!(
            "add operation does not apply: doc is missing path: {path:?}"
        ))
    };
    match walk(doc, &tokens).ok_or_else(missing)? {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(items) => {
            let i = if last == "-" {
                items.len()
            } else {
                pointer::index(&last, items.len(), true)?
            };
            items.insert(i, value);
            Ok(())
        }
        _ => Err(missing()),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, PatchError> {
    let mut tokens = pointer::parse(path)?;
    let missing =
        || PatchError::does_not_apply(format!("Unable to remove nonexistent key: {path}"));
    let last = tokens.pop().ok_or_else(missing)?;
    match walk(doc, &tokens).ok_or_else(missing)? {
        Value::Object(map) => map.remove(&last).ok_or_else(missing),
        Value::Array(items) => {
            let i = pointer::index(&last, items.len(), false)?;
            Ok(items.remove(i))
        }
        _ => Err(missing()),
    }
}

fn get_mut<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    walk(doc, &pointer::parse(path).ok()?)
}

fn walk<'a>(mut doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    for token in tokens {
        doc = match doc {
            Value::Object(map) => map.get_mut(token)?,
            Value::Array(items) => {
                let i = pointer::index(token, items.len(), false).ok()?;
                items.get_mut(i)?
            }
            _ => return None,
        };
    }
    Some(doc)
}

/// JSON equality with numbers compared by value (`1` equals `1.0`), as Go's decoder sees them.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
