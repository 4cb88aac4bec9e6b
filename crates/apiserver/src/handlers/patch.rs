//! PATCH: decoding a JSON merge patch, an RFC 6902 JSON patch, a strategic merge patch or a
//! server-side apply configuration (handed to [`super::apply`]), and applying it through the
//! ordinary update path (validation, the status/spec split of
//! subresources, optimistic concurrency). As upstream, a patch that does not pin
//! `metadata.resourceVersion` is re-applied to the fresh object when another writer got in
//! between, rather than failing with 409.

use axum::body::Body;
use http::StatusCode;
use rkube_api::patch::json::JsonPatch;
use rkube_api::patch::{PatchError, schema, strategic};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use serde_json::Value;

use super::App;
use super::body::{self, PatchType};
use super::present;
use crate::registry::meta::meta_str;
use crate::registry::{WriteOptions, Written};

/// The definition of the `scale` subresource's object, `autoscaling/v1` `Scale`.
pub const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

/// How many times a patch is re-applied after losing a race with another writer. Each round
/// some writer wins, so this bounds the wait without failing patches under ordinary
/// contention (upstream's store retries until it succeeds).
const MAX_ATTEMPTS: usize = 32;

/// A decoded patch body.
#[derive(Debug, Clone)]
pub enum Patch {
    /// `application/merge-patch+json` (RFC 7386).
    Merge(Value),
    /// `application/json-patch+json` (RFC 6902).
    Json(JsonPatch),
    /// `application/strategic-merge-patch+json`.
    Strategic(Value),
    /// `application/apply-patch+yaml`: the applied configuration.
    Apply(Value),
}

/// Reads and decodes the body by its Content-Type.
pub async fn read(headers: &http::HeaderMap, body: Body) -> Result<Patch, ApiError> {
    let kind = body::patch_type(headers)?;
    super::apply::check_options(kind == PatchType::Apply)?;
    let bytes = body::read(body).await?;
    if kind == PatchType::Apply {
        return super::apply::decode(&bytes).map(Patch::Apply);
    }
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match kind {
        PatchType::Json => JsonPatch::parse(&doc)
            .map(Patch::Json)
            .map_err(to_api_error),
        PatchType::StrategicMerge => Ok(Patch::Strategic(doc)),
        _ => Ok(Patch::Merge(doc)),
    }
}

/// The patched copy of `obj`, an object of `definition` (the built-in type strategic merge
/// patches need; `None` for types without one, which refuse them with 415 as upstream).
pub fn apply(patch: &Patch, obj: &Value, definition: Option<&str>) -> Result<Value, ApiError> {
    match patch {
        Patch::Merge(doc) => {
            if !doc.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            let mut out = obj.clone();
            body::merge_patch(&mut out, doc);
            Ok(out)
        }
        Patch::Json(ops) => ops.apply(obj).map_err(to_api_error),
        Patch::Apply(_) => Err(ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: "server-side apply is not supported for this subresource".into(),
            details: None,
        }),
        Patch::Strategic(doc) => {
            let definition = definition.ok_or_else(|| ApiError {
                code: 415,
                reason: "UnsupportedMediaType",
                message: "the body of the request was in an unknown format - accepted media \
                          types include: application/json-patch+json, \
                          application/merge-patch+json, application/apply-patch+yaml"
                    .into(),
                details: None,
            })?;
            strategic::apply(obj, doc, definition).map_err(to_api_error)
        }
    }
}

/// The definition strategic merge patches of `info`'s objects merge by.
pub fn definition(info: &ResourceInfo) -> Option<String> {
    schema::definition_of(info.group, info.version, info.kind)
}

/// Patches the object (or its `status`) and stores it, re-reading and re-applying when a
/// concurrent write wins the race and the patch did not ask for a specific resourceVersion.
/// Returns the status to answer with: 201 when an apply created the object, else 200.
pub async fn update(
    app: &App,
    info: &'static ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    patch: &Patch,
    write: WriteOptions,
) -> Result<(Written, StatusCode), ApiError> {
    if let Patch::Apply(config) = patch {
        let (written, created) =
            super::apply::update(app, info, namespace, name, subresource, config, write).await?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok((written, status));
    }
    let definition = definition(info);
    let mut attempt = 1;
    loop {
        // The patch speaks the requested version.
        let current = present::object(info, app.registry.get(info, namespace, name).await?)?;
        let patched = apply(patch, &current, definition.as_deref())?;
        let pinned = meta_str(&patched, "resourceVersion") != meta_str(&current, "resourceVersion");
        match app
            .registry
            .update(info, namespace, name, patched, subresource, write)
            .await
        {
            Err(e) if e.code == 409 && !pinned && attempt < MAX_ATTEMPTS => attempt += 1,
            result => return result.map(|w| (w, StatusCode::OK)),
        }
    }
}

/// 400 for a malformed patch, 422 for one that does not apply, 413 for too many operations.
fn to_api_error(e: PatchError) -> ApiError {
    match e {
        PatchError::Malformed(message) => ApiError::bad_request(message),
        PatchError::DoesNotApply(message) => ApiError {
            code: 422,
            reason: "Invalid",
            message,
            details: None,
        },
        e @ PatchError::TooManyOperations { .. } => ApiError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: e.to_string(),
            details: None,
        },
    }
}
