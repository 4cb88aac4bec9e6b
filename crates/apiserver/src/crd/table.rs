//! Tables of custom objects: NAME, then the version's `additionalPrinterColumns` (each a simple
//! JSONPath into the object, typed as the column says; `date` columns show an age), or AGE when
//! it declares none — as upstream's CRD table convertor.

use super::registry::CustomVersion;
use rkube_api::table::{
    IncludeObject, Table, TableColumnDefinition, human_duration, to_custom_resource_table,
};
use serde_json::Value;

/// The Table of `objects` (all of `cv`'s resource) at `now`.
pub fn table(
    cv: &CustomVersion,
    objects: &[Value],
    now: jiff::Timestamp,
    include: IncludeObject,
) -> Table {
    let mut table = to_custom_resource_table(objects, now, include);
    if cv.columns.is_empty() {
        return table;
    }
    let name_column = table.column_definitions.first().cloned();
    let mut defs: Vec<TableColumnDefinition> = name_column.into_iter().collect();
    for c in &cv.columns {
        let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
        defs.push(TableColumnDefinition {
            name: s("name"),
            type_: s("type"),
            format: s("format"),
            description: match s("description") {
                d if d.is_empty() => format!(
                    "Custom resource definition column (in JSONPath format): {}",
                    s("jsonPath")
                ),
                d => d,
            },
            priority: c["priority"].as_i64().unwrap_or(0) as i32,
        });
    }
    table.column_definitions = defs;
    for (row, obj) in table.rows.iter_mut().zip(objects) {
        let name = row.cells.first().cloned().unwrap_or(Value::Null);
        let mut cells = vec![name];
        for c in &cv.columns {
            let found = eval(obj, c["jsonPath"].as_str().unwrap_or(""));
            cells.push(cell(found, c["type"].as_str().unwrap_or(""), now));
        }
        row.cells = cells;
    }
    table
}

/// One cell: the value at the column's path as its type shows it (null when absent).
fn cell(found: Option<&Value>, ty: &str, now: jiff::Timestamp) -> Value {
    let Some(v) = found else {
        return Value::Null;
    };
    match (ty, v) {
        ("date", Value::String(s)) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => human_duration(now.duration_since(t)).into(),
            Err(_) => v.clone(),
        },
        ("string", Value::String(_)) => v.clone(),
        ("string", Value::Object(_) | Value::Array(_)) => v.to_string().into(),
        ("string", other) => other.to_string().into(),
        _ => v.clone(),
    }
}

/// Evaluates a simple JSONPath (`.spec.x`, `.status.list[0].y`, `{.spec.x}`).
pub fn eval<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut cur = obj;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = idx.trim_end_matches(']').parse().ok()?;
            cur = cur.get(n)?;
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_cells() {
        let obj = json!({"spec": {"n": 3, "list": [{"a": "x"}]}, "metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}});
        assert_eq!(eval(&obj, ".spec.n"), Some(&json!(3)));
        assert_eq!(eval(&obj, ".spec.list[0].a"), Some(&json!("x")));
        assert_eq!(eval(&obj, ".spec.missing"), None);
        let now: jiff::Timestamp = "2024-01-01T00:05:00Z".parse().unwrap();
        assert_eq!(
            cell(eval(&obj, ".metadata.creationTimestamp"), "date", now),
            json!("5m")
        );
        assert_eq!(cell(None, "integer", now), Value::Null);
    }
}
