//! The v2 document as protobuf: gnostic's `openapi.v2.Document` message
//! (github.com/google/gnostic-models `openapiv2/OpenAPIv2.proto`), which is what kubectl and
//! client-go decode `/openapi/v2` as. Field numbers below are that schema's.
//!
//! Only the parts our JSON document uses are encoded. Values of vendor extensions, `default`,
//! `enum` and `example` go in `Any.yaml` as JSON text, which is valid YAML.

use serde_json::{Map, Value};

/// A protobuf message being written.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn len_delimited(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// A proto3 string (omitted when empty).
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.len_delimited(field, s.as_bytes());
        }
    }

    /// A present sub-message (always written: presence matters).
    fn message(&mut self, field: u32, m: Msg) {
        self.len_delimited(field, &m.0);
    }

    /// A proto3 bool (omitted when false).
    fn bool(&mut self, field: u32, b: bool) {
        if b {
            self.key(field, 0);
            self.varint(1);
        }
    }

    /// A bool member of a oneof: written even when false.
    fn oneof_bool(&mut self, field: u32, b: bool) {
        self.key(field, 0);
        self.varint(u64::from(b));
    }

    /// A proto3 int64 (omitted when zero).
    fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, 0);
            self.varint(v as u64);
        }
    }

    /// A proto3 double (omitted when zero).
    fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, 1);
            self.0.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn str_of<'a>(obj: &'a Map<String, Value>, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

fn bool_of(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn int_of(obj: &Map<String, Value>, key: &str) -> i64 {
    obj.get(key)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .unwrap_or(0)
}

fn float_of(obj: &Map<String, Value>, key: &str) -> f64 {
    obj.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

fn strings_of<'a>(obj: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    obj.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `Any { yaml = 2 }` holding `v` as JSON text.
fn any(v: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(2, &serde_json::to_string(v).unwrap_or_default());
    m
}

/// `repeated NamedAny vendor_extension` entries for the `x-` keys of `obj`.
fn vendor_extensions(m: &mut Msg, field: u32, obj: &Map<String, Value>) {
    for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
        let mut named = Msg::default();
        named.string(1, k);
        named.message(2, any(v));
        m.message(field, named);
    }
}

/// `openapi.v2.Document`.
pub(crate) fn document(doc: &Value) -> Vec<u8> {
    let Some(doc) = doc.as_object() else {
        return Vec::new();
    };
    let mut m = Msg::default();
    m.string(1, str_of(doc, "swagger"));
    if let Some(info) = doc.get("info").and_then(Value::as_object) {
        let mut i = Msg::default();
        i.string(1, str_of(info, "title"));
        i.string(2, str_of(info, "version"));
        i.string(3, str_of(info, "description"));
        vendor_extensions(&mut i, 7, info);
        m.message(2, i);
    }
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        let mut p = Msg::default();
        vendor_extensions(&mut p, 1, paths);
        for (path, item) in paths.iter().filter(|(k, _)| !k.starts_with("x-")) {
            let mut named = Msg::default();
            named.string(1, path);
            named.message(2, path_item(item));
            p.message(2, named);
        }
        m.message(8, p);
    }
    if let Some(defs) = doc.get("definitions").and_then(Value::as_object) {
        let mut d = Msg::default();
        for (name, schema) in defs {
            d.message(1, named_schema(name, schema));
        }
        m.message(9, d);
    }
    for requirement in doc
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut r = Msg::default();
        for (name, scopes) in requirement.as_object().into_iter().flatten() {
            let mut named = Msg::default();
            named.string(1, name);
            let mut array = Msg::default();
            for scope in scopes
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                array.string(1, scope);
            }
            named.message(2, array);
            r.message(1, named);
        }
        m.message(12, r);
    }
    if let Some(defs) = doc.get("securityDefinitions").and_then(Value::as_object) {
        let mut d = Msg::default();
        for (name, def) in defs {
            let Some(def) = def.as_object() else { continue };
            if str_of(def, "type") != "apiKey" {
                continue;
            }
            let mut key = Msg::default();
            key.string(1, "apiKey");
            key.string(2, str_of(def, "name"));
            key.string(3, str_of(def, "in"));
            key.string(4, str_of(def, "description"));
            vendor_extensions(&mut key, 5, def);
            let mut item = Msg::default();
            item.message(2, key);
            let mut named = Msg::default();
            named.string(1, name);
            named.message(2, item);
            d.message(1, named);
        }
        m.message(13, d);
    }
    vendor_extensions(&mut m, 16, doc);
    m.0
}

/// `PathItem`.
fn path_item(item: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(item) = item.as_object() else {
        return m;
    };
    for (field, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = item.get(method).and_then(Value::as_object) {
            m.message(field, operation(op));
        }
    }
    for p in item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = parameter(p) {
            m.message(9, p);
        }
    }
    vendor_extensions(&mut m, 10, item);
    m
}

/// `Operation`.
fn operation(op: &Map<String, Value>) -> Msg {
    let mut m = Msg::default();
    for tag in strings_of(op, "tags") {
        m.string(1, tag);
    }
    m.string(2, str_of(op, "summary"));
    m.string(3, str_of(op, "description"));
    m.string(5, str_of(op, "operationId"));
    for t in strings_of(op, "produces") {
        m.string(6, t);
    }
    for t in strings_of(op, "consumes") {
        m.string(7, t);
    }
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = parameter(p) {
            m.message(8, p);
        }
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        let mut r = Msg::default();
        for (code, resp) in responses.iter().filter(|(k, _)| !k.starts_with("x-")) {
            let Some(resp) = resp.as_object() else {
                continue;
            };
            let mut response = Msg::default();
            response.string(1, str_of(resp, "description"));
            if let Some(schema) = resp.get("schema") {
                let mut item = Msg::default();
                item.message(1, self::schema(schema));
                response.message(2, item);
            }
            vendor_extensions(&mut response, 5, resp);
            let mut value = Msg::default();
            value.message(1, response);
            let mut named = Msg::default();
            named.string(1, code);
            named.message(2, value);
            r.message(1, named);
        }
        vendor_extensions(&mut r, 2, responses);
        m.message(9, r);
    }
    for s in strings_of(op, "schemes") {
        m.string(10, s);
    }
    m.bool(11, bool_of(op, "deprecated"));
    vendor_extensions(&mut m, 13, op);
    m
}

/// `ParametersItem` wrapping a `Parameter` (body, query or path).
fn parameter(p: &Value) -> Option<Msg> {
    let p = p.as_object()?;
    let mut parameter = Msg::default();
    match str_of(p, "in") {
        "body" => {
            let mut body = Msg::default();
            body.string(1, str_of(p, "description"));
            body.string(2, str_of(p, "name"));
            body.string(3, "body");
            body.bool(4, bool_of(p, "required"));
            if let Some(schema) = p.get("schema") {
                body.message(5, self::schema(schema));
            }
            vendor_extensions(&mut body, 6, p);
            parameter.message(1, body);
        }
        location @ ("query" | "path") => {
            // QueryParameterSubSchema and PathParameterSubSchema share fields 1–4; query has
            // `allow_empty_value = 5` and so numbers the rest one higher.
            let shift = u32::from(location == "query");
            let mut sub = Msg::default();
            sub.bool(1, bool_of(p, "required"));
            sub.string(2, location);
            sub.string(3, str_of(p, "description"));
            sub.string(4, str_of(p, "name"));
            sub.string(5 + shift, str_of(p, "type"));
            sub.string(6 + shift, str_of(p, "format"));
            sub.bool(19 + shift, bool_of(p, "uniqueItems"));
            vendor_extensions(&mut sub, 22 + shift, p);
            let mut non_body = Msg::default();
            non_body.message(if location == "query" { 3 } else { 4 }, sub);
            parameter.message(2, non_body);
        }
        _ => return None,
    }
    let mut item = Msg::default();
    item.message(1, parameter);
    Some(item)
}

/// `NamedSchema`.
fn named_schema(name: &str, schema: &Value) -> Msg {
    let mut m = Msg::default();
    m.string(1, name);
    m.message(2, self::schema(schema));
    m
}

/// `Schema`.
fn schema(s: &Value) -> Msg {
    let mut m = Msg::default();
    let Some(s) = s.as_object() else {
        return m;
    };
    m.string(1, str_of(s, "$ref"));
    m.string(2, str_of(s, "format"));
    m.string(3, str_of(s, "title"));
    m.string(4, str_of(s, "description"));
    if let Some(d) = s.get("default") {
        m.message(5, any(d));
    }
    m.double(6, float_of(s, "multipleOf"));
    m.double(7, float_of(s, "maximum"));
    m.bool(8, bool_of(s, "exclusiveMaximum"));
    m.double(9, float_of(s, "minimum"));
    m.bool(10, bool_of(s, "exclusiveMinimum"));
    m.int64(11, int_of(s, "maxLength"));
    m.int64(12, int_of(s, "minLength"));
    m.string(13, str_of(s, "pattern"));
    m.int64(14, int_of(s, "maxItems"));
    m.int64(15, int_of(s, "minItems"));
    m.bool(16, bool_of(s, "uniqueItems"));
    m.int64(17, int_of(s, "maxProperties"));
    m.int64(18, int_of(s, "minProperties"));
    for r in strings_of(s, "required") {
        m.string(19, r);
    }
    for e in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(e));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut a = Msg::default();
            a.oneof_bool(2, *b);
            m.message(21, a);
        }
        Some(v @ Value::Object(_)) => {
            let mut a = Msg::default();
            a.message(1, schema(v));
            m.message(21, a);
        }
        _ => {}
    }
    match s.get("type") {
        Some(Value::String(t)) => {
            let mut ty = Msg::default();
            ty.string(1, t);
            m.message(22, ty);
        }
        Some(Value::Array(ts)) => {
            let mut ty = Msg::default();
            for t in ts.iter().filter_map(Value::as_str) {
                ty.string(1, t);
            }
            m.message(22, ty);
        }
        _ => {}
    }
    match s.get("items") {
        Some(v @ Value::Object(_)) => {
            let mut items = Msg::default();
            items.message(1, schema(v));
            m.message(23, items);
        }
        Some(Value::Array(vs)) => {
            let mut items = Msg::default();
            for v in vs {
                items.message(1, schema(v));
            }
            m.message(23, items);
        }
        _ => {}
    }
    for sub in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(sub));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        let mut p = Msg::default();
        for (name, sub) in props {
            p.message(1, named_schema(name, sub));
        }
        m.message(25, p);
    }
    m.bool(27, bool_of(s, "readOnly"));
    if let Some(e) = s.get("example") {
        m.message(30, any(e));
    }
    vendor_extensions(&mut m, 31, s);
    m
}

#[cfg(test)]
pub(crate) mod decode {
    //! A minimal protobuf reader for tests: fields of one message, by number.

    /// A decoded field value.
    #[derive(Debug, Clone)]
    pub(crate) enum Field<'a> {
        /// A varint or fixed-width scalar (value not kept).
        Scalar,
        /// Length-delimited (string, bytes or message).
        Bytes(&'a [u8]),
    }

    fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *buf.get(*pos)?;
            *pos += 1;
            out |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(out);
            }
        }
        None
    }

    /// All `(field number, value)` pairs of a message, in order; `None` if malformed.
    pub(crate) fn fields(buf: &[u8]) -> Option<Vec<(u32, Field<'_>)>> {
        let mut pos = 0;
        let mut out = Vec::new();
        while pos < buf.len() {
            let key = varint(buf, &mut pos)?;
            let field = u32::try_from(key >> 3).ok()?;
            let value = match key & 7 {
                0 => {
                    varint(buf, &mut pos)?;
                    Field::Scalar
                }
                1 => {
                    buf.get(pos..pos + 8)?;
                    pos += 8;
                    Field::Scalar
                }
                2 => {
                    let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                    let bytes = buf.get(pos..pos + len)?;
                    pos += len;
                    Field::Bytes(bytes)
                }
                _ => return None,
            };
            out.push((field, value));
        }
        Some(out)
    }

    /// The length-delimited values of field `n`.
    pub(crate) fn all(buf: &[u8], n: u32) -> Vec<&[u8]> {
        fields(buf)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(f, v)| match v {
                Field::Bytes(b) if f == n => Some(b),
                _ => None,
            })
            .collect()
    }

    /// The first length-delimited value of field `n`.
    pub(crate) fn one(buf: &[u8], n: u32) -> Option<&[u8]> {
        all(buf, n).into_iter().next()
    }

    /// The first length-delimited value of field `n` as UTF-8.
    pub(crate) fn text(buf: &[u8], n: u32) -> Option<&str> {
        std::str::from_utf8(one(buf, n)?).ok()
    }

    /// In a list of `Named*` entries (name = 1, value = 2) under field `n`, the value named
    /// `name`.
    pub(crate) fn named<'a>(buf: &'a [u8], n: u32, name: &str) -> Option<&'a [u8]> {
        all(buf, n)
            .into_iter()
            .find(|entry| text(entry, 1) == Some(name))
            .and_then(|entry| one(entry, 2))
    }
}

#[cfg(test)]
mod tests {
    use super::decode::{named, one, text};
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_strings_encode_like_protobuf() {
        let mut m = Msg::default();
        m.string(1, "2.0");
        m.int64(2, 300);
        assert_eq!(m.0, [0x0a, 3, b'2', b'.', b'0', 0x10, 0xac, 0x02]);
    }

    #[test]
    fn document_round_trips_through_the_reader() {
        let doc = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {"/api/v1/pods": {"get": {
                "operationId": "listCoreV1PodForAllNamespaces",
                "parameters": [{"name": "limit", "in": "query", "type": "integer", "uniqueItems": true}],
                "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/P"}}},
                "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"},
            }}},
            "definitions": {"P": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"c": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"}},
            }},
        });
        let bytes = document(&doc);
        assert_eq!(text(&bytes, 1), Some("2.0"));
        let info = one(&bytes, 2).unwrap();
        assert_eq!(text(info, 1), Some("Kubernetes"));

        let paths = one(&bytes, 8).unwrap();
        let item = named(paths, 2, "/api/v1/pods").unwrap();
        let get = one(item, 2).unwrap();
        assert_eq!(text(get, 5), Some("listCoreV1PodForAllNamespaces"));
        let gvk = named(get, 13, "x-kubernetes-group-version-kind").unwrap();
        let yaml = text(gvk, 2).unwrap();
        let parsed: Value = serde_json::from_str(yaml).unwrap();
        assert_eq!(parsed["kind"], "Pod");
        // parameters[0] → Parameter → NonBodyParameter → QueryParameterSubSchema
        let p = one(one(one(one(get, 8).unwrap(), 1).unwrap(), 2).unwrap(), 3).unwrap();
        assert_eq!(text(p, 4), Some("limit"));
        assert_eq!(text(p, 6), Some("integer"));

        let defs = one(&bytes, 9).unwrap();
        let p = named(defs, 1, "P").unwrap();
        assert_eq!(text(one(p, 22).unwrap(), 1), Some("object"));
        // additionalProperties: false is present (oneof) with value 0.
        let additional = one(p, 21).unwrap();
        assert_eq!(additional, [0x10, 0x00]);
        let c = named(one(p, 25).unwrap(), 1, "c").unwrap();
        let strategy = named(c, 31, "x-kubernetes-patch-strategy").unwrap();
        assert_eq!(text(strategy, 2), Some("\"merge\""));
    }
}
