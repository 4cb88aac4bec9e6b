//! The `Update` bookkeeping of a write (create excepted) on the stored `managedFields` as
//! they are: the same result as [`ManagedFields::for_update`] then
//! [`ManagedFields::update`], but only the entries the write's changes touch are decoded
//! and re-encoded. Most writes (a status update, a controller's spec update) touch the
//! writer's own entry and leave the others' alone, and decoding every entry's field tree
//! on every write was most of what `managedFields` cost.

use super::managers::{Entry, MAX_UPDATE_MANAGERS, ManagedFields, Operation, Write};
use super::walk::compare;
use serde_json::Value;

/// Records the update by `w.manager` from `old` to `new` in `new`'s `managedFields`.
pub fn record_update(old: &Value, new: &mut Value, w: &Write) {
    if !incremental(old, new, w) {
        let mut managed = ManagedFields::for_update(old, new, w.subresource);
        managed.update(Some(old), new, w);
        managed.write_to(new);
    }
}

fn managed_fields(obj: &Value) -> Option<&Value> {
    obj.get("metadata")?.get("managedFields")
}

/// The incremental path; false (with `new` untouched) when the write needs the full one:
/// the client sent entries of its own, stored entries do not decode or repeat a manager,
/// or the cap on update entries comes into play.
fn incremental(old: &Value, new: &mut Value, w: &Write) -> bool {
    let stored = managed_fields(old);
    let sent = managed_fields(new);
    // Upstream starts from the stored entries unless the client replaced them.
    if w.subresource.is_empty() && sent.is_some() && sent != stored {
        return false;
    }
    let items: &[Value] = match stored {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(_) => return false,
    };
    let Ok(headers) = items
        .iter()
        .map(Entry::decode_header)
        .collect::<Result<Vec<_>, _>>()
    else {
        return false;
    };
    for (i, a) in headers.iter().enumerate() {
        if headers[..i].iter().any(|b| a.same_manager(b)) {
            return false;
        }
    }
    let mut cmp = compare(old, new, w.definition);
    cmp.map_sets(|s| w.filter(s));
    let mut changed = cmp.added;
    changed.union_with(&cmp.modified);
    let removed = cmp.removed;
    if changed.is_empty() && removed.is_empty() {
        // Nothing the write owns changed: the stored entries stand as they are.
        let stored = stored.cloned();
        set_entries(new, stored.filter(|_| !items.is_empty()));
        return true;
    }

    let mine = w.entry(Operation::Update);
    let mut out: Vec<(Entry, Value)> = Vec::with_capacity(items.len() + 1);
    let mut own = None;
    for (header, raw) in headers.into_iter().zip(items) {
        let fields = raw.get("fieldsV1").filter(|v| !v.is_null());
        let untouched = fields.is_some_and(|f| {
            f.as_object().is_some_and(|m| !m.is_empty())
                && !changed.intersects_fields_v1(f)
                && !removed.intersects_fields_v1(f)
        });
        if header.same_manager(&mine) {
            own = Some(raw);
        } else if untouched {
            out.push((header, raw.clone()));
        } else {
            let Ok(mut entry) = Entry::decode(raw) else {
                return false;
            };
            entry.fields = entry.fields.difference(&removed).difference(&changed);
            if !entry.fields.is_empty() {
                let encoded = entry.encode();
                out.push((entry, encoded));
            }
        }
    }
    let mut entry = match own {
        Some(raw) => match Entry::decode(raw) {
            Ok(entry) => entry,
            Err(_) => return false,
        },
        None => mine,
    };
    entry.fields = entry.fields.difference(&removed).difference(&changed);
    if !changed.is_empty() {
        entry.fields.union_with(&changed);
        entry.time = Some(w.time.to_string());
    }
    if !entry.fields.is_empty() {
        let encoded = entry.encode();
        out.push((entry, encoded));
    }
    let updaters = out
        .iter()
        .filter(|(e, _)| e.operation == Operation::Update)
        .count();
    if updaters > MAX_UPDATE_MANAGERS {
        return false;
    }
    out.sort_by(|(a, _), (b, _)| a.order().cmp(&b.order()));
    let list: Vec<Value> = out.into_iter().map(|(_, raw)| raw).collect();
    set_entries(new, (!list.is_empty()).then_some(Value::Array(list)));
    true
}

/// Stores `entries` as `obj`'s `managedFields` (removes the field for `None`).
fn set_entries(obj: &mut Value, entries: Option<Value>) {
    let Some(meta) = obj
        .as_object_mut()
        .map(|o| {
            o.entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()))
        })
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    match entries {
        Some(entries) => {
            meta.insert("managedFields".into(), entries);
        }
        None => {
            meta.remove("managedFields");
        }
    }
}
