//! How an object's fields map to a [`FieldSet`], with the schema facts of the built-in types
//! (`patch::schema`): lists with a merge key are associative (items by key), merge lists
//! without one are sets of scalars, every other list and `replace` field is atomic (owned
//! whole). [`extract`] gives the set of fields an object sets; [`compare`] what changed
//! between two objects. Both are one walk over the objects.

use super::set::{FieldSet, PathElement};
use crate::patch::schema;
use serde_json::{Map, Value};

/// How a list field's items are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListType {
    /// Owned whole.
    Atomic,
    /// Scalars, each owned by its value.
    Set,
    /// Objects, each owned by its key fields (a second key field when upstream has one).
    Map(&'static str, Option<&'static str>),
}

/// What the schema says of one field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Info<'a> {
    /// The definition of the field's values (items for lists), if known.
    pub def: Option<&'a str>,
    /// How its lists merge.
    pub list: ListType,
    /// Whether an object value is owned whole.
    pub atomic: bool,
}

/// `x-kubernetes-list-map-keys` with more keys than the strategic merge key.
const EXTRA_KEYS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.Container", "ports", "protocol"),
    ("io.k8s.api.core.v1.EphemeralContainer", "ports", "protocol"),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "protocol"),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "whenUnsatisfiable",
    ),
];

/// The facts of `field` of `def`.
pub(crate) fn info<'a>(def: Option<&'a str>, field: &str) -> Info<'a> {
    let meta = schema::lookup(def, field);
    let list = match (meta.merge, meta.merge_key) {
        (true, Some(key)) => {
            let extra = EXTRA_KEYS
                .iter()
                .find(|(d, f, _)| Some(*d) == def && *f == field)
                .map(|(_, _, k)| *k);
            ListType::Map(key, extra)
        }
        (true, None) => ListType::Set,
        _ => ListType::Atomic,
    };
    Info {
        def: meta.target,
        list,
        atomic: meta.replace,
    }
}

/// The path element of a list item: its key fields (`protocol` defaults to TCP as upstream's
/// schema says), or its position when it has none.
pub(crate) fn item_element(list: ListType, index: usize, item: &Value) -> PathElement {
    match list {
        ListType::Set => PathElement::Value(item.to_string()),
        ListType::Map(key, extra) => {
            let mut fields = Map::new();
            for name in std::iter::once(key).chain(extra) {
                match item.get(name) {
                    Some(v) if !v.is_null() => {
                        fields.insert(name.to_string(), v.clone());
                    }
                    _ if name == "protocol" => {
                        fields.insert(name.to_string(), "TCP".into());
                    }
                    _ => {}
                }
            }
            if fields.is_empty() {
                PathElement::Index(index)
            } else {
                PathElement::Key(Value::Object(fields).to_string())
            }
        }
        ListType::Atomic => PathElement::Index(index),
    }
}

/// Fields never tracked under the root's `metadata`.
fn skipped(root: bool, key: &str) -> bool {
    root && key == "managedFields"
}

/// The set of fields `obj` (an object of `def`) sets. `metadata.managedFields` is left out.
pub fn extract(obj: &Value, def: Option<&str>) -> FieldSet {
    let mut set = FieldSet::new();
    if let Some(map) = obj.as_object() {
        object_set(map, def, &mut set, true);
    }
    set.prune_empty();
    set
}

/// Adds the fields of `map` to `node`. `root` marks the object's root, whose `metadata`
/// skips `managedFields`.
fn object_set(map: &Map<String, Value>, def: Option<&str>, node: &mut FieldSet, root: bool) {
    for (key, value) in map {
        let child = node.child_mut(PathElement::Field(key.clone()));
        let info = info(def, key);
        if root
            && key == "metadata"
            && let Some(meta) = value.as_object()
        {
            for (k, v) in meta {
                if !skipped(true, k) {
                    let grandchild = child.child_mut(PathElement::Field(k.clone()));
                    value_set(v, &self::info(info.def, k), grandchild);
                }
            }
            continue;
        }
        value_set(value, &info, child);
    }
}

/// Adds the fields of one field's value to its node (upstream's rules: scalars, nulls,
/// empty objects and atomic values are members; list items are members with their fields
/// beneath; objects are only their fields).
pub(crate) fn value_set(value: &Value, info: &Info, node: &mut FieldSet) {
    match value {
        Value::Object(map) if !info.atomic && !map.is_empty() => {
            object_set(map, info.def, node, false);
        }
        Value::Array(items) if info.list != ListType::Atomic => {
            for (i, item) in items.iter().enumerate() {
                let child = node.child_mut(item_element(info.list, i, item));
                child.set_member(true);
                if let (ListType::Map(..), Value::Object(map)) = (info.list, item) {
                    object_set(map, info.def, child, false);
                }
            }
        }
        _ => node.set_member(true),
    }
}

/// What changed from one object to another.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Paths only in the new object.
    pub added: FieldSet,
    /// Paths in both with another value.
    pub modified: FieldSet,
    /// Paths only in the old object.
    pub removed: FieldSet,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// Applies `f` to each of the three sets.
    pub fn map_sets(&mut self, f: impl Fn(&mut FieldSet)) {
        f(&mut self.added);
        f(&mut self.modified);
        f(&mut self.removed);
    }
}

/// What changed from `old` to `new` (objects of `def`); `metadata.managedFields` is left out.
/// As upstream, every node of an added or removed subtree is in the result (so a map a
/// write creates is owned with its keys: `{"f:labels":{".":{},"f:app":{}}}`).
pub fn compare(old: &Value, new: &Value, def: Option<&str>) -> Comparison {
    let mut out = Comparison::default();
    let empty = Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let new_map = new.as_object().unwrap_or(&empty);
    let mut nodes = Nodes {
        added: &mut out.added,
        modified: &mut out.modified,
        removed: &mut out.removed,
    };
    compare_objects(old_map, new_map, def, &mut nodes, Level::Root);
    out.map_sets(FieldSet::prune_empty);
    out
}

/// The three result sets at the current path.
struct Nodes<'s> {
    added: &'s mut FieldSet,
    modified: &'s mut FieldSet,
    removed: &'s mut FieldSet,
}

impl Nodes<'_> {
    fn child(&mut self, element: &PathElement) -> Nodes<'_> {
        Nodes {
            added: self.added.child_mut(element.clone()),
            modified: self.modified.child_mut(element.clone()),
            removed: self.removed.child_mut(element.clone()),
        }
    }
}

/// Where in the object a map being compared is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The object itself.
    Root,
    /// The root's `metadata`, whose `managedFields` is never compared.
    RootMetadata,
    /// Anywhere else.
    Nested,
}

fn compare_objects(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    def: Option<&str>,
    nodes: &mut Nodes,
    level: Level,
) {
    let root = level == Level::Root;
    for (key, old_value) in old {
        if level == Level::RootMetadata && skipped(true, key) {
            continue;
        }
        let new_value = new.get(key);
        // Unchanged subtrees are most of an update: skipped before any node is made.
        if new_value == Some(old_value) {
            continue;
        }
        let element = PathElement::Field(key.clone());
        let info = info(def, key);
        let mut child = nodes.child(&element);
        match new_value {
            Some(new_value) if root && key == "metadata" => {
                let empty = Map::new();
                let om = old_value.as_object().unwrap_or(&empty);
                let nm = new_value.as_object().unwrap_or(&empty);
                compare_objects(om, nm, info.def, &mut child, Level::RootMetadata);
            }
            Some(new_value) => compare_values(old_value, new_value, &info, &mut child),
            None if root && key == "metadata" => {
                let mut meta = old_value.clone();
                if let Some(m) = meta.as_object_mut() {
                    m.remove("managedFields");
                }
                value_set(&meta, &info, child.removed);
                child.removed.mark_all();
            }
            None => {
                value_set(old_value, &info, child.removed);
                child.removed.mark_all();
            }
        }
    }
    for (key, new_value) in new {
        if old.contains_key(key) || level == Level::RootMetadata && skipped(true, key) {
            continue;
        }
        let info = info(def, key);
        // Only the added set gets a node (a create adds every field).
        let added = nodes.added.child_mut(PathElement::Field(key.clone()));
        if root && key == "metadata" {
            let mut meta = new_value.clone();
            if let Some(m) = meta.as_object_mut() {
                m.remove("managedFields");
            }
            value_set(&meta, &info, added);
        } else {
            value_set(new_value, &info, added);
        }
        added.mark_all();
    }
}

fn compare_values(old: &Value, new: &Value, info: &Info, nodes: &mut Nodes) {
    match (old, new) {
        (Value::Object(om), Value::Object(nm))
            if !(info.atomic || om.is_empty() && nm.is_empty()) =>
        {
            compare_objects(om, nm, info.def, nodes, Level::Nested);
            if nm.is_empty() {
                nodes.added.set_member(true);
            } else if om.is_empty() {
                nodes.removed.set_member(true);
            }
        }
        (Value::Array(oi), Value::Array(ni)) if info.list != ListType::Atomic => {
            compare_lists(oi, ni, info, nodes);
        }
        _ if old != new => nodes.modified.set_member(true),
        _ => {}
    }
}

fn compare_lists(old: &[Value], new: &[Value], info: &Info, nodes: &mut Nodes) {
    let keyed = |items: &[Value]| -> Vec<(PathElement, usize)> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| (item_element(info.list, i, item), i))
            .collect()
    };
    let old_keys = keyed(old);
    let new_keys = keyed(new);
    let find = |keys: &[(PathElement, usize)], e: &PathElement| {
        keys.iter().find(|(k, _)| k == e).map(|(_, i)| *i)
    };
    let item_info = Info {
        def: info.def,
        list: ListType::Atomic,
        atomic: false,
    };
    for (element, i) in &old_keys {
        let found = find(&new_keys, element);
        if found.is_some_and(|j| old[*i] == new[j]) {
            continue;
        }
        let mut child = nodes.child(element);
        match found {
            Some(j) => match (&old[*i], &new[j]) {
                (Value::Object(om), Value::Object(nm)) if info.list != ListType::Set => {
                    compare_objects(om, nm, info.def, &mut child, Level::Nested);
                }
                (a, b) if a != b => child.modified.set_member(true),
                _ => {}
            },
            None => {
                if info.list != ListType::Set {
                    value_set(&old[*i], &item_info, child.removed);
                }
                child.removed.mark_all();
            }
        }
    }
    for (element, j) in &new_keys {
        if find(&old_keys, element).is_some() {
            continue;
        }
        let child = nodes.added.child_mut(element.clone());
        if info.list != ListType::Set {
            value_set(&new[*j], &item_info, child);
        }
        child.mark_all();
    }
}
