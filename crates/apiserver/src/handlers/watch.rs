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

/// An event line: `{"type":…,"object":…}` around the object's JSON.
fn line(kind: &str, object: &[u8]) -> Result<bytes::Bytes, std::convert::Infallible> {
    let mut line = Vec::with_capacity(object.len() + kind.len() + 24);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(kind.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(object);
    line.extend_from_slice(b"}\n");
    Ok(bytes::Bytes::from(line))
}

/// An event line for a JSON value.
fn value_line(kind: &str, object: &Value) -> Result<bytes::Bytes, std::convert::Infallible> {
    line(kind, &serde_json::to_vec(object).unwrap_or_default())
}

/// An `ERROR` event line.
fn error_line(e: &rkube_api::status::ApiError) -> Result<bytes::Bytes, std::convert::Infallible> {
    value_line("ERROR", &e.to_json())
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
                    let bookmark =
                        json!({"kind": info.kind, "apiVersion": api_version, "metadata": meta});
                    return value_line("BOOKMARK", &bookmark);
                }
                WatchItem::Error(e) => return error_line(&e),
            };
            match output {
                Output::Table => {
                    let mut table = present::table(
                        info,
                        std::slice::from_ref(object.value()),
                        clock(),
                        include,
                    );
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
                    line(kind, &serde_json::to_vec(&table).unwrap_or_default())
                }
                Output::Metadata => value_line(kind, &super::respond::partial_metadata(&object)),
                // The same bytes for every watcher of the event.
                Output::Json if present::shows_as_stored(info) => line(kind, &object.encoded()),
                Output::Json => match present::object(info, object.into_value()) {
                    Ok(object) => value_line(kind, &object),
                    Err(e) => error_line(&e),
                },
            }
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
