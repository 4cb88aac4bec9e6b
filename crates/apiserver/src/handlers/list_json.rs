//! A JSON list response written item by item: each object is read, presented in the
//! requested version and serialized before the next is read, so a LIST of every pod in a
//! large cluster holds its encoded body and one decoded object, not every object decoded
//! (several times the encoded size). Table and metadata-only lists stay on the collecting
//! path: their rows are small.
//!
//! When the request needs no decoded object (see [`copies_stored`]) the items are not even
//! decoded: each is written from its stored bytes ([`crate::registry::stored_json`]), the bulk of a large LIST's
//! cost otherwise.
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
    let mut separate = |body: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            body.push(b',');
        }
    };
    let summary = if copies_stored(info, opts) {
        app.registry
            .list_each_raw(info, namespace, opts, &mut |bytes, revision| {
                separate(&mut body);
                crate::registry::stored_json::write_item(&mut body, bytes, revision)
            })
            .await?
    } else {
        app.registry
            .list_each(info, namespace, opts, &mut |obj| {
                let mut obj = present::object(info, obj)?;
                // Items of a list carry no type (as upstream sends them).
                if let Some(m) = obj.as_object_mut() {
                    m.remove("kind");
                    m.remove("apiVersion");
                }
                separate(&mut body);
                write(&mut body, &obj)
            })
            .await?
    };
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

/// Whether the items are the stored objects as they are (but for their `resourceVersion`,
/// `kind` and `apiVersion`), so that they can be copied from the stored bytes: no selector
/// reads them, and [`present::object`] returns them unchanged — the stored version is asked
/// for, and the resource is not a custom resource (those are pruned and defaulted).
fn copies_stored(info: &'static ResourceInfo, opts: &ListOptions) -> bool {
    opts.filter.is_none() && present::shows_as_stored(info)
}

fn write(out: &mut Vec<u8>, value: &impl Serialize) -> Result<(), ApiError> {
    serde_json::to_writer(out, value).map_err(|e| ApiError::internal(format!("encoding: {e}")))
}
