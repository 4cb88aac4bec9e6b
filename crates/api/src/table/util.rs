//! Shared pieces of the printers: the printer and column types, tolerant JSON accessors (every
//! field of a user's object may be missing or of the wrong type), and the label, selector and
//! container formatting several kinds share.

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::age::since;
use super::types::{TableColumnDefinition, TableRow};

/// A printer: the columns of a kind and the function rendering one object as a row.
pub(crate) struct Printer {
    /// The columns, default ones first in display order, wide ones (priority 1) interleaved as
    /// upstream declares them.
    pub columns: &'static [Col],
    /// Renders one object; the returned row has one cell per column and no object.
    pub row: fn(&Value, Timestamp) -> TableRow,
    /// When set, the rows of a list are ordered by this comparison (upstream sorts a few lists).
    pub order: Option<fn(&Value, &Value) -> std::cmp::Ordering>,
}

/// A static column definition.
pub(crate) struct Col {
    pub name: &'static str,
    pub type_: &'static str,
    pub format: &'static str,
    pub description: &'static str,
    pub priority: i32,
}

impl Col {
    /// The wire form of this column.
    pub fn definition(&self) -> TableColumnDefinition {
        TableColumnDefinition {
            name: self.name.to_owned(),
            type_: self.type_.to_owned(),
            format: self.format.to_owned(),
            description: self.description.to_owned(),
            priority: self.priority,
        }
    }
}

/// A default (priority 0) column.
pub(crate) const fn col(name: &'static str, type_: &'static str, description: &'static str) -> Col {
    Col {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

/// A column shown only with `-o wide` (priority 1).
pub(crate) const fn wide(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> Col {
    Col {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

/// The object name column every printer starts with.
pub(crate) const NAME: Col = Col {
    name: "Name",
    type_: "string",
    format: "name",
    description: "Name of the object, unique within its namespace.",
    priority: 0,
};

/// The age column: time since the object was created.
pub(crate) const AGE: Col = col("Age", "string", "Time since the object was created.");

/// The wide columns listing the containers and images of a pod template.
pub(crate) const CONTAINERS: Col = wide(
    "Containers",
    "string",
    "Names of the template's containers.",
);
/// See [`CONTAINERS`].
pub(crate) const IMAGES: Col = wide("Images", "string", "Images of the template's containers.");

/// The value at `path` inside nested JSON objects.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.as_object()?.get(*key)?;
    }
    Some(cur)
}

/// Whether `path` holds a non-null value (a set pointer, in Go terms).
pub(crate) fn present(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_some_and(|x| !x.is_null())
}

/// The string at `path`, if it is one.
pub(crate) fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// The string at `path`, or `""`.
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    opt_str(v, path).unwrap_or("")
}

/// The string at `path`, or `default` when it is missing or empty.
pub(crate) fn str_or<'a>(v: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    match str_at(v, path) {
        "" => default,
        s => s,
    }
}

/// The integer at `path`, if it is one.
pub(crate) fn opt_int(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(Value::as_i64)
}

/// The integer at `path`, or 0.
pub(crate) fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int(v, path).unwrap_or(0)
}

/// The boolean at `path`, if it is one.
pub(crate) fn opt_bool(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

/// The array at `path`, or an empty slice.
pub(crate) fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object at `path`, if it is one.
pub(crate) fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(v, path).and_then(Value::as_object)
}

/// The number of entries of the map at `path` (0 when missing).
pub(crate) fn map_len(v: &Value, path: &[&str]) -> usize {
    obj_at(v, path).map_or(0, Map::len)
}

/// The timestamp at `path`; missing, unparseable and Go's zero time all read as `None`.
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<Timestamp> {
    let t: Timestamp = opt_str(v, path)?.parse().ok()?;
    // Go's zero time.Time, which the API writes for an unset non-pointer time.
    if t.as_second() == GO_ZERO_TIME_SECONDS && t.subsec_nanosecond() == 0 {
        return None;
    }
    Some(t)
}

/// `0001-01-01T00:00:00Z` in Unix seconds.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// A resource quantity at `path` as text (quantities may be written as JSON numbers).
pub(crate) fn quantity_at(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An int-or-string at `path` as text.
pub(crate) fn int_or_string_at(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `metadata.name`.
pub(crate) fn name(v: &Value) -> Value {
    str_at(v, &["metadata", "name"]).into()
}

/// The AGE cell: time since `metadata.creationTimestamp`.
pub(crate) fn age(v: &Value, now: Timestamp) -> Value {
    since(now, time_at(v, &["metadata", "creationTimestamp"])).into()
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn deleting(v: &Value) -> bool {
    present(v, &["metadata", "deletionTimestamp"])
}

/// A string cell.
pub(crate) fn s(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

/// An integer cell.
pub(crate) fn n(value: i64) -> Value {
    Value::from(value)
}

/// A label map as `k1=v1,k2=v2` (sorted), or `<none>` when empty.
pub(crate) fn format_labels(map: Option<&Map<String, Value>>) -> String {
    let mut pairs: Vec<String> = map
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    if pairs.is_empty() {
        return "<none>".to_owned();
    }
    pairs.sort();
    pairs.join(",")
}

/// The names and images of a list of containers, each comma-separated.
pub(crate) fn container_cells(containers: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (s(names.join(",")), s(images.join(",")))
}

/// A label selector (`matchLabels` + `matchExpressions`) as a selector string, or `<none>` when
/// it selects nothing or everything, or `<error>` when it is malformed.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector_string(selector) {
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s,
        Err(()) => "<error>".to_owned(),
    }
}

/// A label selector as a selector string (`""` when unset or empty); `Err` when malformed.
pub(crate) fn label_selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let selector = match selector {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(()),
    };
    // (key, rendered requirement); stable-sorted by key as upstream does.
    let mut reqs: Vec<(&str, String)> = Vec::new();
    match selector.get("matchLabels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (key, value) in labels {
                let value = value.as_str().ok_or(())?;
                if !is_qualified_name(key) || !is_label_value(value) {
                    return Err(());
                }
                reqs.push((key, format!("{key}={value}")));
            }
        }
        Some(_) => return Err(()),
    }
    match selector.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(exprs)) => {
            for expr in exprs {
                let key = str_at(expr, &["key"]);
                let values: Vec<&str> = match at(expr, &["values"]) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(vs)) => vs
                        .iter()
                        .map(|v| v.as_str().ok_or(()))
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err(()),
                };
                if !is_qualified_name(key) {
                    return Err(());
                }
                let rendered = match str_at(expr, &["operator"]) {
                    op @ ("In" | "NotIn") => {
                        if values.is_empty() || !values.iter().all(|v| is_label_value(v)) {
                            return Err(());
                        }
                        let mut sorted = values.clone();
                        sorted.sort_unstable();
                        let word = if op == "In" { "in" } else { "notin" };
                        format!("{key} {word} ({})", sorted.join(","))
                    }
                    "Exists" if values.is_empty() => key.to_owned(),
                    "DoesNotExist" if values.is_empty() => format!("!{key}"),
                    _ => return Err(()),
                };
                reqs.push((key, rendered));
            }
        }
        Some(_) => return Err(()),
    }
    reqs.sort_by(|a, b| a.0.cmp(b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return false;
    }
    !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_`, `.`, starting and ending with an
/// alphanumeric.
fn is_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let bytes = value.as_bytes();
    bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain of at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && is_lower_alnum(b[0])
                && is_lower_alnum(b[b.len() - 1])
                && b.iter().all(|c| is_lower_alnum(*c) || *c == b'-')
        })
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Up to `max` items joined by `,`, then ` + N more...` when some were left out; `<unset>` when
/// there are none.
pub(crate) fn list_with_more(items: &[String], max: usize) -> String {
    let shown = items[..items.len().min(max)].join(",");
    if items.len() > max {
        return format!("{shown} + {} more...", items.len() - max);
    }
    if shown.is_empty() {
        return "<unset>".to_owned();
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_label_selector_formatting() {
        let cases = [
            (None, "<none>"),
            (Some(json!(null)), "<none>"),
            (Some(json!({})), "<none>"),
            (
                Some(json!({"matchLabels": {"app": "web", "tier": "fe"}})),
                "app=web,tier=fe",
            ),
            (
                Some(json!({
                    "matchLabels": {"z": "1"},
                    "matchExpressions": [
                        {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                        {"key": "a", "operator": "Exists"},
                        {"key": "b", "operator": "DoesNotExist"},
                        {"key": "c", "operator": "NotIn", "values": ["x"]}
                    ]
                })),
                "a,!b,c notin (x),env in (dev,prod),z=1",
            ),
            (
                Some(json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})),
                "<error>",
            ),
            (
                Some(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
                "<error>",
            ),
            (
                Some(
                    json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                ),
                "<error>",
            ),
            (Some(json!({"matchLabels": {"bad key": "v"}})), "<error>"),
            (Some(json!({"matchLabels": {"k": 3}})), "<error>"),
            (Some(json!("app=web")), "<error>"),
            (
                Some(json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "abc-123"}})),
                "batch.kubernetes.io/controller-uid=abc-123",
            ),
        ];
        for (sel, want) in cases {
            assert_eq!(format_label_selector(sel.as_ref()), want, "{sel:?}");
        }
    }

    #[test]
    fn table_label_map_formatting() {
        assert_eq!(format_labels(None), "<none>");
        let m = json!({"a": "2", "a.b": "1"});
        // Sorted as whole `k=v` strings: '.' sorts before '='.
        assert_eq!(format_labels(m.as_object()), "a.b=1,a=2");
    }

    #[test]
    fn table_tolerant_accessors() {
        let v = json!({"metadata": {"name": 5, "creationTimestamp": "0001-01-01T00:00:00Z"}});
        assert_eq!(str_at(&v, &["metadata", "name"]), "");
        assert_eq!(int_at(&v, &["metadata", "name"]), 5);
        assert_eq!(time_at(&v, &["metadata", "creationTimestamp"]), None);
        assert_eq!(arr_at(&v, &["spec", "containers"]).len(), 0);
        assert_eq!(int_at(&json!("x"), &["a", "b"]), 0);
    }
}
