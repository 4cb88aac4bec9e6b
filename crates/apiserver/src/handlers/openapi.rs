//! `/openapi/v2` (JSON or, as kubectl asks, protobuf) and `/openapi/v3[/<group-version>]`.

use super::App;
use crate::openapi::{V2_PROTOBUF_RESPONSE_CONTENT_TYPE, accepts_v2_protobuf};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use rkube_api::status::ApiError;
use std::sync::Arc;

fn document(content_type: &'static str, body: bytes::Bytes) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /openapi/v2`.
pub async fn v2(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let with_crds = crate::crd::openapi::documents(app.registry.crds()).await;
    let docs = with_crds.as_deref().unwrap_or(&app.openapi);
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accepts_v2_protobuf(accept) {
        document(
            V2_PROTOBUF_RESPONSE_CONTENT_TYPE,
            docs.v2_protobuf().clone(),
        )
    } else {
        document("application/json", docs.v2().clone())
    }
}

/// `GET /openapi/v3`.
pub async fn v3_root(State(app): State<Arc<App>>) -> Response {
    let with_crds = crate::crd::openapi::documents(app.registry.crds()).await;
    let docs = with_crds.as_deref().unwrap_or(&app.openapi);
    document("application/json", docs.v3_root().clone())
}

/// `GET /openapi/v3/{group-version path}`.
pub async fn v3_group_version(State(app): State<Arc<App>>, Path(prefix): Path<String>) -> Response {
    let with_crds = crate::crd::openapi::documents(app.registry.crds()).await;
    let docs = with_crds.as_deref().unwrap_or(&app.openapi);
    match docs.v3_group_version(&prefix) {
        Some(doc) => document("application/json", doc.clone()),
        None => super::respond::error(&ApiError::no_route()),
    }
}
