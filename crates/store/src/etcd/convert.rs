//! etcd-client values to store values.

use crate::KeyValue;
use bytes::Bytes;

/// An etcd key-value as the store's [`KeyValue`]. Keys written through the store are ASCII;
/// anything else (written by another client) is shown lossily rather than refused.
pub(super) fn key_value(kv: etcd_client::KeyValue) -> KeyValue {
    let (create_revision, mod_revision, version) =
        (kv.create_revision(), kv.mod_revision(), kv.version());
    let (key, value) = kv.into_key_value();
    KeyValue {
        key: match String::from_utf8(key) {
            Ok(key) => key,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        },
        value: Bytes::from(value),
        create_revision,
        mod_revision,
        version,
    }
}

/// The store revision in a response header (0 if etcd sent none, which it always does).
pub(super) fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> i64 {
    header.map_or(0, |h| h.revision())
}
