//! Field sets: which fields of an object someone owns, as a tree of path elements (upstream's
//! `fieldpath.Set`), with set algebra and the `FieldsV1` JSON encoding stored in
//! `managedFields` (`{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},…}}}}`).

use super::sorted_map::SortedMap;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// One step of a path. The variant order is upstream's order of path elements.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A struct field or map key (`f:name`).
    Field(String),
    /// An associative-list item by its key fields, as a JSON object with sorted keys
    /// (`k:{"name":"c"}`).
    Key(String),
    /// A set item by its value, as JSON (`v:"x"`).
    Value(String),
    /// A list item by position (`i:0`), for lists without keys.
    Index(usize),
}

impl PathElement {
    /// The `FieldsV1` key of this element.
    fn encode(&self) -> String {
        // Every field of every create is encoded: two pushes, not `format!`.
        let (prefix, text) = match self {
            PathElement::Field(name) => ("f:", name),
            PathElement::Key(key) => ("k:", key),
            PathElement::Value(value) => ("v:", value),
            PathElement::Index(i) => return format!("i:{i}"),
        };
        let mut out = String::with_capacity(prefix.len() + text.len());
        out.push_str(prefix);
        out.push_str(text);
        out
    }

    /// Parses a `FieldsV1` key; `None` for one of unknown form.
    fn decode(key: &str) -> Option<PathElement> {
        let (kind, rest) = key.split_at_checked(2)?;
        match kind {
            "f:" => Some(PathElement::Field(rest.to_string())),
            // Re-serialized so equal keys compare equal whatever their spelling.
            "k:" => serde_json::from_str::<Value>(rest)
                .ok()
                .filter(Value::is_object)
                .map(|v| PathElement::Key(v.to_string())),
            "v:" => serde_json::from_str::<Value>(rest)
                .ok()
                .map(|v| PathElement::Value(v.to_string())),
            "i:" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }

    /// Writes the element as upstream prints paths (`.spec`, `[name="c"]`, `[="x"]`, `[0]`).
    fn write_display(&self, out: &mut String) {
        match self {
            PathElement::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            PathElement::Key(key) => {
                out.push('[');
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(key) {
                    let parts: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    out.push_str(&parts.join(","));
                }
                out.push(']');
            }
            PathElement::Value(value) => {
                let _ = write!(out, "[={value}]");
            }
            PathElement::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<PathElement>;

/// Upstream's rendering of a path, e.g. `.spec.template.spec.containers[name="c"].image`.
pub fn display(path: &[PathElement]) -> String {
    let mut out = String::new();
    for element in path {
        element.write_display(&mut out);
    }
    out
}

/// A set of paths, as a tree: a node is a *member* when its path itself is in the set; its
/// children hold the longer paths. Empty children are never kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: SortedMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Whether no path is in the set.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Whether the node's own path is in the set.
    pub fn is_member(&self) -> bool {
        self.member
    }

    /// The subtree under `element`, if any path goes through it.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    /// The subtree under `element`, created when missing (callers must not leave it empty:
    /// [`FieldSet::prune_empty`] restores the invariant).
    pub(crate) fn child_mut(&mut self, element: PathElement) -> &mut FieldSet {
        self.children.get_or_default(element)
    }

    /// Marks this node's own path as in the set.
    pub(crate) fn set_member(&mut self, member: bool) {
        self.member = member;
    }

    /// Makes every node of the tree a member (how comparisons record whole added or
    /// removed subtrees).
    pub(crate) fn mark_all(&mut self) {
        self.member = true;
        for child in self.children.values_mut() {
            child.mark_all();
        }
    }

    /// Inserts `path`.
    pub fn insert(&mut self, path: &[PathElement]) {
        let mut node = self;
        for element in path {
            node = node.child_mut(element.clone());
        }
        node.member = true;
    }

    /// Whether `path` is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        let mut node = self;
        for element in path {
            match node.children.get(element) {
                Some(child) => node = child,
                None => return false,
            }
        }
        node.member
    }

    /// Removes exactly `path` (not the paths under it).
    pub fn remove(&mut self, path: &[PathElement]) {
        fn go(node: &mut FieldSet, path: &[PathElement]) {
            match path.split_first() {
                None => node.member = false,
                Some((first, rest)) => {
                    if let Some(child) = node.children.get_mut(first) {
                        go(child, rest);
                        if child.is_empty() {
                            node.children.remove(first);
                        }
                    }
                }
            }
        }
        go(self, path);
    }

    /// Removes `element` and everything under it.
    pub fn remove_subtree(&mut self, element: &PathElement) {
        self.children.remove(element);
    }

    /// Drops empty children (after building with [`FieldSet::child_mut`]).
    pub(crate) fn prune_empty(&mut self) {
        self.children.retain(|_, child| {
            child.prune_empty();
            !child.is_empty()
        });
    }

    /// Adds every path of `other`.
    pub fn union_with(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, theirs) in other.children.iter() {
            self.children
                .get_or_default(element.clone())
                .union_with(theirs);
        }
    }

    /// The paths of `self` not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: SortedMap::default(),
        };
        for (element, mine) in self.children.iter() {
            let child = match other.children.get(element) {
                Some(theirs) => mine.difference(theirs),
                None => mine.clone(),
            };
            if !child.is_empty() {
                out.children.insert(element.clone(), child);
            }
        }
        out
    }

    /// The paths in both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: SortedMap::default(),
        };
        for (element, mine) in self.children.iter() {
            if let Some(theirs) = other.children.get(element) {
                let child = mine.intersection(theirs);
                if !child.is_empty() {
                    out.children.insert(element.clone(), child);
                }
            }
        }
        out
    }

    /// Every path in the set, in upstream's order (depth first, elements sorted).
    pub fn paths(&self) -> Vec<Path> {
        fn go(node: &FieldSet, prefix: &mut Path, out: &mut Vec<Path>) {
            if node.member {
                out.push(prefix.clone());
            }
            for (element, child) in node.children.iter() {
                prefix.push(element.clone());
                go(child, prefix, out);
                prefix.pop();
            }
        }
        let mut out = Vec::new();
        go(self, &mut Vec::new(), &mut out);
        out
    }

    /// Whether any path of `self` is in the set `fields_v1` encodes, read from the encoding
    /// itself (so an entry a write does not touch need not be decoded). Unreadable
    /// encodings count as intersecting: the caller decodes them and reports the error.
    pub fn intersects_fields_v1(&self, fields_v1: &Value) -> bool {
        let Some(map) = fields_v1.as_object() else {
            return true;
        };
        for (element, mine) in self.children.iter() {
            let theirs = map.get(&element.encode()).or_else(|| match element {
                // Another spelling of the same key (`k:{"b":1,"a":2}`, extra spaces).
                PathElement::Key(_) | PathElement::Value(_) => map
                    .iter()
                    .find(|(k, _)| PathElement::decode(k).as_ref() == Some(element))
                    .map(|(_, v)| v),
                _ => None,
            });
            let Some(theirs) = theirs else { continue };
            let Some(theirs_map) = theirs.as_object() else {
                return true;
            };
            let member = theirs_map.is_empty() || theirs_map.contains_key(".");
            if mine.member && member || mine.intersects_fields_v1(theirs) {
                return true;
            }
        }
        false
    }

    /// The `FieldsV1` encoding.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in self.children.iter() {
            map.insert(element.encode(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Decodes `FieldsV1` (the root is never a member).
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let mut set = decode_node(value)?;
        set.member = false;
        set.prune_empty();
        Ok(set)
    }
}

fn decode_node(value: &Value) -> Result<FieldSet, String> {
    let map = value
        .as_object()
        .ok_or_else(|| format!("FieldsV1 entries must be objects, not {value}"))?;
    let mut node = FieldSet {
        // A leaf (`{}`) is a member; so is a node with a `.` entry.
        member: map.is_empty() || map.contains_key("."),
        children: SortedMap::default(),
    };
    for (key, child) in map {
        if key == "." {
            continue;
        }
        let element =
            PathElement::decode(key).ok_or_else(|| format!("invalid FieldsV1 key {key:?}"))?;
        node.children.insert(element, decode_node(child)?);
    }
    Ok(node)
}
