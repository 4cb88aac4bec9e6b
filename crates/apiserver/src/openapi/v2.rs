//! The Swagger 2.0 document (`/openapi/v2`): every path and every definition in one document.

use serde_json::{Map, Value, json};

use super::operations::{Body, GroupVersion, Method, Operation, PathItem};
use super::params::Param;
use super::refs::V2_PREFIX;
use super::schemas::{DELETE_OPTIONS, PATCH};
use super::{KUBERNETES_VERSION, status_text};

/// The whole v2 document, taking the catalog's definitions.
pub(crate) fn document(gvs: &[GroupVersion], definitions: Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for gv in gvs {
        for item in &gv.items {
            paths.insert(item.path.clone(), path_item(item));
        }
    }
    let mut doc = json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            },
        },
        "security": [{"BearerToken": []}],
    });
    // Moved in, not embedded with `json!`, which would copy these megabytes.
    doc["paths"] = Value::Object(paths);
    doc["definitions"] = Value::Object(definitions);
    doc
}

fn path_item(item: &PathItem) -> Value {
    let mut out = Map::new();
    if !item.params.is_empty() {
        out.insert(
            "parameters".into(),
            item.params.iter().map(param).collect::<Vec<_>>().into(),
        );
    }
    for op in &item.ops {
        out.insert(op.method.as_str().into(), operation(op));
    }
    Value::Object(out)
}

fn param(p: &Param) -> Value {
    let mut v = json!({
        "name": p.name,
        "in": p.location.as_str(),
        "description": p.description,
        "type": p.ty,
        "uniqueItems": true,
    });
    if p.required() {
        v["required"] = json!(true);
    }
    v
}

fn reference(def: &str) -> Value {
    json!({"$ref": format!("{V2_PREFIX}{def}")})
}

fn operation(op: &Operation) -> Value {
    let mut params: Vec<Value> = Vec::new();
    match &op.body {
        Some(Body::Object(def)) => params.push(json!({
            "name": "body", "in": "body", "required": true, "schema": reference(def),
        })),
        Some(Body::Patch) => params.push(json!({
            "name": "body", "in": "body", "required": true, "schema": reference(PATCH),
        })),
        Some(Body::DeleteOptions) => params.push(json!({
            "name": "body", "in": "body", "schema": reference(DELETE_OPTIONS),
        })),
        None => {}
    }
    params.extend(op.params.iter().map(param));

    let consumes: Vec<&str> = if op.method == Method::Patch {
        super::patch_content_types(op)
    } else {
        vec!["*/*"]
    };
    let mut produces = vec!["application/json"];
    if op.watch {
        produces.push("application/json;stream=watch");
    }

    let mut responses = Map::new();
    for (code, def) in &op.responses {
        responses.insert(
            code.to_string(),
            json!({"description": status_text(*code), "schema": reference(def)}),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));

    let mut out = json!({
        "description": op.description,
        "operationId": op.id,
        "consumes": consumes,
        "produces": produces,
        "schemes": ["https"],
        "tags": [op.tag],
        "responses": responses,
    });
    if !params.is_empty() {
        out["parameters"] = params.into();
    }
    if let Some(action) = op.action {
        out["x-kubernetes-action"] = json!(action);
    }
    if let Some(gvk) = &op.gvk {
        out["x-kubernetes-group-version-kind"] = gvk.to_json();
    }
    out
}
