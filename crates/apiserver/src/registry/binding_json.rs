//! A binding's rewrite of the stored pod, made on its JSON text: only `metadata`, `spec` and
//! `status` are split into members; every other member, and every member of those three the
//! binding does not touch, is copied as it was stored. Decoding the whole pod into a `Value`
//! and encoding it again was most of a binding's cost (~4 % of the scheduler bench's
//! stream, where every pod is bound once). The output is the bytes the decoding path writes
//! (members in sorted maps, as `serde_json::Map` keeps them). A pod whose `metadata`, `spec`
//! or `status` is not an object is left to the decoding path.

use super::stored_json::{Key, Members};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// One member of the rewritten pod.
#[derive(Serialize)]
#[serde(untagged)]
enum Member<'a> {
    /// As stored.
    Stored(&'a RawValue),
    /// Written by the binding.
    New(Box<RawValue>),
    /// An object whose members are kept apart (`metadata`, `spec`, `status`).
    Split(BTreeMap<Key<'a>, Member<'a>>),
}

type Split<'a> = BTreeMap<Key<'a>, Member<'a>>;

// Read from the stored bytes, a member is kept as it was stored.
impl<'de: 'a, 'a> Deserialize<'de> for Member<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(d).map(Member::Stored)
    }
}

/// The stored pod's members, `metadata`, `spec` and `status` split as they are read.
struct Parts<'a> {
    others: Members<'a>,
    metadata: Split<'a>,
    spec: Split<'a>,
    status: Split<'a>,
}

struct PodVisitor<'a>(PhantomData<Parts<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for PodVisitor<'a> {
    type Value = Parts<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a pod")
    }

    // A part that is not an object (`null` included) fails the whole parse: the decoding path
    // takes such a pod. A repeated member's last occurrence wins, as when decoding.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parts<'a>, A::Error> {
        let mut parts = Parts {
            others: Members::new(),
            metadata: Split::new(),
            spec: Split::new(),
            status: Split::new(),
        };
        while let Some(key) = map.next_key::<Key<'a>>()? {
            match &*key.0 {
                "metadata" => parts.metadata = map.next_value()?,
                "spec" => parts.spec = map.next_value()?,
                "status" => parts.status = map.next_value()?,
                _ => {
                    parts.others.insert(key, map.next_value()?);
                }
            }
        }
        Ok(parts)
    }
}

/// A stored pod split for a binding.
pub(super) struct SplitPod<'a> {
    /// The members other than the three below, as stored.
    others: Members<'a>,
    metadata: Split<'a>,
    /// `spec` and `status` are empty when the pod has none (or an empty one).
    spec: Split<'a>,
    status: Split<'a>,
    /// The stored pod's size: the bound pod is a little larger.
    stored_len: usize,
}

/// What a binding needs to know of the pod to refuse it (see `binding::refusal`).
pub(super) struct Facts {
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// Whether `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `spec.nodeName`, when not empty.
    pub node: Option<String>,
}

/// The objects a binding changes.
#[derive(Clone, Copy)]
enum Part {
    Metadata,
    Spec,
    Status,
}

impl<'a> SplitPod<'a> {
    /// The stored pod `bytes` split, or `None` when they are not an object whose `metadata`
    /// is an object and whose `spec` and `status` are objects where present. One pass: the
    /// three parts are split as they are read, not read whole and then again member by member.
    pub fn parse(bytes: &'a [u8]) -> Option<SplitPod<'a>> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parts = de.deserialize_map(PodVisitor(PhantomData)).ok()?;
        de.end().ok()?;
        // A pod without metadata is not one the decoding path's output could match.
        if parts.metadata.is_empty() {
            return None;
        }
        Some(SplitPod {
            others: parts.others,
            metadata: parts.metadata,
            spec: parts.spec,
            status: parts.status,
            stored_len: bytes.len(),
        })
    }

    /// The pod's UID, whether it is being deleted, and its node.
    pub fn facts(&self) -> Facts {
        let string = |part: Part, field: &str| {
            serde_json::from_value::<String>(self.stored(part, field)?).ok()
        };
        Facts {
            uid: string(Part::Metadata, "uid"),
            deleting: string(Part::Metadata, "deletionTimestamp").is_some(),
            node: string(Part::Spec, "nodeName").filter(|n| !n.is_empty()),
        }
    }

    /// Sets `spec.nodeName`.
    pub fn set_node(&mut self, node: &str) {
        self.set(Part::Spec, "nodeName", &Value::from(node));
    }

    /// Adds `extra` to `metadata.annotations` (made if missing; left alone when it is not
    /// an object, as the decoding path leaves it).
    pub fn add_annotations(&mut self, extra: &serde_json::Map<String, Value>) {
        let mut annotations = self
            .stored(Part::Metadata, "annotations")
            .unwrap_or_else(|| Value::Object(Default::default()));
        if let Some(map) = annotations.as_object_mut() {
            map.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            self.set(Part::Metadata, "annotations", &annotations);
        }
    }

    /// Rewrites `status.conditions` with `change` (given `null` when there are none).
    pub fn change_conditions(&mut self, change: impl FnOnce(&mut Value)) {
        let mut conditions = self
            .stored(Part::Status, "conditions")
            .unwrap_or(Value::Null);
        change(&mut conditions);
        self.set(Part::Status, "conditions", &conditions);
    }

    /// Drops `metadata.resourceVersion` (the store's revision says it).
    pub fn clear_resource_version(&mut self) {
        self.metadata.remove("resourceVersion");
    }

    /// The pod as JSON.
    pub fn encode(self) -> bytes::Bytes {
        let mut members: Split<'a> = self
            .others
            .into_iter()
            .map(|(k, v)| (k, Member::Stored(v)))
            .collect();
        members.insert(Key("metadata".into()), Member::Split(self.metadata));
        // `spec` and `status` were empty only when missing (a binding always fills them).
        for (name, split) in [("spec", self.spec), ("status", self.status)] {
            if !split.is_empty() {
                members.insert(Key(name.into()), Member::Split(split));
            }
        }
        // Sized once: growing a pod-sized buffer by doubling copied it several times, often
        // onto fresh pages.
        let mut out = Vec::with_capacity(self.stored_len + 256);
        if serde_json::to_writer(&mut out, &members).is_err() {
            out.clear();
        }
        bytes::Bytes::from(out)
    }

    fn part(&self, part: Part) -> &Split<'a> {
        match part {
            Part::Metadata => &self.metadata,
            Part::Spec => &self.spec,
            Part::Status => &self.status,
        }
    }

    fn part_mut(&mut self, part: Part) -> &mut Split<'a> {
        match part {
            Part::Metadata => &mut self.metadata,
            Part::Spec => &mut self.spec,
            Part::Status => &mut self.status,
        }
    }

    /// A member of `part` decoded, if it is there (and JSON).
    fn stored(&self, part: Part, field: &str) -> Option<Value> {
        let raw: &RawValue = match self.part(part).get(field)? {
            Member::Stored(raw) => raw,
            Member::New(raw) => raw,
            Member::Split(_) => return None,
        };
        serde_json::from_str(raw.get()).ok()
    }

    fn set(&mut self, part: Part, field: &str, value: &Value) {
        let Ok(raw) = serde_json::value::to_raw_value(value) else {
            return;
        };
        self.part_mut(part)
            .insert(Key(field.to_string().into()), Member::New(raw));
    }
}
