//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into the
//! same JSON a JSON body carries, so the registry handles both alike.
//!
//! client-go (and so kubectl's typed commands: `create namespace`, `create deployment`,
//! `expose`, …) sends built-in kinds as the magic `k8s\0` followed by a `runtime.Unknown`
//! envelope: `{typeMeta {apiVersion, kind}, raw, contentEncoding, contentType}`, `raw` being the
//! object's protobuf encoding.
//!
//! The schema (field numbers and types of every message) comes from Kubernetes'
//! `generated.proto` files, compiled into a descriptor set at build time (`build.rs`). The JSON
//! mapping is Kubernetes' own: field names as in the JSON API, `bytes` as base64, `Time` and
//! `MicroTime` as RFC 3339, `IntOrString` as a number or a string, `Quantity` as its string,
//! `Duration` as Go's duration string, `RawExtension` as embedded JSON, maps as objects, embedded
//! structs (`json:",inline"`) flattened, and zero scalars left out exactly where Go's JSON
//! encoding leaves them out (see [`go_fields`]): Go's protobuf encoder writes every non-pointer
//! field, so presence on the wire alone does not say what the client set.

mod decode;
mod go_fields;
mod schema;
mod special;
mod wire;

#[cfg(test)]
mod tests;

use serde_json::Value;

/// Why a protobuf body could not be decoded; every variant is the client's fault (a 400
/// BadRequest), except [`ProtobufError::Schema`], which cannot happen in a correct build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("the protobuf body does not start with the Kubernetes prefix \"k8s\\x00\"")]
    MissingMagic,
    /// The data ends inside a value.
    #[error("the protobuf data is truncated")]
    Truncated,
    /// A varint longer than ten bytes or larger than 64 bits.
    #[error("the protobuf data has a malformed varint")]
    MalformedVarint,
    /// A field key with field number 0 or above 2^29 - 1.
    #[error("the protobuf data has an invalid field number {0}")]
    InvalidFieldNumber(u64),
    /// Wire types 3, 4 (groups), 6 and 7.
    #[error("the protobuf data has an unsupported wire type {0}")]
    UnsupportedWireType(u8),
    /// A field's wire type does not fit its declared type.
    #[error("field {field} of {message} has wire type {wire_type}, which does not fit its type")]
    WrongWireType {
        /// The message's protobuf name.
        message: String,
        /// The field's JSON name.
        field: String,
        /// The wire type found.
        wire_type: u8,
    },
    /// Embedded messages nested deeper than the limit.
    #[error("the protobuf data nests more than {0} levels deep")]
    TooDeep(usize),
    /// The envelope names no apiVersion or no kind.
    #[error("the protobuf envelope has no apiVersion or kind")]
    MissingTypeMeta,
    /// The envelope names a kind we have no protobuf schema for (custom resources are JSON).
    #[error("no protobuf schema for kind {kind:?} of {api_version:?}")]
    UnknownKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The envelope's `contentEncoding` is set (nothing but identity is supported).
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncoding(String),
    /// The envelope's `contentType` is neither protobuf nor JSON.
    #[error("unsupported embedded content type {0:?}")]
    ContentType(String),
    /// A value with no JSON form (an out-of-range time, a NaN, an invalid IntOrString type).
    #[error("invalid {what}: {reason}")]
    InvalidValue {
        /// What kind of value.
        what: String,
        /// Why.
        reason: String,
    },
    /// A `RawExtension` (or similar) whose bytes are not JSON.
    #[error("embedded raw object is not valid JSON: {0}")]
    EmbeddedJson(String),
    /// The compiled-in descriptor set could not be read.
    #[error("the protobuf schema could not be loaded: {0}")]
    Schema(String),
}

/// Decodes a `application/vnd.kubernetes.protobuf` request body into the object's JSON form
/// (with apiVersion and kind set from the envelope). Errors are for a 400 BadRequest.
pub fn decode_body(bytes: &[u8]) -> Result<Value, ProtobufError> {
    let rest = bytes
        .strip_prefix(decode::MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let schema = schema::get()?;
    decode::Decoder::new(schema).unknown(rest, 0)
}
