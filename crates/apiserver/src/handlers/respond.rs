//! Responses: JSON objects, `Status` errors, Table output, and `Warning` headers.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rkube_api::status::ApiError;
use serde_json::Value;

/// What the client asked to receive, from `Accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The object(s) as JSON.
    Json,
    /// A `meta.k8s.io/v1` Table.
    Table,
    /// `PartialObjectMetadata` (or `…List`): metadata only.
    Metadata,
}

/// An object reduced to a `meta.k8s.io/v1` `PartialObjectMetadata`.
pub fn partial_metadata(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

/// Reads `Accept`: Table when the client lists a Table media type (kubectl get does, with
/// plain JSON as its fallback).
pub fn output(headers: &HeaderMap) -> Result<Output, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.is_empty() {
        return Ok(Output::Json);
    }
    let mut json_ok = false;
    for item in accept.split(',') {
        let params: Vec<&str> = item.split(';').map(str::trim).collect();
        let media = params[0];
        let has = |p: &str| params.iter().any(|x| x.replace(' ', "") == p);
        if matches!(media, "application/json" | "*/*" | "application/*") {
            let meta_v1 = has("g=meta.k8s.io") && (has("v=v1") || has("v=v1beta1"));
            if has("as=Table") && meta_v1 {
                return Ok(Output::Table);
            }
            if (has("as=PartialObjectMetadata") || has("as=PartialObjectMetadataList")) && meta_v1 {
                return Ok(Output::Metadata);
            }
            if !params.iter().any(|p| p.starts_with("as=")) {
                json_ok = true;
            }
        }
        if media == "application/yaml" {
            json_ok = true; // we answer JSON, which is YAML; clients handle it
        }
    }
    if json_ok {
        Ok(Output::Json)
    } else {
        Err(ApiError::not_acceptable(format!(
            "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io (asked for {accept:?})"
        )))
    }
}

/// A JSON response.
pub fn json(status: StatusCode, body: &Value, warnings: &[String]) -> Response {
    json_bytes(
        status,
        serde_json::to_vec(body).unwrap_or_default(),
        warnings,
    )
}

/// A JSON response whose body is already encoded.
pub fn json_bytes(status: StatusCode, body: Vec<u8>, warnings: &[String]) -> Response {
    let mut resp = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    for w in warnings {
        // Upstream's format: 299 - "text"
        let text = format!("299 - {:?}", w);
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// A `Status` error response.
pub fn error(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json(status, &err.to_json(), &[]);
    if let Some(secs) = err.details.as_ref().and_then(|d| d.retry_after_seconds)
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}
