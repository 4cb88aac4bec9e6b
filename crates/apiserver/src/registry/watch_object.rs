//! The object a watch event carries, shared by every watcher the event goes to: decoded
//! once, and encoded as JSON at most once (upstream's caching object). A thousand watchers of
//! a resource then cost one encoding per change, not a thousand; each still frames its own
//! event line around the shared bytes. An object taken straight from its stored bytes
//! ([`WatchObject::from_stored`]) is decoded only if a watcher needs more than its JSON.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rkube_api::status::ApiError;
use rkube_store::Revision;
use serde_json::Value;

/// A watched object, cheap to clone. At least one of its two forms is always set.
#[derive(Clone, Debug)]
pub struct WatchObject {
    value: Arc<OnceLock<Value>>,
    /// The value's JSON, made by the first watcher that sends it as stored.
    encoded: Arc<OnceLock<Bytes>>,
}

impl WatchObject {
    /// Wraps a decoded object.
    pub fn new(value: Value) -> WatchObject {
        WatchObject {
            value: Arc::new(OnceLock::from(value)),
            encoded: Arc::new(OnceLock::new()),
        }
    }

    /// The stored object `bytes` at `revision` as JSON with that `resourceVersion`, the same
    /// JSON decoding it would give, left undecoded (an error when the bytes are not JSON).
    pub fn from_stored(bytes: &[u8], revision: Revision) -> Result<WatchObject, ApiError> {
        let mut out = Vec::with_capacity(bytes.len() + 16);
        super::stored_json::write_object(&mut out, bytes, revision)?;
        Ok(WatchObject {
            value: Arc::new(OnceLock::new()),
            encoded: Arc::new(OnceLock::from(Bytes::from(out))),
        })
    }

    /// The object (decoded from its JSON on first use, when it was made from stored bytes).
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| {
            // Set by `from_stored` from bytes it wrote itself, so they parse.
            self.encoded
                .get()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null)
        })
    }

    /// The object, owned (copied unless this was its last holder).
    pub fn into_value(self) -> Value {
        self.value();
        match Arc::try_unwrap(self.value) {
            Ok(cell) => cell.into_inner().unwrap_or(Value::Null),
            Err(shared) => shared.get().cloned().unwrap_or(Value::Null),
        }
    }

    /// The object's JSON, encoded on first use and shared from then on.
    pub fn encoded(&self) -> Bytes {
        self.encoded
            .get_or_init(|| Bytes::from(serde_json::to_vec(self.value()).unwrap_or_default()))
            .clone()
    }
}

impl std::ops::Deref for WatchObject {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clones_share_one_encoding() {
        let a = WatchObject::new(json!({"metadata": {"name": "x"}}));
        let b = a.clone();
        let first = a.encoded();
        let second = b.encoded();
        assert_eq!(first.as_ptr(), second.as_ptr(), "encoded once, shared");
        assert_eq!(serde_json::from_slice::<Value>(&first).unwrap(), *b.value());
        assert_eq!(b.into_value(), json!({"metadata": {"name": "x"}}));
    }

    #[test]
    fn an_object_from_stored_bytes_is_what_decoding_gives_and_decodes_only_when_asked() {
        let stored = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","resourceVersion":"3"},"spec":{"nodeName":"n"}}"#;
        let raw = WatchObject::from_stored(stored, 42).unwrap();
        let decoded = WatchObject::new(crate::registry::decode_at(stored, 42).unwrap());
        assert!(raw.value.get().is_none(), "not decoded to be sent");
        let json = |b: Bytes| serde_json::from_slice::<Value>(&b).unwrap();
        assert_eq!(
            json(raw.encoded()),
            json(decoded.encoded()),
            "the JSON decoding gives"
        );
        let shared = raw.clone();
        assert_eq!(shared.value(), decoded.value());
        assert!(raw.value.get().is_some(), "decoded once, for every clone");
        assert_eq!(raw.into_value()["metadata"]["resourceVersion"], "42");
        assert_eq!(
            WatchObject::from_stored(b"{not json", 1).unwrap_err().code,
            500
        );
    }
}
