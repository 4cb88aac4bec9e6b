//! The resource endpoint: every `/api/v1/…` and `/apis/{group}/{version}/…` request that
//! names a resource, dispatched to the registry by verb and subresource.

use super::body;
use super::field_validation;
use super::options;
use super::present;
use super::respond::{self, Output};
use super::watch;
use super::{App, Query};
use crate::registry::deletion;
use crate::registry::meta::{meta_str, set_meta};
use crate::registry::{
    DeleteOptions, FieldValidation, Filter, ListOptions, ListResult, WatchOptions, WriteOptions,
    Written,
};
use crate::request::{self, RequestInfo, Verb};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use rkube_api::resources::{self, ResourceInfo};
use rkube_api::selector::{parse_field_selector, parse_label_selector};
use rkube_api::status::ApiError;
use rkube_api::table::IncludeObject;
use serde_json::{Value, json};
use std::sync::Arc;

/// Entry point for resource requests (the router's fallback).
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    // The field manager its registry writes record in managedFields.
    let writer = super::apply::context(req.uri(), req.headers());
    match crate::registry::managed_fields::scope(writer, dispatch(&app, req)).await {
        Ok(resp) => resp,
        Err(e) => respond::error(&e),
    }
}

async fn dispatch(app: &App, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let query = Query::parse(parts.uri.query());
    let ri = request::parse(&parts.method, parts.uri.path(), query.flag("watch"))
        .ok_or_else(ApiError::no_route)?;
    let info = app
        .registry
        .crds()
        .resolve(&ri.group, &ri.version, &ri.resource)
        .ok_or_else(ApiError::no_route)?;
    check_scope(info, &ri)?;
    if let Some(cv) = crate::crd::custom(info) {
        crate::crd::request::check_request(app.registry.crds(), cv, ri.verb, &parts.headers)?;
    }
    // Served by the pod's kubelet (streamed or upgraded), not the registry.
    if super::proxy::is_kubelet_subresource(info, ri.subresource.as_deref()) {
        return super::proxy::pod_subresource(app, &ri, Request::from_parts(parts, body)).await;
    }
    let output = respond::output(&parts.headers)?;
    let ns = ri.namespace.as_deref();
    let write = WriteOptions {
        field_validation: field_validation(&query)?,
        dry_run: options::dry_run(ri.verb, parts.uri.query())?,
    };
    let sub = ri.subresource.as_deref();
    match (ri.verb, sub) {
        (Verb::Get, None | Some("status")) => {
            let obj = app.registry.get(info, ns, name(&ri)).await?;
            render_one(app, info, obj, output, &query, StatusCode::OK, &[])
        }
        (Verb::List, None) => {
            options::validate_list(&query, false)?;
            let opts = list_options(info, &query)?;
            if matches!(output, Output::Json) {
                return super::list_json::respond(app, info, ns, &opts).await;
            }
            let list = app.registry.list(info, ns, &opts).await?;
            render_list(app, info, list, output, &query)
        }
        (Verb::Watch, None) => {
            options::validate_list(&query, true)?;
            let opts = watch_options(info, &query)?;
            let stream = app.registry.watch(info, ns, opts).await?;
            Ok(watch::respond(app, info, stream, output, &query))
        }
        (Verb::Create, None) if resources::is_virtual(info) => {
            // POST /namespaces/{ns}/bindings: a binding for the pod it names.
            let binding = body::decode_object(&parts.headers, &body::read(body).await?)?;
            let pod = meta_str(&binding, "name").unwrap_or("").to_string();
            bind(app, ns, &pod, binding, write.dry_run).await
        }
        (Verb::Create, None) => {
            let bytes = body::read(body).await?;
            let obj = body::decode_object(&parts.headers, &bytes)?;
            let mut warnings =
                field_validation::check_object_body(info, write.field_validation, &bytes, &obj)?;
            let mut written = app.registry.create(info, ns, obj, write).await?;
            warnings.extend(std::mem::take(&mut written.warnings));
            render_written(
                app,
                info,
                written,
                output,
                &query,
                StatusCode::CREATED,
                &warnings,
            )
        }
        (Verb::Create, Some("binding")) if info.kind == "Pod" => {
            let binding = body::decode_object(&parts.headers, &body::read(body).await?)?;
            bind(app, ns, name(&ri), binding, write.dry_run).await
        }
        (Verb::Create, Some("eviction")) if info.kind == "Pod" => {
            let eviction = body::decode_object(&parts.headers, &body::read(body).await?)?;
            let mut opts = delete_options(&query, Some(&eviction["deleteOptions"]), false)?;
            // As upstream: a dry-run eviction (by its CreateOptions) deletes in a dry run.
            opts.dry_run |= write.dry_run;
            app.registry.delete(info, ns, name(&ri), &opts).await?;
            Ok(respond::json(
                StatusCode::CREATED,
                &rkube_api::status::success_status(None),
                &[],
            ))
        }
        (Verb::Update, None | Some("status") | Some("finalize")) => {
            let bytes = body::read(body).await?;
            let obj = body::decode_object(&parts.headers, &bytes)?;
            let mut warnings =
                field_validation::check_object_body(info, write.field_validation, &bytes, &obj)?;
            let mut written = app
                .registry
                .update(info, ns, name(&ri), obj, sub, write)
                .await?;
            warnings.extend(std::mem::take(&mut written.warnings));
            render_written(
                app,
                info,
                written,
                output,
                &query,
                StatusCode::OK,
                &warnings,
            )
        }
        (Verb::Patch, None | Some("status")) => {
            let (body, mut warnings) =
                checked_patch_body(&parts.headers, body, write.field_validation).await?;
            let patch = super::patch::read(&parts.headers, body).await?;
            let (mut written, status) =
                super::patch::update(app, info, ns, name(&ri), sub, &patch, write).await?;
            warnings.extend(std::mem::take(&mut written.warnings));
            render_written(app, info, written, output, &query, status, &warnings)
        }
        (Verb::Get, Some("scale")) => {
            let obj = app.registry.get(info, ns, name(&ri)).await?;
            Ok(respond::json(StatusCode::OK, &scale_view(info, &obj), &[]))
        }
        (Verb::Update | Verb::Patch, Some("scale")) => {
            let current = app.registry.get(info, ns, name(&ri)).await?;
            let (scale, mut warnings) = if ri.verb == Verb::Update {
                (
                    body::decode_object(&parts.headers, &body::read(body).await?)?,
                    Vec::new(),
                )
            } else {
                let (body, warnings) =
                    checked_patch_body(&parts.headers, body, write.field_validation).await?;
                let patch = super::patch::read(&parts.headers, body).await?;
                let scale = super::patch::apply(
                    &patch,
                    &scale_view(info, &current),
                    Some(super::patch::SCALE),
                )?;
                (scale, warnings)
            };
            warnings.extend(field_validation::check_scale(
                write.field_validation,
                &scale,
            )?);
            let obj = match crate::crd::custom(info) {
                Some(_) => crate::crd::scale::scaled(info, current, &scale)
                    .unwrap_or_else(|| Err(ApiError::no_route()))?,
                None => scaled(info, current, &scale)?,
            };
            let written = app
                .registry
                .update(info, ns, name(&ri), obj, None, write)
                .await?;
            Ok(respond::json(
                StatusCode::OK,
                &scale_view(info, &written.object),
                &warnings,
            ))
        }
        (Verb::Delete, None) => {
            let body_opts = delete_options_body(body).await?;
            let opts = delete_options(&query, body_opts.as_ref(), write.dry_run)?;
            crate::registry::priority::check_delete(info, name(&ri))?;
            let obj = app.registry.delete(info, ns, name(&ri), &opts).await?;
            let warnings: Vec<String> = deletion::warning(info, &opts)
                .map(String::from)
                .into_iter()
                .collect();
            render_one(app, info, obj, output, &query, StatusCode::OK, &warnings)
        }
        (Verb::DeleteCollection, None) => {
            let body_opts = delete_options_body(body).await?;
            let opts = delete_options(&query, body_opts.as_ref(), write.dry_run)?;
            let list = app
                .registry
                .list(info, ns, &list_options(info, &query)?)
                .await?;
            let mut deleted = Vec::new();
            for obj in list.items {
                let (obj_ns, obj_name) = (
                    meta_str(&obj, "namespace").map(String::from),
                    crate::registry::meta::name(&obj).to_string(),
                );
                match app
                    .registry
                    .delete(info, obj_ns.as_deref(), &obj_name, &opts)
                    .await
                {
                    Ok(obj) => deleted.push(obj),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            let list = ListResult {
                items: deleted,
                resource_version: list.resource_version,
                continue_token: None,
            };
            let mut resp = render_list(app, info, list, Output::Json, &query)?;
            if let Some(w) = deletion::warning(info, &opts)
                && let Ok(v) = http::HeaderValue::from_str(&format!("299 - {w:?}"))
            {
                resp.headers_mut().append(http::header::WARNING, v);
            }
            Ok(resp)
        }
        _ => Err(ApiError::method_not_allowed("")),
    }
}

fn name(ri: &RequestInfo) -> &str {
    ri.name.as_deref().unwrap_or("")
}

/// Namespaced resources need a namespace except to list across all; cluster-scoped ones
/// never take one; subresources must exist.
fn check_scope(info: &ResourceInfo, ri: &RequestInfo) -> Result<(), ApiError> {
    let collection = matches!(ri.verb, Verb::List | Verb::Watch | Verb::DeleteCollection);
    match (info.namespaced, &ri.namespace) {
        (false, Some(_)) => return Err(ApiError::no_route()),
        (true, None) if !collection || ri.verb == Verb::DeleteCollection => {
            return Err(ApiError::no_route());
        }
        _ => {}
    }
    match &ri.subresource {
        Some(sub) if !info.has_subresource(sub) => Err(ApiError::no_route()),
        _ => Ok(()),
    }
}

fn field_validation(query: &Query) -> Result<FieldValidation, ApiError> {
    match query.get("fieldValidation").unwrap_or("") {
        "" | "Warn" => Ok(FieldValidation::Warn),
        "Strict" => Ok(FieldValidation::Strict),
        "Ignore" => Ok(FieldValidation::Ignore),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// The selectors of a list or watch as one filter.
fn filter(info: &'static ResourceInfo, query: &Query) -> Result<Option<Filter>, ApiError> {
    let labels = match query.get("labelSelector").unwrap_or("") {
        "" => None,
        s => Some(parse_label_selector(s).map_err(|e| ApiError::bad_request(e.to_string()))?),
    };
    let fields = match query.get("fieldSelector").unwrap_or("") {
        "" => None,
        s => {
            let sel = parse_field_selector(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let sel = sel
                .canonicalize_for(info.group, info.plural)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            Some(sel)
        }
    };
    if labels.is_none() && fields.is_none() {
        return Ok(None);
    }
    Ok(Some(Arc::new(move |obj: &Value| {
        labels.as_ref().is_none_or(|l| l.matches_object(obj))
            && fields
                .as_ref()
                .is_none_or(|f| f.matches_object(info.group, info.plural, obj))
    })))
}

/// The value the field selector pins the resource's indexed field to (the watch cache then
/// offers the watch only the changes of objects with that value).
fn index_value(info: &'static ResourceInfo, query: &Query) -> Option<String> {
    let (field, _) = crate::registry::watch_index::indexed_field(info)?;
    let selector = parse_field_selector(query.get("fieldSelector")?).ok()?;
    let selector = selector.canonicalize_for(info.group, info.plural).ok()?;
    selector.requires_exact_match(field).map(String::from)
}

fn list_options(info: &'static ResourceInfo, query: &Query) -> Result<ListOptions, ApiError> {
    let limit = match query.get("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| *l >= 0)
            .ok_or_else(|| ApiError::bad_request(format!("invalid limit: {l:?}")))?,
    };
    Ok(ListOptions {
        filter: filter(info, query)?,
        limit,
        continue_token: query
            .get("continue")
            .filter(|c| !c.is_empty())
            .map(String::from),
        resource_version: query.get("resourceVersion").map(String::from),
        resource_version_match: query.get("resourceVersionMatch").map(String::from),
    })
}

fn watch_options(info: &'static ResourceInfo, query: &Query) -> Result<WatchOptions, ApiError> {
    Ok(WatchOptions {
        filter: filter(info, query)?,
        index_value: index_value(info, query),
        resource_version: query.get("resourceVersion").map(String::from),
        allow_bookmarks: query.flag("allowWatchBookmarks"),
        send_initial_events: query.get("sendInitialEvents").map(|v| v == "true"),
        bookmark_interval: None,
        timeout: Some(watch::timeout(query)),
    })
}

/// A PATCH body checked for repeated fields (merge and strategic merge patches; the other
/// types are left to their decoders), handed back for decoding with the warnings found.
async fn checked_patch_body(
    headers: &http::HeaderMap,
    body: Body,
    validation: FieldValidation,
) -> Result<(Body, Vec<String>), ApiError> {
    match body::patch_type(headers) {
        Ok(body::PatchType::Merge | body::PatchType::StrategicMerge) => {
            let bytes = body::read(body).await?;
            let warnings = field_validation::check_patch_body(validation, &bytes)?;
            Ok((Body::from(bytes), warnings))
        }
        _ => Ok((body, Vec::new())),
    }
}

/// The `DeleteOptions` a DELETE may carry as its body.
async fn delete_options_body(body: Body) -> Result<Option<Value>, ApiError> {
    let bytes = body::read(body).await?;
    (!bytes.is_empty())
        .then(|| serde_json::from_slice::<Value>(&bytes))
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))
}

/// The `DeleteOptions` of a delete: from its body when it has one, else from the query (as
/// upstream, which never mixes the two; `query_dry_run` is the query's `dryRun`), validated
/// as upstream's `ValidateDeleteOptions`.
fn delete_options(
    query: &Query,
    body: Option<&Value>,
    query_dry_run: bool,
) -> Result<DeleteOptions, ApiError> {
    let opts = match body.filter(|b| b.is_object()) {
        Some(body) => DeleteOptions {
            dry_run: options::body_dry_run(Some(body))?,
            grace_period_seconds: match &body["gracePeriodSeconds"] {
                Value::Null => None,
                g => Some(g.as_i64().ok_or_else(|| {
                    ApiError::bad_request(format!("invalid DeleteOptions: gracePeriodSeconds: {g}"))
                })?),
            },
            propagation_policy: match &body["propagationPolicy"] {
                Value::Null => None,
                p => Some(p.as_str().map(String::from).ok_or_else(|| {
                    ApiError::bad_request(format!("invalid DeleteOptions: propagationPolicy: {p}"))
                })?),
            },
            orphan_dependents: match &body["orphanDependents"] {
                Value::Null => None,
                o => Some(o.as_bool().ok_or_else(|| {
                    ApiError::bad_request(format!("invalid DeleteOptions: orphanDependents: {o}"))
                })?),
            },
            precondition_uid: body["preconditions"]["uid"].as_str().map(String::from),
            precondition_resource_version: body["preconditions"]["resourceVersion"]
                .as_str()
                .map(String::from),
        },
        None => DeleteOptions {
            grace_period_seconds: query
                .get("gracePeriodSeconds")
                .map(|g| {
                    g.parse::<i64>().map_err(|_| {
                        ApiError::bad_request(format!("invalid gracePeriodSeconds: {g:?}"))
                    })
                })
                .transpose()?,
            propagation_policy: query.get("propagationPolicy").map(String::from),
            orphan_dependents: query
                .get("orphanDependents")
                .map(|o| {
                    o.parse::<bool>().map_err(|_| {
                        ApiError::bad_request(format!("invalid orphanDependents: {o:?}"))
                    })
                })
                .transpose()?,
            precondition_uid: None,
            precondition_resource_version: None,
            dry_run: query_dry_run,
        },
    };
    let mut causes = Vec::new();
    if let Some(p) = &opts.propagation_policy {
        if opts.orphan_dependents.is_some() {
            causes.push(rkube_api::status::FieldCause::invalid(
                "propagationPolicy",
                &json!(p),
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            causes.push(rkube_api::status::FieldCause::not_supported(
                "propagationPolicy",
                &json!(p),
                &["Foreground", "Background", "Orphan", "nil"],
            ));
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid_options("DeleteOptions", causes));
    }
    Ok(opts)
}

/// POST pods/{name}/binding: sets `spec.nodeName` once.
async fn bind(
    app: &App,
    ns: Option<&str>,
    pod_name: &str,
    binding: Value,
    dry_run: bool,
) -> Result<Response, ApiError> {
    let pods = resources::find("", "v1", "pods").expect("pods are built in");
    let node = binding["target"]["name"].as_str().unwrap_or("").to_string();
    if node.is_empty() {
        return Err(ApiError::invalid(
            pods,
            pod_name,
            vec![rkube_api::status::FieldCause::required("target.name")],
        ));
    }
    app.registry
        .bind(
            ns,
            pod_name,
            crate::registry::binding::BindRequest {
                node: &node,
                uid: binding["metadata"]["uid"].as_str(),
                annotations: binding["metadata"]["annotations"].as_object(),
                dry_run,
            },
        )
        .await?;
    Ok(respond::json(
        StatusCode::CREATED,
        &rkube_api::status::success_status(None),
        &[],
    ))
}

/// The Scale of an object: a custom resource's from its CRD's paths, else [`scale_of`].
fn scale_view(info: &ResourceInfo, obj: &Value) -> Value {
    crate::crd::scale::scale_of(info, obj).unwrap_or_else(|| scale_of(obj))
}

/// The `autoscaling/v1` Scale view of an object with `spec.replicas`.
fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = match &obj["spec"]["selector"] {
        Value::Object(m) if m.contains_key("matchLabels") || m.contains_key("matchExpressions") => {
            selector_string(&obj["spec"]["selector"])
        }
        Value::Object(m) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

fn selector_string(selector: &Value) -> String {
    let meta: Result<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector, _> =
        serde_json::from_value(selector.clone());
    meta.ok()
        .and_then(|m| rkube_api::selector::LabelSelector::from_meta(&m).ok())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Applies a Scale's `spec.replicas` to the object (honouring the Scale's resourceVersion).
fn scaled(info: &ResourceInfo, mut obj: Value, scale: &Value) -> Result<Value, ApiError> {
    let Some(replicas) = scale["spec"]["replicas"].as_i64() else {
        return Err(ApiError::invalid(
            info,
            crate::registry::meta::name(&obj),
            vec![rkube_api::status::FieldCause::required("spec.replicas")],
        ));
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            info,
            crate::registry::meta::name(&obj),
            vec![rkube_api::status::FieldCause::invalid(
                "spec.replicas",
                &json!(replicas),
                "must be greater than or equal to 0",
            )],
        ));
    }
    obj["spec"]["replicas"] = replicas.into();
    let rv = scale["metadata"]["resourceVersion"]
        .as_str()
        .filter(|r| !r.is_empty());
    set_meta(&mut obj, "resourceVersion", rv.map(Value::from));
    Ok(obj)
}

fn include_object(query: &Query) -> Result<IncludeObject, ApiError> {
    query
        .get("includeObject")
        .unwrap_or("")
        .parse()
        .map_err(|e: rkube_api::table::TableError| ApiError::bad_request(e.to_string()))
}

/// Renders a write's object; when the bytes just stored are the answer asked for (JSON, a
/// built-in kind in its stored version), they are copied rather than the object encoded
/// again (the same JSON, by `stored_json`'s contract).
fn render_written(
    app: &App,
    info: &'static ResourceInfo,
    written: Written,
    output: Output,
    query: &Query,
    status: StatusCode,
    warnings: &[String],
) -> Result<Response, ApiError> {
    if let (Output::Json, Some((bytes, revision))) = (output, &written.stored)
        && present::shows_as_stored(info)
    {
        let mut body = Vec::with_capacity(bytes.len() + 32);
        crate::registry::stored_json::write_object(&mut body, bytes, *revision)?;
        return Ok(respond::json_bytes(status, body, warnings));
    }
    render_one(app, info, written.object, output, query, status, warnings)
}

/// Renders one object the registry answered (in the stored version) as `info`'s version.
fn render_one(
    app: &App,
    info: &'static ResourceInfo,
    obj: Value,
    output: Output,
    query: &Query,
    status: StatusCode,
    warnings: &[String],
) -> Result<Response, ApiError> {
    match output {
        Output::Json => Ok(respond::json(
            status,
            &present::object(info, obj)?,
            warnings,
        )),
        Output::Metadata => Ok(respond::json(
            status,
            &respond::partial_metadata(&obj),
            warnings,
        )),
        Output::Table => {
            let mut table = present::table(
                info,
                std::slice::from_ref(&obj),
                app.now(),
                include_object(query)?,
            );
            present::table_objects(info, &mut table)?;
            table.metadata.resource_version = meta_str(&obj, "resourceVersion").map(String::from);
            Ok(respond::json(
                status,
                &serde_json::to_value(table).unwrap_or_default(),
                warnings,
            ))
        }
    }
}

/// Renders a list the registry answered (in the stored version) as `info`'s version.
fn render_list(
    app: &App,
    info: &'static ResourceInfo,
    list: ListResult,
    output: Output,
    query: &Query,
) -> Result<Response, ApiError> {
    let rv = list.resource_version.to_string();
    let value = match output {
        Output::Json => {
            let items = list
                .items
                .into_iter()
                .map(|o| {
                    let mut o = present::object(info, o)?;
                    // Items of a list carry no type (as upstream sends them).
                    if let Some(m) = o.as_object_mut() {
                        m.remove("kind");
                        m.remove("apiVersion");
                    }
                    Ok(o)
                })
                .collect::<Result<Vec<Value>, ApiError>>()?;
            let mut metadata = json!({"resourceVersion": rv});
            if let Some(c) = list.continue_token {
                metadata["continue"] = c.into();
            }
            list_body(info.list_kind(), info.api_version(), metadata, items)
        }
        Output::Metadata => {
            let items: Vec<Value> = list.items.iter().map(respond::partial_metadata).collect();
            let mut metadata = json!({"resourceVersion": rv});
            if let Some(c) = list.continue_token {
                metadata["continue"] = c.into();
            }
            list_body(
                "PartialObjectMetadataList".into(),
                "meta.k8s.io/v1".into(),
                metadata,
                items,
            )
        }
        Output::Table => {
            let mut table = present::table(info, &list.items, app.now(), include_object(query)?);
            present::table_objects(info, &mut table)?;
            table.metadata.resource_version = Some(rv);
            table.metadata.continue_ = list.continue_token;
            serde_json::to_value(table).unwrap_or_default()
        }
    };
    Ok(respond::json(StatusCode::OK, &value, &[]))
}

/// A list response body. The items are moved in: `json!` would deep-copy every one of them
/// (it serializes its arguments to new values), which dominated LIST time for 10 000 pods.
fn list_body(kind: String, api_version: String, metadata: Value, items: Vec<Value>) -> Value {
    let mut body = serde_json::Map::with_capacity(4);
    body.insert("kind".into(), kind.into());
    body.insert("apiVersion".into(), api_version.into());
    body.insert("metadata".into(), metadata);
    body.insert("items".into(), Value::Array(items));
    Value::Object(body)
}
