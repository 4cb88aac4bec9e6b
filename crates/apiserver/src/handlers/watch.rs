//! Watch responses: a chunked stream of newline-delimited `{"type", "object"}` events, as JSON
//! objects or (for `kubectl get -w`) one-row Tables, ended by `timeoutSeconds`.

use super::present;
use super::respond::Output;
use super::{App, Query};
use crate::registry::WatchItem;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{StatusCode, header};
use rkube_api::resources::ResourceInfo;
use rkube_api::table::IncludeObject;
use serde_json::{Value, json};
use std::time::Duration;

/// Upstream's default watch length when the client gives no timeout: 30–60 minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How long a watch lasts: `timeoutSeconds`, or upstream's default.
pub fn timeout(query: &Query) -> Duration {
    query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// An `ERROR` event line.
fn error_line(e: &rkube_api::status::ApiError) -> Result<bytes::Bytes, std::convert::Infallible> {
    let mut line =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_json()})).unwrap_or_default();
    line.push(b'\n');
    Ok(bytes::Bytes::from(line))
}

/// Streams `items` (in the stored version) as the response to a watch request for `info`.
pub fn respond(
    app: &App,
    info: &'static ResourceInfo,
    items: BoxStream<'static, WatchItem>,
    output: Output,
    query: &Query,
) -> Response {
    let timeout = timeout(query);
    let include = query
        .get("includeObject")
        .and_then(|v| v.parse().ok())
        .unwrap_or(IncludeObject::Metadata);
    let clock = app.clock.clone();
    let api_version = info.api_version();
    let mut first_table = true;
    let lines = items
        .take_until(tokio::time::sleep(timeout))
        .map(move |item| {
            let (kind, object) = match item {
                WatchItem::Added(o) => ("ADDED", o),
                WatchItem::Modified(o) => ("MODIFIED", o),
                WatchItem::Deleted(o) => ("DELETED", o),
                WatchItem::Bookmark {
                    revision,
                    initial_events_end,
                } => {
                    let mut meta = json!({"resourceVersion": revision.to_string()});
                    if initial_events_end {
                        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                    }
                    (
                        "BOOKMARK",
                        json!({"kind": info.kind, "apiVersion": api_version, "metadata": meta}),
                    )
                }
                WatchItem::Error(e) => ("ERROR", e.to_json()),
            };
            let object = match (output, kind) {
                (Output::Table, "ADDED" | "MODIFIED" | "DELETED") => {
                    let mut table =
                        present::table(info, std::slice::from_ref(&object), clock(), include);
                    if let Err(e) = present::table_objects(info, &mut table) {
                        return error_line(&e);
                    }
                    table.metadata.resource_version = object["metadata"]["resourceVersion"]
                        .as_str()
                        .map(String::from);
                    // Column definitions go with the first event only, as upstream does.
                    if !first_table {
                        table.column_definitions.clear();
                    }
                    first_table = false;
                    serde_json::to_value(table).unwrap_or(Value::Null)
                }
                (Output::Metadata, "ADDED" | "MODIFIED" | "DELETED") => {
                    super::respond::partial_metadata(&object)
                }
                (Output::Json, "ADDED" | "MODIFIED" | "DELETED") => {
                    match present::object(info, object) {
                        Ok(object) => object,
                        Err(e) => return error_line(&e),
                    }
                }
                _ => object,
            };
            let mut line =
                serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
        });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        Body::from_stream(lines),
    )
        .into_response()
}
