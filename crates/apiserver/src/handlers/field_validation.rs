//! The parts of `fieldValidation` that need the raw body or a type the registry does not
//! decode: fields repeated within one JSON object (which a parsed `Value` has already
//! collapsed to the last), and the `Scale` of the `scale` subresource. As upstream, `Warn`
//! turns each problem into a warning (`duplicate field "data.a"`, `unknown field "spec.x"`),
//! `Strict` refuses the request with all of them in document order, `Ignore` keeps quiet;
//! a repeated field keeps its last value.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::{self, Write as _};

use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::registry::FieldValidation;

/// Most problems reported for one body (upstream's decoder stops collecting at 100).
const MAX_PROBLEMS: usize = 100;

/// One field problem and where in the document it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    /// How many object keys came before it.
    position: usize,
    /// `duplicate field "…"` or `unknown field "…"`.
    text: String,
}

/// Walks a JSON document recording the path of every repeated key; with `targets`, also
/// the position of the first key at each of those paths.
struct Walk<'t> {
    path: String,
    keys_seen: usize,
    duplicates: Vec<Problem>,
    targets: Option<&'t HashSet<String>>,
    found: Vec<(usize, String)>,
}

impl<'t> Walk<'t> {
    fn run(bytes: &[u8], targets: Option<&'t HashSet<String>>) -> Option<Walk<'t>> {
        let mut walk = Walk {
            path: String::new(),
            keys_seen: 0,
            duplicates: Vec::new(),
            targets,
            found: Vec::new(),
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        Node(&mut walk).deserialize(&mut de).ok()?;
        Some(walk)
    }
}

/// A value at the walk's current path.
struct Node<'w, 't>(&'w mut Walk<'t>);

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let walk = self.0;
        let mut i = 0usize;
        loop {
            let len = walk.path.len();
            let _ = write!(walk.path, "[{i}]");
            let more = seq.next_element_seed(Node(walk))?;
            walk.path.truncate(len);
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let walk = self.0;
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let len = walk.path.len();
            if len > 0 {
                walk.path.push('.');
            }
            walk.path.push_str(&key);
            let position = walk.keys_seen;
            walk.keys_seen += 1;
            if seen.contains(&key) {
                if walk.duplicates.len() < MAX_PROBLEMS {
                    walk.duplicates.push(Problem {
                        position,
                        text: format!("duplicate field {:?}", walk.path),
                    });
                }
            } else {
                if walk.targets.is_some_and(|t| t.contains(&walk.path)) {
                    walk.found.push((position, walk.path.clone()));
                }
                seen.insert(key);
            }
            map.next_value_seed(Node(walk))?;
            walk.path.truncate(len);
        }
        Ok(())
    }
}

/// The keys of one object so far: a short list scanned in place (most objects have a few
/// keys, and this walk runs on every write), a hash set past [`Seen::SCAN`] keys.
#[derive(Default)]
struct Seen<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    const SCAN: usize = 16;

    fn contains(&self, key: &str) -> bool {
        self.few.iter().any(|k| k == key) || self.many.contains(key)
    }

    fn insert(&mut self, key: Cow<'de, str>) {
        if self.few.len() < Self::SCAN {
            self.few.push(key);
        } else {
            self.many.insert(key);
        }
    }
}

/// `duplicate field "…"` for each key repeated within its object, in document order (none
/// for a body that is not JSON: its decoder reports that).
pub fn duplicate_fields(bytes: &[u8]) -> Vec<String> {
    Walk::run(bytes, None)
        .map(|w| w.duplicates.into_iter().map(|p| p.text).collect())
        .unwrap_or_default()
}

/// Duplicates and unknown fields (paths without the leading dot) merged in document order.
fn in_document_order(bytes: &[u8], unknown: &[String]) -> Vec<String> {
    let targets: HashSet<String> = unknown.iter().cloned().collect();
    let Some(walk) = Walk::run(bytes, Some(&targets)) else {
        return unknown
            .iter()
            .map(|u| format!("unknown field {u:?}"))
            .collect();
    };
    let mut all = walk.duplicates;
    all.extend(walk.found.into_iter().map(|(position, path)| Problem {
        position,
        text: format!("unknown field {path:?}"),
    }));
    all.sort_by_key(|p| p.position);
    all.truncate(MAX_PROBLEMS);
    all.into_iter().map(|p| p.text).collect()
}

/// upstream's refusal of a body with field problems under `Strict`.
fn strict_error(kind: &str, version: &str, problems: &[String]) -> ApiError {
    ApiError::bad_request(format!(
        "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
        problems.join(", ")
    ))
}

/// The `fieldValidation` verdict on repeated fields in an object body (create, update) of
/// `info`: warnings to add, or under `Strict` the refusal naming every problem (unknown
/// fields included, which the registry would otherwise report on its own).
pub fn check_object_body(
    info: &ResourceInfo,
    validation: FieldValidation,
    bytes: &[u8],
    decoded: &Value,
) -> Result<Vec<String>, ApiError> {
    if validation == FieldValidation::Ignore || !is_json(bytes) {
        return Ok(Vec::new());
    }
    let duplicates = duplicate_fields(bytes);
    if duplicates.is_empty() || validation == FieldValidation::Warn {
        return Ok(duplicates);
    }
    let unknown: Vec<String> =
        rkube_api::typed::normalize_version(info.group, info.version, info.kind, decoded.clone())
            .map(|n| {
                n.unknown_fields
                    .iter()
                    .map(|f| f.trim_start_matches('.').to_string())
                    .collect()
            })
            .unwrap_or_default();
    Err(strict_error(
        info.kind,
        info.version,
        &in_document_order(bytes, &unknown),
    ))
}

/// The same for a merge or strategic merge patch document: its repeated fields are
/// reported by their path in the patch (which mirrors the object's).
pub fn check_patch_body(
    validation: FieldValidation,
    bytes: &[u8],
) -> Result<Vec<String>, ApiError> {
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let duplicates = duplicate_fields(bytes);
    match validation {
        FieldValidation::Strict if !duplicates.is_empty() => Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            duplicates.join(", ")
        ))),
        _ => Ok(duplicates),
    }
}

/// Unknown fields of an `autoscaling/v1` `Scale` sent to the `scale` subresource.
pub fn check_scale(validation: FieldValidation, scale: &Value) -> Result<Vec<String>, ApiError> {
    if validation == FieldValidation::Ignore {
        return Ok(Vec::new());
    }
    let unknown: Vec<String> =
        match rkube_api::typed::normalize_version("autoscaling", "v1", "Scale", scale.clone()) {
            Ok(n) => n
                .unknown_fields
                .iter()
                .map(|f| format!("unknown field {:?}", f.trim_start_matches('.')))
                .collect(),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "Scale in version \"v1\" cannot be handled as a Scale: {}",
                    e.0
                )));
            }
        };
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            Err(strict_error("Scale", "v1", &unknown))
        }
        _ => Ok(unknown),
    }
}

/// Whether a body is JSON (YAML and protobuf bodies are checked by their own decoders).
fn is_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_found_with_their_paths() {
        let body = br#"{"metadata": {"name": "a", "name": "b"},
            "spec": {"containers": [{"name": "c", "image": "x", "image": "y"}]},
            "data": {"k": "1", "k": "2", "k": "3"}}"#;
        assert_eq!(
            duplicate_fields(body),
            [
                "duplicate field \"metadata.name\"",
                "duplicate field \"spec.containers[0].image\"",
                "duplicate field \"data.k\"",
                "duplicate field \"data.k\"",
            ]
        );
        assert!(duplicate_fields(br#"{"a": {"b": 1}, "c": {"b": 2}}"#).is_empty());
        assert!(duplicate_fields(b"{not json").is_empty());
        // Escaped keys are compared as decoded.
        assert_eq!(
            duplicate_fields(br#"{"a": 1, "\u0061": 2}"#),
            ["duplicate field \"a\""]
        );
    }

    #[test]
    fn strict_lists_duplicates_and_unknowns_in_document_order() {
        let body = br#"{"apiVersion": "v1", "kind": "ConfigMap", "zzz": 1,
            "metadata": {"name": "a", "name": "a", "bogus": true}, "data": {"k": "1", "k": "2"}}"#;
        let info = rkube_api::resources::find("", "v1", "configmaps").unwrap();
        let decoded: Value = serde_json::from_slice(body).unwrap();
        let e = check_object_body(info, FieldValidation::Strict, body, &decoded).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: \
             unknown field \"zzz\", duplicate field \"metadata.name\", \
             unknown field \"metadata.bogus\", duplicate field \"data.k\""
        );
        let warned = check_object_body(info, FieldValidation::Warn, body, &decoded).unwrap();
        assert_eq!(
            warned,
            [
                "duplicate field \"metadata.name\"",
                "duplicate field \"data.k\""
            ]
        );
        assert!(
            check_object_body(info, FieldValidation::Ignore, body, &decoded)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn scale_unknown_fields() {
        let scale = serde_json::json!({"spec": {"replicas": 2, "bogus": 1}});
        assert_eq!(
            check_scale(FieldValidation::Warn, &scale).unwrap(),
            ["unknown field \"spec.bogus\""]
        );
        let e = check_scale(FieldValidation::Strict, &scale).unwrap_err();
        assert_eq!(
            e.message,
            "Scale in version \"v1\" cannot be handled as a Scale: strict decoding error: unknown field \"spec.bogus\""
        );
    }
}
