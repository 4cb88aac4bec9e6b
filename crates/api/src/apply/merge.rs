//! Merging an applied configuration into the live object, and pruning the fields an applier
//! stopped applying (structured-merge-diff's merge and remove): objects merge field by field,
//! associative lists item by item (live order, new items appended), sets by value, atomic
//! values are replaced.

use super::set::{FieldSet, PathElement};
use super::walk::{Info, ListType, info, item_element};
use serde_json::{Map, Value};

/// `live` with `config` merged in (both objects of `def`).
pub fn merge(live: &Value, config: &Value, def: Option<&str>) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) => Value::Object(merge_objects(l, c, def)),
        _ => config.clone(),
    }
}

fn merge_objects(
    live: &Map<String, Value>,
    config: &Map<String, Value>,
    def: Option<&str>,
) -> Map<String, Value> {
    let mut out = live.clone();
    for (key, value) in config {
        if value.is_null() {
            // An applied null owns the field and leaves it unset.
            out.remove(key);
            continue;
        }
        let merged = match out.get(key) {
            Some(current) => merge_values(current, value, &info(def, key)),
            None => value.clone(),
        };
        out.insert(key.clone(), merged);
    }
    out
}

fn merge_values(live: &Value, config: &Value, info: &Info) -> Value {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) if !info.atomic => {
            Value::Object(merge_objects(l, c, info.def))
        }
        (Value::Array(l), Value::Array(c)) if info.list != ListType::Atomic => {
            Value::Array(merge_lists(l, c, info))
        }
        _ => config.clone(),
    }
}

fn merge_lists(live: &[Value], config: &[Value], info: &Info) -> Vec<Value> {
    let config_keys: Vec<PathElement> = config
        .iter()
        .enumerate()
        .map(|(i, item)| item_element(info.list, i, item))
        .collect();
    let mut seen = vec![false; config.len()];
    let mut out = Vec::with_capacity(live.len() + config.len());
    for (i, item) in live.iter().enumerate() {
        let element = item_element(info.list, i, item);
        match config_keys.iter().position(|k| *k == element) {
            Some(j) => {
                seen[j] = true;
                out.push(match (item, &config[j]) {
                    (Value::Object(l), Value::Object(c)) if info.list != ListType::Set => {
                        Value::Object(merge_objects(l, c, info.def))
                    }
                    (_, c) => c.clone(),
                });
            }
            None => out.push(item.clone()),
        }
    }
    for (j, item) in config.iter().enumerate() {
        if !seen[j] && !config_keys[..j].contains(&config_keys[j]) {
            out.push(item.clone());
        }
    }
    out
}

/// Removes from `obj` the fields in `remove` (members of the set), unless `keep` (what
/// anyone still owns) holds a path beneath them. Objects and lists the removal empties go
/// too, as the typed object would drop them.
pub fn prune(obj: &mut Value, remove: &FieldSet, keep: &FieldSet, def: Option<&str>) {
    if let Value::Object(map) = obj {
        prune_object(map, remove, Some(keep), def);
    }
}

fn prune_object(
    map: &mut Map<String, Value>,
    remove: &FieldSet,
    keep: Option<&FieldSet>,
    def: Option<&str>,
) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let element = PathElement::Field(key.clone());
        let Some(sub) = remove.child(&element) else {
            continue;
        };
        let kept = keep.and_then(|k| k.child(&element));
        if sub.is_member() && kept.is_none_or(FieldSet::is_empty) {
            map.remove(&key);
            continue;
        }
        let info = info(def, &key);
        if let Some(value) = map.get_mut(&key)
            && prune_value(value, sub, kept, &info)
        {
            map.remove(&key);
        }
    }
}

/// Prunes inside one value; true when that emptied it.
fn prune_value(value: &mut Value, remove: &FieldSet, keep: Option<&FieldSet>, info: &Info) -> bool {
    match value {
        Value::Object(map) if !map.is_empty() => {
            prune_object(map, remove, keep, info.def);
            map.is_empty()
        }
        Value::Array(items) if !items.is_empty() && info.list != ListType::Atomic => {
            let list = info.list;
            let mut index = 0;
            items.retain_mut(|item| {
                let element = item_element(list, index, item);
                index += 1;
                let Some(sub) = remove.child(&element) else {
                    return true;
                };
                let kept = keep.and_then(|k| k.child(&element));
                if sub.is_member() && kept.is_none_or(FieldSet::is_empty) {
                    return false;
                }
                if let Value::Object(map) = item {
                    prune_object(map, sub, kept, info.def);
                }
                true
            });
            items.is_empty()
        }
        _ => false,
    }
}
