//! A stored object written as JSON straight from its stored bytes, with its mod revision as
//! `metadata.resourceVersion`: as a list item (no selector, the stored version asked for, a
//! built-in resource), or as a whole object for a watch event. Decoding every object into a
//! `serde_json::Value` and serializing it again cost ~150 µs per pod, most of a large LIST;
//! here the members are copied as raw JSON text and only `metadata` is rebuilt.
//!
//! The output is the JSON the decoding path writes ([`crate::registry::decode_at`], then for
//! a list item `kind` and `apiVersion` removed): members sit in sorted maps, as
//! `serde_json::Map` keeps them (serde_json's `preserve_order` is off in this workspace), so
//! even their order is the same, and a repeated member's last occurrence wins, as when
//! decoding.

use rkube_api::status::ApiError;
use rkube_store::Revision;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// A member name, borrowed from the stored bytes unless it holds escapes.
#[derive(Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(transparent)]
pub(super) struct Key<'a>(#[serde(borrow)] pub(super) Cow<'a, str>);

// Lets the maps be searched by `&str` (`Key` orders as its text does).
impl Borrow<str> for Key<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// An object's members, each as its raw JSON text.
pub(super) type Members<'a> = BTreeMap<Key<'a>, &'a RawValue>;

/// A member of the item: copied from the stored bytes, or (`metadata`) rebuilt.
#[derive(Serialize)]
#[serde(untagged)]
enum Member<'a> {
    Copied(&'a RawValue),
    Rebuilt(Members<'a>),
}

/// The stored object read in one pass: its members as raw text, but `kind` and `apiVersion`
/// skipped and `metadata`'s own members split out (reading `metadata` as one raw value, then
/// again member by member, would scan it twice: with its managedFields it is about half of
/// a pod).
struct Stored<'a> {
    members: BTreeMap<Key<'a>, Member<'a>>,
    /// Empty when the object has no `metadata`, or one that is not an object: the decoding
    /// path then gives it one (`registry::meta::meta_mut`).
    metadata: Members<'a>,
}

/// Appends the stored object `bytes`, whose mod revision is `revision`, to `out` as a list
/// item: without `kind` and `apiVersion` (items of a list carry no type, as upstream sends
/// them), `metadata.resourceVersion` set to `revision`.
pub fn write_item(out: &mut Vec<u8>, bytes: &[u8], revision: Revision) -> Result<(), ApiError> {
    write(out, bytes, revision, false)
}

/// Appends the stored object `bytes`, whose mod revision is `revision`, to `out` whole (as a
/// watch event carries it), `metadata.resourceVersion` set to `revision`.
pub fn write_object(out: &mut Vec<u8>, bytes: &[u8], revision: Revision) -> Result<(), ApiError> {
    write(out, bytes, revision, true)
}

fn write(
    out: &mut Vec<u8>,
    bytes: &[u8],
    revision: Revision,
    keep_type: bool,
) -> Result<(), ApiError> {
    let resource_version = serde_json::value::to_raw_value(&revision.to_string())
        .map_err(|e| ApiError::internal(format!("encoding: {e}")))?;
    let not_json =
        |e: serde_json::Error| ApiError::internal(format!("stored object is not JSON: {e}"));
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let Stored {
        mut members,
        mut metadata,
    } = de
        .deserialize_map(StoredVisitor {
            keep_type,
            _stored: PhantomData,
        })
        .map_err(not_json)?;
    de.end().map_err(not_json)?;
    metadata.insert(Key("resourceVersion".into()), &resource_version);
    members.insert(Key("metadata".into()), Member::Rebuilt(metadata));
    serde_json::to_writer(out, &members).map_err(|e| ApiError::internal(format!("encoding: {e}")))
}

struct StoredVisitor<'a> {
    /// Keep `kind` and `apiVersion` (a whole object) rather than skip them (a list item).
    keep_type: bool,
    _stored: PhantomData<Stored<'a>>,
}

impl<'de: 'a, 'a> Visitor<'de> for StoredVisitor<'a> {
    type Value = Stored<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stored<'a>, A::Error> {
        let mut stored = Stored {
            members: BTreeMap::new(),
            metadata: Members::new(),
        };
        // A repeated member's last occurrence wins, as when decoding into a `Value`.
        while let Some(key) = map.next_key::<Key<'a>>()? {
            match &*key.0 {
                "kind" | "apiVersion" if !self.keep_type => {
                    map.next_value::<IgnoredAny>()?;
                }
                "metadata" => stored.metadata = map.next_value::<Metadata>()?.0,
                _ => {
                    let value = map.next_value()?;
                    stored.members.insert(key, Member::Copied(value));
                }
            }
        }
        Ok(stored)
    }
}

/// `metadata`'s members, none when it is not an object.
struct Metadata<'a>(Members<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Metadata<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MetadataVisitor(PhantomData))
    }
}

struct MetadataVisitor<'a>(PhantomData<Metadata<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for MetadataVisitor<'a> {
    type Value = Metadata<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Metadata<'a>, A::Error> {
        let mut members = Members::new();
        while let Some((key, value)) = map.next_entry()? {
            members.insert(key, value);
        }
        Ok(Metadata(members))
    }

    // Anything else is read (the bytes must still be JSON) and replaced by an empty object.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Metadata<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Metadata(Members::new()))
    }

    fn visit_unit<E>(self) -> Result<Metadata<'a>, E> {
        Ok(Metadata(Members::new()))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Metadata<'a>, E> {
        Ok(Metadata(Members::new()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Metadata<'a>, E> {
        Ok(Metadata(Members::new()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Metadata<'a>, E> {
        Ok(Metadata(Members::new()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Metadata<'a>, E> {
        Ok(Metadata(Members::new()))
    }

    fn visit_str<E>(self, _: &str) -> Result<Metadata<'a>, E> {
        Ok(Metadata(Members::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The item the decoding path writes for `stored` at `revision`.
    fn decoded_item(stored: &[u8], revision: Revision) -> Vec<u8> {
        let mut obj = crate::registry::decode_at(stored, revision).unwrap();
        let m = obj.as_object_mut().unwrap();
        m.remove("kind");
        m.remove("apiVersion");
        serde_json::to_vec(&obj).unwrap()
    }

    fn raw_item(stored: &[u8], revision: Revision) -> Vec<u8> {
        let mut out = Vec::new();
        write_item(&mut out, stored, revision).unwrap();
        out
    }

    fn parsed(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    /// Whether `serde_json::Map` sorts its keys (no `preserve_order`): then both paths write
    /// the same bytes, not only the same JSON.
    fn maps_sort() -> bool {
        let m: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        m.as_object().unwrap().keys().next().map(String::as_str) == Some("a")
    }

    /// Checks `stored` at `revision` comes out as the decoding path writes it; the item.
    fn same_as_decoded(stored: &[u8], revision: Revision) -> Value {
        let (raw, decoded) = (raw_item(stored, revision), decoded_item(stored, revision));
        assert_eq!(parsed(&raw), parsed(&decoded));
        if maps_sort() {
            assert_eq!(
                String::from_utf8_lossy(&raw),
                String::from_utf8_lossy(&decoded)
            );
        }
        parsed(&raw)
    }

    /// A pod as the registry stores it (serialized from a `Value`), with nested objects and
    /// lists, numbers, booleans, nulls, unicode and strings that need escapes.
    fn stored_pod() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-0", "namespace": "default", "uid": "6f1c-…",
                "resourceVersion": "7",
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "labels": {"app": "web", "tier": "frontend ✓"},
                "annotations": {"note": "line 1\nline 2\t\"quoted\" \\ back\u{1}slash",
                    "emoji": "🚀 ünïcødé 日本語"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "u", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {}}}}}],
                "finalizers": []
            },
            "spec": {
                "containers": [{"name": "web", "image": "nginx:1.25",
                    "args": ["--flag=a b", "--json={\"k\":1}"],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
                "terminationGracePeriodSeconds": 30,
                "priority": -5,
                "overhead": null,
                "hostNetwork": false
            },
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                "ratio": 0.25}
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_comes_out_as_the_decoding_path_writes_it() {
        let item = same_as_decoded(&stored_pod(), 1234);
        assert_eq!(item["metadata"]["resourceVersion"], "1234");
        assert!(item.get("kind").is_none() && item.get("apiVersion").is_none());
        assert_eq!(
            item["metadata"]["annotations"]["emoji"],
            "🚀 ünïcødé 日本語"
        );
        assert_eq!(item["spec"]["containers"][0]["args"][1], "--json={\"k\":1}");
    }

    #[test]
    fn the_resource_version_is_replaced_or_added() {
        let replaced = same_as_decoded(
            br#"{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"3"},"data":{}}"#,
            42,
        );
        assert_eq!(
            replaced,
            json!({"metadata": {"name": "a", "resourceVersion": "42"}, "data": {}})
        );
        let added = same_as_decoded(br#"{"metadata":{"name":"a"},"data":{"x":"y"}}"#, 9);
        assert_eq!(
            added,
            json!({"metadata": {"name": "a", "resourceVersion": "9"}, "data": {"x": "y"}})
        );
    }

    #[test]
    fn a_missing_or_odd_metadata_becomes_one_with_the_resource_version() {
        for stored in [
            &br#"{"kind":"X","spec":{"a":1}}"#[..],
            br#"{"metadata":null,"spec":{"a":1}}"#,
            br#"{"metadata":"name","spec":{"a":1}}"#,
            br#"{"metadata":[1,{"name":"n"},[]],"spec":{"a":1}}"#,
            br#"{"metadata":true,"spec":{"a":1}}"#,
            br#"{"metadata":-3.5e2,"spec":{"a":1}}"#,
            br#"{"metadata":{"name":"n"},"spec":{"a":1},"metadata":7}"#,
        ] {
            let item = same_as_decoded(stored, 5);
            assert_eq!(
                item,
                json!({"metadata": {"resourceVersion": "5"}, "spec": {"a": 1}})
            );
        }
    }

    #[test]
    fn whitespace_escaped_names_and_repeated_members_read_as_when_decoding() {
        // Not what the registry writes, but valid JSON: the same item as decoding gives.
        let stored = br#" { "kin\u0064" : "Pod", "spec" : { "a" : [ 1 , 2 ] },
            "metadata" : { "name" : "n", "resourceVersion" : "1", "resourceVersion" : "2" },
            "spec" : { "b" : "\u00e9" } } "#;
        let item = raw_item(stored, 8);
        assert_eq!(parsed(&item), parsed(&decoded_item(stored, 8)));
        assert_eq!(
            parsed(&item),
            json!({"metadata": {"name": "n", "resourceVersion": "8"}, "spec": {"b": "é"}})
        );
    }

    #[test]
    fn names_without_escapes_are_borrowed_not_copied() {
        let plain: Key = serde_json::from_str(r#""name""#).unwrap();
        assert!(matches!(plain.0, Cow::Borrowed("name")));
        let escaped: Key = serde_json::from_str(r#""n\u0061me""#).unwrap();
        assert_eq!(escaped.0, "name");
    }

    #[test]
    fn bytes_that_are_not_a_json_object_are_an_internal_error() {
        for stored in [
            &b"not json"[..],
            b"",
            b"[1,2]",
            b"\"pod\"",
            b"{\"a\":1",
            b"{} x",
        ] {
            let mut out = Vec::new();
            let err = write_item(&mut out, stored, 1).unwrap_err();
            assert_eq!(err.code, 500, "{}", String::from_utf8_lossy(stored));
            assert!(
                err.message.contains(": stored object is not JSON: "),
                "{}",
                err.message
            );
        }
    }
}
