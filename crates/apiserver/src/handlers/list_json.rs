//! A JSON list response written item by item: each object is read, presented in the
//! requested version and serialized before the next is read, so a LIST of every pod in a
//! large cluster holds its encoded body and one decoded object, not every object decoded
//! (several times the encoded size). Table and metadata-only lists stay on the collecting
//! path: their rows are small.
//!
//! The list's `metadata` (its resourceVersion and continue token are known only once the
//! items are read) follows the items; JSON clients do not depend on key order.

use super::App;
use super::present;
use crate::registry::ListOptions;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use serde::Serialize;
use serde_json::json;

/// The `…List` of `info`'s objects `opts` selects, in `namespace` or all.
pub(super) async fn respond(
    app: &App,
    info: &'static ResourceInfo,
    namespace: Option<&str>,
    opts: &ListOptions,
) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(16 * 1024);
    body.extend_from_slice(br#"{"kind":"#);
    write(&mut body, &info.list_kind())?;
    body.extend_from_slice(br#","apiVersion":"#);
    write(&mut body, &info.api_version())?;
    body.extend_from_slice(br#","items":["#);
    let mut first = true;
    let summary = app
        .registry
        .list_each(info, namespace, opts, &mut |obj| {
            let mut obj = present::object(info, obj)?;
            // Items of a list carry no type (as upstream sends them).
            if let Some(m) = obj.as_object_mut() {
                m.remove("kind");
                m.remove("apiVersion");
            }
            if !first {
                body.push(b',');
            }
            first = false;
            write(&mut body, &obj)
        })
        .await?;
    let mut metadata = json!({"resourceVersion": summary.resource_version.to_string()});
    if let Some(c) = summary.continue_token {
        metadata["continue"] = c.into();
    }
    body.extend_from_slice(br#"],"metadata":"#);
    write(&mut body, &metadata)?;
    body.push(b'}');
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

fn write(out: &mut Vec<u8>, value: &impl Serialize) -> Result<(), ApiError> {
    serde_json::to_writer(out, value).map_err(|e| ApiError::internal(format!("encoding: {e}")))
}
