//! The object a watch event carries, shared by every watcher the event goes to: decoded
//! once, and encoded as JSON at most once (upstream's caching object). A thousand watchers of
//! a resource then cost one encoding per change, not a thousand; each still frames its own
//! event line around the shared bytes.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;

/// A watched object, cheap to clone.
#[derive(Clone, Debug)]
pub struct WatchObject {
    value: Arc<Value>,
    /// The value's JSON, made by the first watcher that sends it as stored.
    encoded: Arc<OnceLock<Bytes>>,
}

impl WatchObject {
    /// Wraps a decoded object.
    pub fn new(value: Value) -> WatchObject {
        WatchObject {
            value: Arc::new(value),
            encoded: Arc::new(OnceLock::new()),
        }
    }

    /// The object.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The object, owned (copied unless this was its last holder).
    pub fn into_value(self) -> Value {
        Arc::try_unwrap(self.value).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The object's JSON, encoded on first use and shared from then on.
    pub fn encoded(&self) -> Bytes {
        self.encoded
            .get_or_init(|| Bytes::from(serde_json::to_vec(&*self.value).unwrap_or_default()))
            .clone()
    }
}

impl std::ops::Deref for WatchObject {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.value
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
}
