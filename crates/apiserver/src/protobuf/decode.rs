//! Decoding protobuf messages into their Kubernetes JSON form, guided by the schema.
//!
//! Semantics follow Go's generated `Unmarshal` and then `encoding/json`: the last value of a
//! scalar field wins, repeated occurrences of a message field merge, unknown fields are skipped,
//! repeated scalars may be packed; then zero scalars are left out unless the Go field keeps them
//! ([`super::go_fields`]), embedded structs are flattened into their parent, and the custom
//! types get their JSON forms ([`Special`]).

use super::ProtobufError;
use super::schema::{Field, Kind, Label, Scalar, Schema, Special};
use super::special;
use super::wire::{Reader, WireValue};
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use std::cell::Cell;

/// Deepest nesting of embedded messages accepted (Kubernetes objects nest a dozen levels; this
/// bounds the recursion on hostile input).
pub(super) const MAX_DEPTH: usize = 100;

/// The prefix of every Kubernetes protobuf body.
pub(super) const MAGIC: &[u8; 4] = b"k8s\0";

/// The content type of protobuf-encoded objects (inside `runtime.Unknown` too).
const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Most bytes copied, per body, to merge repeated occurrences of message fields. Go's encoder
/// never repeats one, so only odd or hostile input merges; the bound keeps a body whose fields
/// are split at every level from costing its size times its depth in memory.
pub(super) const MAX_MERGE_BYTES: usize = 8 << 20;

pub(super) struct Decoder<'s> {
    schema: &'s Schema,
    /// Bytes copied so far for merges (see [`MAX_MERGE_BYTES`]).
    merged: Cell<usize>,
}

/// A field's values collected while reading a message, before its JSON is made.
enum Slot<'a> {
    Empty,
    Scalar(Value),
    /// The occurrences of a singular message field; decoding their concatenation merges them,
    /// as protobuf specifies.
    Parts(Vec<&'a [u8]>),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

impl<'s> Decoder<'s> {
    pub(super) fn new(schema: &'s Schema) -> Self {
        Decoder {
            schema,
            merged: Cell::new(0),
        }
    }

    /// The concatenation of a message field's occurrences: their protobuf merge.
    fn concat(&self, parts: &[&[u8]]) -> Result<Vec<u8>, ProtobufError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let total = self.merged.get().saturating_add(len);
        if total > MAX_MERGE_BYTES {
            return Err(ProtobufError::InvalidValue {
                what: "message".into(),
                reason: format!(
                    "repeated occurrences of message fields exceed {MAX_MERGE_BYTES} bytes"
                ),
            });
        }
        self.merged.set(total);
        Ok(parts.concat())
    }

    /// A `runtime.Unknown` (the envelope of a protobuf body, after the magic prefix): the
    /// embedded object's JSON, with `apiVersion` and `kind` from the envelope.
    pub(super) fn unknown(&self, bytes: &[u8], depth: usize) -> Result<Value, ProtobufError> {
        let depth = deeper(depth)?;
        let mut type_meta: &[u8] = &[];
        let mut raw: &[u8] = &[];
        let mut content_encoding = String::new();
        let mut content_type = String::new();
        let mut r = Reader::new(bytes);
        while let Some((number, value)) = r.field()? {
            match number {
                1 => type_meta = bytes_of(value, "Unknown", "typeMeta")?,
                2 => raw = bytes_of(value, "Unknown", "raw")?,
                3 => content_encoding = string_of(value, "Unknown", "contentEncoding")?,
                4 => content_type = string_of(value, "Unknown", "contentType")?,
                _ => {}
            }
        }
        let (mut api_version, mut kind) = (String::new(), String::new());
        let mut r = Reader::new(type_meta);
        while let Some((number, value)) = r.field()? {
            match number {
                1 => api_version = string_of(value, "TypeMeta", "apiVersion")?,
                2 => kind = string_of(value, "TypeMeta", "kind")?,
                _ => {}
            }
        }
        if !content_encoding.is_empty() {
            return Err(ProtobufError::ContentEncoding(content_encoding));
        }
        let content_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let mut object = match content_type.as_str() {
            "" | PROTOBUF_CONTENT_TYPE => {
                if api_version.is_empty() || kind.is_empty() {
                    return Err(ProtobufError::MissingTypeMeta);
                }
                let index = self
                    .schema
                    .resolve_kind(&api_version, &kind)
                    .ok_or_else(|| ProtobufError::UnknownKind {
                        api_version: api_version.clone(),
                        kind: kind.clone(),
                    })?;
                self.message(index, raw, depth)?
            }
            "application/json" => embedded_json(raw)?,
            other => return Err(ProtobufError::ContentType(other.to_string())),
        };
        if let Value::Object(map) = &mut object {
            if !api_version.is_empty() {
                map.insert("apiVersion".into(), api_version.into());
            }
            if !kind.is_empty() {
                map.insert("kind".into(), kind.into());
            }
        }
        Ok(object)
    }

    /// The JSON form of the message `index` encoded in `bytes`.
    pub(super) fn message(
        &self,
        index: usize,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Value, ProtobufError> {
        let depth = deeper(depth)?;
        let message = &self.schema.messages[index];
        match message.special {
            Special::None => self.object(index, bytes, depth).map(Value::Object),
            Special::Time => {
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                let (seconds, _) = seconds_nanos(bytes, &message.name)?;
                special::time(seconds)
            }
            Special::MicroTime => {
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                let (seconds, nanos) = seconds_nanos(bytes, &message.name)?;
                special::micro_time(seconds, nanos)
            }
            Special::Duration => {
                let mut nanos = 0i64;
                let mut r = Reader::new(bytes);
                while let Some((number, value)) = r.field()? {
                    if number == 1 {
                        nanos = varint_of(value, &message.name, "duration")? as i64;
                    }
                }
                Ok(special::go_duration(nanos).into())
            }
            Special::IntOrString => {
                let (mut kind, mut int_val, mut str_val) = (0i64, 0i32, String::new());
                let mut r = Reader::new(bytes);
                while let Some((number, value)) = r.field()? {
                    match number {
                        1 => kind = varint_of(value, &message.name, "type")? as i64,
                        2 => int_val = varint_of(value, &message.name, "intVal")? as i32,
                        3 => str_val = string_of(value, &message.name, "strVal")?,
                        _ => {}
                    }
                }
                match kind {
                    0 => Ok(int_val.into()),
                    1 => Ok(str_val.into()),
                    other => Err(ProtobufError::InvalidValue {
                        what: "IntOrString".into(),
                        reason: format!("type {other} is neither 0 (int) nor 1 (string)"),
                    }),
                }
            }
            Special::Quantity => {
                let mut s = None;
                let mut r = Reader::new(bytes);
                while let Some((number, value)) = r.field()? {
                    if number == 1 {
                        s = Some(string_of(value, &message.name, "string")?);
                    }
                }
                // Go's zero Quantity marshals as "0".
                Ok(s.filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "0".into())
                    .into())
            }
            Special::RawJson => {
                let mut raw: &[u8] = &[];
                let mut r = Reader::new(bytes);
                while let Some((number, value)) = r.field()? {
                    if number == 1 {
                        raw = bytes_of(value, &message.name, "raw")?;
                    }
                }
                if raw.is_empty() {
                    Ok(Value::Null)
                } else if let Some(rest) = raw.strip_prefix(MAGIC) {
                    self.unknown(rest, depth)
                } else {
                    embedded_json(raw)
                }
            }
            Special::Unknown => self.unknown(bytes, depth),
            Special::StringList => {
                let mut items = Vec::new();
                let mut r = Reader::new(bytes);
                while let Some((number, value)) = r.field()? {
                    if number == 1 {
                        items.push(Value::String(string_of(value, &message.name, "items")?));
                    }
                }
                Ok(Value::Array(items))
            }
            // Their Go MarshalJSON: the list when non-empty, else the schema (or the boolean).
            Special::SchemaOrArray | Special::SchemaOrStringArray => {
                let mut fields = self.object(index, bytes, depth)?;
                let list = if message.special == Special::SchemaOrArray {
                    "jSONSchemas"
                } else {
                    "property"
                };
                match fields.remove(list) {
                    Some(Value::Array(items)) if !items.is_empty() => Ok(Value::Array(items)),
                    _ => Ok(fields.remove("schema").unwrap_or(Value::Null)),
                }
            }
            Special::SchemaOrBool => {
                let mut fields = self.object(index, bytes, depth)?;
                match fields.remove("schema") {
                    Some(schema) => Ok(schema),
                    None => Ok(Value::Bool(
                        fields
                            .get("allows")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    )),
                }
            }
        }
    }

    /// An ordinary message as a JSON object of its fields.
    fn object(
        &self,
        index: usize,
        bytes: &[u8],
        depth: usize,
    ) -> Result<Map<String, Value>, ProtobufError> {
        let message = &self.schema.messages[index];
        let mut slots: Vec<Slot<'_>> = message.fields.iter().map(|_| Slot::Empty).collect();
        let mut r = Reader::new(bytes);
        while let Some((number, value)) = r.field()? {
            let Ok(at) = message.fields.binary_search_by_key(&number, |f| f.number) else {
                continue; // unknown field: skipped, as Go's decoder does
            };
            let field = &message.fields[at];
            let slot = &mut slots[at];
            match (field.label, field.kind) {
                (_, Kind::Unsupported) => return Err(self.wrong_wire_type(index, field, value)),
                (Label::Single, Kind::Scalar(scalar)) => {
                    *slot = Slot::Scalar(self.scalar(scalar, value, index, field)?);
                }
                (Label::Single, Kind::Message(_)) => {
                    let part = match value {
                        WireValue::Bytes(b) => b,
                        _ => return Err(self.wrong_wire_type(index, field, value)),
                    };
                    match slot {
                        Slot::Parts(parts) => parts.push(part),
                        other => *other = Slot::Parts(vec![part]),
                    }
                }
                (Label::Repeated, kind) => {
                    if !matches!(slot, Slot::List(_)) {
                        *slot = Slot::List(Vec::new());
                    }
                    if let Slot::List(list) = slot {
                        match (kind, value) {
                            (Kind::Scalar(scalar), WireValue::Bytes(packed))
                                if scalar.packable() =>
                            {
                                let mut p = Reader::new(packed);
                                while !p.is_empty() {
                                    let item = packed_item(&mut p, scalar)?;
                                    list.push(self.scalar(scalar, item, index, field)?);
                                }
                            }
                            (Kind::Scalar(scalar), value) => {
                                list.push(self.scalar(scalar, value, index, field)?)
                            }
                            (Kind::Message(m), WireValue::Bytes(b)) => {
                                list.push(self.message(m, b, depth)?)
                            }
                            _ => return Err(self.wrong_wire_type(index, field, value)),
                        }
                    }
                }
                (
                    Label::Map {
                        key,
                        value: value_kind,
                    },
                    _,
                ) => {
                    let WireValue::Bytes(entry) = value else {
                        return Err(self.wrong_wire_type(index, field, value));
                    };
                    let (k, v) = self.map_entry(key, value_kind, entry, index, field, depth)?;
                    if !matches!(slot, Slot::Map(_)) {
                        *slot = Slot::Map(Map::new());
                    }
                    if let Slot::Map(map) = slot {
                        map.insert(k, v);
                    }
                }
            }
        }
        let mut out = Map::new();
        for (field, slot) in message.fields.iter().zip(slots) {
            let value = match slot {
                Slot::Empty => continue,
                Slot::Scalar(v) => {
                    if !field.keep_zero && is_zero(&v) {
                        continue;
                    }
                    v
                }
                Slot::Parts(parts) => {
                    let Kind::Message(m) = field.kind else {
                        continue;
                    };
                    let v = match parts.as_slice() {
                        [one] => self.message(m, one, depth)?,
                        many => self.message(m, &self.concat(many)?, depth)?,
                    };
                    if field.inline {
                        if let Value::Object(inner) = v {
                            out.extend(inner);
                        }
                        continue;
                    }
                    v
                }
                Slot::List(list) => Value::Array(list),
                Slot::Map(map) => Value::Object(map),
            };
            out.insert(field.json_name.clone(), value);
        }
        Ok(out)
    }

    /// One `map<key, value>` entry (a message with key = 1 and value = 2).
    fn map_entry(
        &self,
        key: Scalar,
        value_kind: Kind,
        bytes: &[u8],
        index: usize,
        field: &Field,
        depth: usize,
    ) -> Result<(String, Value), ProtobufError> {
        let mut k = None;
        let mut scalar_value = None;
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut r = Reader::new(bytes);
        while let Some((number, value)) = r.field()? {
            match (number, value_kind) {
                (1, _) => k = Some(self.scalar(key, value, index, field)?),
                (2, Kind::Scalar(s)) => scalar_value = Some(self.scalar(s, value, index, field)?),
                (2, Kind::Message(_)) => match value {
                    WireValue::Bytes(b) => parts.push(b),
                    _ => return Err(self.wrong_wire_type(index, field, value)),
                },
                (2, Kind::Unsupported) => return Err(self.wrong_wire_type(index, field, value)),
                _ => {}
            }
        }
        let key = match k {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let value = match value_kind {
            Kind::Scalar(s) => scalar_value.unwrap_or_else(|| zero(s)),
            Kind::Message(m) => match parts.as_slice() {
                [] => self.message(m, &[], depth)?,
                [one] => self.message(m, one, depth)?,
                many => self.message(m, &self.concat(many)?, depth)?,
            },
            Kind::Unsupported => Value::Null,
        };
        Ok((key, value))
    }

    fn scalar(
        &self,
        scalar: Scalar,
        value: WireValue<'_>,
        index: usize,
        field: &Field,
    ) -> Result<Value, ProtobufError> {
        Ok(match (scalar, value) {
            (Scalar::Double, WireValue::Fixed64(v)) => float(f64::from_bits(v))?,
            (Scalar::Float, WireValue::Fixed32(v)) => float(f64::from(f32::from_bits(v)))?,
            (Scalar::Int64, WireValue::Varint(v)) => (v as i64).into(),
            (Scalar::Uint64, WireValue::Varint(v)) => v.into(),
            (Scalar::Int32 | Scalar::Enum, WireValue::Varint(v)) => (v as i32).into(),
            (Scalar::Uint32, WireValue::Varint(v)) => (v as u32).into(),
            (Scalar::Sint32, WireValue::Varint(v)) => {
                let v = v as u32;
                ((v >> 1) as i32 ^ -((v & 1) as i32)).into()
            }
            (Scalar::Sint64, WireValue::Varint(v)) => ((v >> 1) as i64 ^ -((v & 1) as i64)).into(),
            (Scalar::Fixed64, WireValue::Fixed64(v)) => v.into(),
            (Scalar::Sfixed64, WireValue::Fixed64(v)) => (v as i64).into(),
            (Scalar::Fixed32, WireValue::Fixed32(v)) => v.into(),
            (Scalar::Sfixed32, WireValue::Fixed32(v)) => (v as i32).into(),
            (Scalar::Bool, WireValue::Varint(v)) => (v != 0).into(),
            // Go strings may hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
            (Scalar::String, WireValue::Bytes(b)) => String::from_utf8_lossy(b).into_owned().into(),
            (Scalar::Bytes, WireValue::Bytes(b)) => {
                base64::engine::general_purpose::STANDARD.encode(b).into()
            }
            _ => return Err(self.wrong_wire_type(index, field, value)),
        })
    }

    fn wrong_wire_type(&self, index: usize, field: &Field, value: WireValue<'_>) -> ProtobufError {
        ProtobufError::WrongWireType {
            message: self.schema.messages[index].name.clone(),
            field: field.json_name.clone(),
            wire_type: value.wire_type(),
        }
    }
}

fn deeper(depth: usize) -> Result<usize, ProtobufError> {
    if depth >= MAX_DEPTH {
        return Err(ProtobufError::TooDeep(MAX_DEPTH));
    }
    Ok(depth + 1)
}

/// One element of a packed repeated scalar field.
fn packed_item<'a>(r: &mut Reader<'a>, scalar: Scalar) -> Result<WireValue<'a>, ProtobufError> {
    Ok(match scalar {
        Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => {
            WireValue::Fixed64(u64::from_le_bytes(r.take_array()?))
        }
        Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => {
            WireValue::Fixed32(u32::from_le_bytes(r.take_array()?))
        }
        _ => WireValue::Varint(r.varint()?),
    })
}

fn float(v: f64) -> Result<Value, ProtobufError> {
    Number::from_f64(v)
        .map(Value::Number)
        .ok_or_else(|| ProtobufError::InvalidValue {
            what: "number".into(),
            reason: format!("{v} is not representable in JSON"),
        })
}

/// Whether a scalar's JSON value is its type's zero (Go's `omitempty` test).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => {
            n.as_i64() == Some(0) || n.as_u64() == Some(0) || n.as_f64() == Some(0.0)
        }
        _ => false,
    }
}

fn zero(s: Scalar) -> Value {
    match s {
        Scalar::String | Scalar::Bytes => Value::String(String::new()),
        Scalar::Bool => Value::Bool(false),
        _ => Value::from(0),
    }
}

fn embedded_json(raw: &[u8]) -> Result<Value, ProtobufError> {
    serde_json::from_slice(raw).map_err(|e| ProtobufError::EmbeddedJson(e.to_string()))
}

fn seconds_nanos(bytes: &[u8], message: &str) -> Result<(i64, i32), ProtobufError> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut r = Reader::new(bytes);
    while let Some((number, value)) = r.field()? {
        match number {
            1 => seconds = varint_of(value, message, "seconds")? as i64,
            2 => nanos = varint_of(value, message, "nanos")? as i32,
            _ => {}
        }
    }
    Ok((seconds, nanos))
}

fn varint_of(value: WireValue<'_>, message: &str, field: &str) -> Result<u64, ProtobufError> {
    match value {
        WireValue::Varint(v) => Ok(v),
        other => Err(wrong(message, field, other)),
    }
}

fn bytes_of<'a>(
    value: WireValue<'a>,
    message: &str,
    field: &str,
) -> Result<&'a [u8], ProtobufError> {
    match value {
        WireValue::Bytes(b) => Ok(b),
        other => Err(wrong(message, field, other)),
    }
}

fn string_of(value: WireValue<'_>, message: &str, field: &str) -> Result<String, ProtobufError> {
    bytes_of(value, message, field).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn wrong(message: &str, field: &str, value: WireValue<'_>) -> ProtobufError {
    ProtobufError::WrongWireType {
        message: message.into(),
        field: field.into(),
        wire_type: value.wire_type(),
    }
}
