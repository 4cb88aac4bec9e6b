//! Reading and writing `metadata` fields of objects held as JSON.

use rand::Rng;
use serde_json::{Map, Value};

/// `metadata`, created if missing (a body without an object `metadata` gets an empty one).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// `metadata.name`, or `""`.
pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

/// Sets (or removes, with `None`) a `metadata` field.
pub fn set_meta(obj: &mut Value, field: &str, value: Option<Value>) {
    let meta = meta_mut(obj);
    match value {
        Some(v) => {
            meta.insert(field.to_string(), v);
        }
        None => {
            meta.remove(field);
        }
    }
}

/// The `finalizers` list.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream's `generateName` suffix: five characters from an alphabet without vowels or
/// look-alike characters.
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    // Upstream trims the prefix so the name stays within 63 characters.
    let keep = prefix.len().min(58);
    format!("{}{suffix}", &prefix[..floor_char_boundary(prefix, keep)])
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// RFC 3339 with second precision, as `metav1.Time` serializes.
pub fn timestamp(t: jiff::Timestamp) -> Value {
    Value::String(
        t.round(jiff::Unit::Second)
            .unwrap_or(t)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_names_keep_the_prefix() {
        let n = generate_name("web-");
        assert!(n.starts_with("web-") && n.len() == 9, "{n}");
        assert_eq!(generate_name(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn metadata_is_created_when_missing_or_not_an_object() {
        let mut v = json!({"metadata": "junk"});
        set_meta(&mut v, "name", Some(json!("x")));
        assert_eq!(name(&v), "x");
    }

    #[test]
    fn timestamps_have_second_precision() {
        let t: jiff::Timestamp = "2026-11-22T12:00:00.6Z".parse().unwrap();
        assert_eq!(timestamp(t), json!("2026-11-22T12:00:01Z"));
    }
}
