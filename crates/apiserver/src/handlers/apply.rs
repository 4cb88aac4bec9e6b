//! Server-side apply (`PATCH` with `application/apply-patch+yaml`) and the request's field
//! manager. The applied configuration is merged into the live object by the ownership rules
//! of `rkube_api::apply`, conflicts with other managers answer 409 (unless `force=true`),
//! and the result is written through the ordinary update path pinned to the revision it
//! was computed from (re-done on a lost race). Applying to a missing object creates it.

use super::App;
use super::present;
use crate::registry::managed_fields::{self, Context};
use crate::registry::meta::{meta_str, set_meta};
use crate::registry::{WriteOptions, Written};
use rkube_api::apply::{ManagedFields, Write, conflict_error};
use rkube_api::resources::{ResourceInfo, storage_version};
use rkube_api::status::{ApiError, FieldCause};
use serde_json::Value;

/// How many times an apply is re-done after losing a race with another writer.
const MAX_ATTEMPTS: usize = 32;

/// The writer of a request's registry writes: `?fieldManager=`, else upstream's default
/// from the User-Agent; with the raw `force` option for the patch path to check.
pub fn context(uri: &http::Uri, headers: &http::HeaderMap) -> Context {
    let query = super::Query::parse(uri.query());
    let given = query.get("fieldManager").map(String::from);
    let manager = given.clone().unwrap_or_else(|| {
        managed_fields::manager_from_user_agent(
            headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    });
    Context {
        manager,
        field_manager: given,
        force: query.get("force").map(String::from),
        applied: None,
    }
}

fn current_context() -> Option<Context> {
    managed_fields::current()
}

/// Upstream's `PatchOptions` checks: `force` only for apply, `fieldManager` required for
/// apply and at most 128 printable characters.
pub fn check_options(apply: bool) -> Result<(), ApiError> {
    let Some(ctx) = current_context() else {
        return Ok(());
    };
    let mut causes = Vec::new();
    if !apply && ctx.force.is_some() {
        causes.push(FieldCause::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ));
    }
    let given = ctx.field_manager.as_deref().unwrap_or("");
    if apply && given.is_empty() {
        causes.push(FieldCause::required_detail(
            "fieldManager",
            "is required for apply patch",
        ));
    }
    if given.len() > 128 {
        causes.push(FieldCause::too_long("fieldManager", 128));
    }
    if given.chars().any(char::is_control) {
        causes.push(FieldCause::invalid(
            "fieldManager",
            &Value::String(given.to_string()),
            "must only contain printable characters",
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_options("PatchOptions", causes))
    }
}

/// Decodes an apply body (YAML or JSON) into the configuration object.
pub fn decode(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("error converting YAML to JSON: invalid UTF-8"))?;
    let config: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "the apply configuration must be an object",
        ));
    }
    Ok(config)
}

/// Applies `config` to the object (or its `subresource`), creating it when missing.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    app: &App,
    info: &'static ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    config: &Value,
    write: WriteOptions,
) -> Result<(Written, bool), ApiError> {
    check_options(true)?;
    let ctx = current_context().unwrap_or_else(|| Context {
        manager: String::new(),
        field_manager: None,
        force: None,
        applied: None,
    });
    check_config(info, config)?;
    let force = matches!(ctx.force.as_deref(), Some("true" | "1"));
    let pinned = meta_str(config, "resourceVersion").is_some_and(|rv| !rv.is_empty());
    let stored = storage_version(info);
    let definition = super::patch::definition(info);
    let api_version = info.api_version();
    let mut attempt = 1;
    loop {
        let now = crate::registry::managed_fields::now_seconds();
        let w = Write {
            manager: &ctx.manager,
            api_version: &api_version,
            subresource: subresource.unwrap_or(""),
            time: &now,
            definition: definition.as_deref(),
            has_status: stored.has_subresource("status"),
        };
        let live = match app.registry.get(info, namespace, name).await {
            Ok(obj) => Some(present::object(info, obj)?),
            Err(e) if e.code == 404 && subresource.is_none() => None,
            Err(e) => return Err(e),
        };
        let mut managed = live.as_ref().map(ManagedFields::of).unwrap_or_default();
        let mut merged = managed
            .apply(live.as_ref(), config, force, &w)
            .map_err(|c| conflict_error(&c))?;
        managed.write_to(&mut merged);
        let applied = Context {
            applied: Some(managed.encode()),
            ..ctx.clone()
        };
        let result = match &live {
            Some(live) => {
                if !pinned {
                    // Written only over the revision it was computed from.
                    set_meta(
                        &mut merged,
                        "resourceVersion",
                        meta_str(live, "resourceVersion").map(|rv| rv.to_string().into()),
                    );
                }
                managed_fields::scope(
                    applied,
                    app.registry
                        .update(info, namespace, name, merged, subresource, write),
                )
                .await
            }
            None => {
                if meta_str(&merged, "name").is_none_or(str::is_empty) {
                    set_meta(&mut merged, "name", Some(name.into()));
                }
                managed_fields::scope(applied, app.registry.create(info, namespace, merged, write))
                    .await
            }
        };
        match result {
            Err(e)
                if (e.code == 409 && e.reason == "Conflict" && !pinned
                    || e.reason == "AlreadyExists"
                    || (e.code == 404 && live.is_some()))
                    && attempt < MAX_ATTEMPTS =>
            {
                attempt += 1;
            }
            result => return result.map(|w| (w, live.is_none())),
        }
    }
}

/// What upstream refuses in an applied configuration before merging it.
fn check_config(info: &ResourceInfo, config: &Value) -> Result<(), ApiError> {
    let api_version = info.api_version();
    match config.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v == api_version => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "Incorrect version specified in apply patch. Specified patch version: {}, expected: {api_version}",
                other.unwrap_or("")
            )));
        }
    }
    if config.get("kind").and_then(Value::as_str) != Some(info.kind) {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({}) does not match the expected kind ({})",
            config.get("kind").and_then(Value::as_str).unwrap_or(""),
            info.kind
        )));
    }
    if config
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    Ok(())
}
