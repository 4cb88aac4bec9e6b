//! The order of a merged list: the patch's items (or those of `$setElementOrder`) in the
//! patch's order, interleaved with the server-only items at their places in the live list.

use serde_json::Value;

use super::super::PatchError;
use super::super::json::same;
use super::list::key_of;

/// An item's identity: its merge key's value for objects, itself for scalars.
fn identity<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(k) => item.get(k),
        None => Some(item),
    }
}

fn position(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let id = identity(item, key)?;
    list.iter()
        .position(|x| identity(x, key).is_some_and(|v| same(v, id)))
}

/// Sorts `patch_items` by `patch_order` and `server_only` by `server_order`, then interleaves
/// them: a server-only item goes before a patch item when it came before it in the live list.
pub(super) fn normalize(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    patch_items.sort_by_key(|item| position(patch_order, item, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position(server_order, item, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!(
                (position(server_order, l, key), position(server_order, r, key)),
                (Some(li), Some(ri)) if li < ri
            ),
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Orders `merged` by a `$setElementOrder` list.
pub(super) fn by_set_order(
    merged: Vec<Value>,
    order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if let Some(k) = key {
        for item in merged.iter().chain(order) {
            if item.is_object() {
                key_of(item, k)?;
            }
        }
    }
    let (listed, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(order, item, key).is_some());
    Ok(normalize(listed, server_only, order, server_order, key))
}

/// The patch's items (other than deletions) must appear in the `$setElementOrder` list, in the
/// same relative order.
pub(super) fn check_subsequence(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
) -> Result<(), PatchError> {
    let mut at = 0;
    for item in patch {
        if item.get(super::DIRECTIVE).is_some() {
            continue;
        }
        match order[at..].iter().position(
            |o| matches!((identity(o, key), identity(item, key)), (Some(a), Some(b)) if same(a, b)),
        ) {
            Some(i) => at += i + 1,
            None => {
                return Err(PatchError::malformed(format!(
                    "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}",
                    Value::Array(patch.to_vec()),
                    Value::Array(order.to_vec())
                )));
            }
        }
    }
    Ok(())
}
