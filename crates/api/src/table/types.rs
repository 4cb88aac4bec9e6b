//! The `meta.k8s.io/v1` `Table` wire types and the `includeObject` option.

use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The `apiVersion` of a `Table` and of the `PartialObjectMetadata` embedded in its rows.
pub const META_API_VERSION: &str = "meta.k8s.io/v1";

/// A list of objects rendered as rows and columns, as `kubectl get` asks for with
/// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
///
/// Serializes exactly as `meta.k8s.io/v1` `Table`. The apiserver fills [`Table::metadata`]
/// (resource version, continue token, remaining item count) after rendering, and clears
/// [`Table::column_definitions`] when the client asked for `noHeaders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    /// Always `"Table"`.
    pub kind: String,
    /// Always `"meta.k8s.io/v1"`.
    pub api_version: String,
    /// List metadata: resource version, continue token, remaining item count.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The columns, in display order; `priority` 1 columns are shown only by `-o wide`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub column_definitions: Vec<TableColumnDefinition>,
    /// One row per object, with one cell per column.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub rows: Vec<TableRow>,
}

impl Table {
    /// An empty-metadata table with the given columns and rows.
    pub fn new(column_definitions: Vec<TableColumnDefinition>, rows: Vec<TableRow>) -> Self {
        Table {
            kind: "Table".to_owned(),
            api_version: META_API_VERSION.to_owned(),
            metadata: ListMeta::default(),
            column_definitions,
            rows,
        }
    }
}

/// One column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableColumnDefinition {
    /// Human readable name; kubectl prints it upper-cased as the header.
    pub name: String,
    /// OpenAPI type of the cells: `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Optional OpenAPI format modifier; `name` marks the column holding the object name.
    #[serde(default)]
    pub format: String,
    /// What the column shows.
    #[serde(default)]
    pub description: String,
    /// 0 for default columns, higher for columns shown only in wider output.
    #[serde(default)]
    pub priority: i32,
}

/// One row of a [`Table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// One JSON value (string, integer, boolean, number or null) per column.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub cells: Vec<Value>,
    /// Extra state of the row (for example a pod that has completed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TableRowCondition>,
    /// The object of the row, as chosen by [`IncludeObject`]; `null` when none.
    #[serde(default)]
    pub object: Option<Value>,
}

impl TableRow {
    /// A row with the given cells, no conditions and no object.
    pub fn new(cells: Vec<Value>) -> Self {
        TableRow {
            cells,
            conditions: Vec::new(),
            object: None,
        }
    }
}

/// A condition attached to a [`TableRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRowCondition {
    /// The condition type; `Completed` is the only one defined upstream.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A machine readable reason for the condition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A human readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// What each row embeds as its `object`, from the `includeObject` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IncludeObject {
    /// `None`: the row's object is `null`.
    None,
    /// `Metadata` (the default): a `PartialObjectMetadata` with the object's metadata.
    #[default]
    Metadata,
    /// `Object`: the whole object.
    Object,
}

impl IncludeObject {
    /// The query parameter spelling of this policy.
    pub fn as_str(self) -> &'static str {
        match self {
            IncludeObject::None => "None",
            IncludeObject::Metadata => "Metadata",
            IncludeObject::Object => "Object",
        }
    }
}

impl fmt::Display for IncludeObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncludeObject {
    type Err = TableError;

    /// Parses the `includeObject` query parameter; the empty string means the default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(TableError::InvalidIncludeObject(other.to_owned())),
        }
    }
}

/// Errors of the table module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The `includeObject` query parameter is not one of `None`, `Metadata`, `Object`.
    #[error("includeObject must be one of Object, Metadata, or None, not {0:?}")]
    InvalidIncludeObject(String),
}

/// Deserializes `null` (what Go writes for a nil slice) as an empty vector.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}
