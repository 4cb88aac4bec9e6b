//! The OpenAPI 3.0 documents (`/openapi/v3/<group-version>`): one per group version, with the
//! definitions its operations reach under `components.schemas`.

use serde_json::{Map, Value, json};

use super::operations::{self, Body, GroupVersion, Method, Operation, PathItem};
use super::params::Param;
use super::refs::{self, V2_PREFIX, V3_PREFIX};
use super::schemas::{Catalog, DELETE_OPTIONS, PATCH};
use super::{KUBERNETES_VERSION, status_text};

/// The document of one group version.
pub(crate) fn document(gv: &GroupVersion, catalog: &Catalog) -> Value {
    let mut paths = Map::new();
    let mut roots: Vec<&str> = Vec::new();
    for item in &gv.items {
        paths.insert(item.path.clone(), path_item(item));
        for op in &item.ops {
            roots.extend(operations::referenced_definitions(op));
        }
    }
    let mut schemas = Map::new();
    for name in refs::closure(&catalog.definitions, roots) {
        if let Some(def) = catalog.definitions.get(&name) {
            let mut def = def.clone();
            refs::rewrite(&mut def, V2_PREFIX, V3_PREFIX);
            schemas.insert(name, def);
        }
    }
    let mut doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "components": {
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                },
            },
        },
        "security": [{"BearerToken": []}],
    });
    // Moved in, not embedded with `json!`, which would copy them.
    doc["paths"] = Value::Object(paths);
    doc["components"]["schemas"] = Value::Object(schemas);
    doc
}

/// The root document: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}}}`.
pub(crate) fn root<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let paths: Map<String, Value> = entries
        .into_iter()
        .map(|(prefix, hash)| {
            (
                prefix.to_string(),
                json!({"serverRelativeURL": format!("/openapi/v3/{prefix}?hash={hash}")}),
            )
        })
        .collect();
    json!({"paths": paths})
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
        "schema": {"type": p.ty, "uniqueItems": true},
    });
    if p.required() {
        v["required"] = json!(true);
    }
    v
}

fn reference(def: &str) -> Value {
    json!({"$ref": format!("{V3_PREFIX}{def}")})
}

fn content<'a>(types: impl IntoIterator<Item = &'a str>, def: &str) -> Value {
    let map: Map<String, Value> = types
        .into_iter()
        .map(|t| (t.to_string(), json!({"schema": reference(def)})))
        .collect();
    Value::Object(map)
}

fn operation(op: &Operation) -> Value {
    let mut out = json!({
        "description": op.description,
        "operationId": op.id,
        "tags": [op.tag],
    });
    if !op.params.is_empty() {
        out["parameters"] = op.params.iter().map(param).collect::<Vec<_>>().into();
    }
    match &op.body {
        Some(Body::Object(def)) => {
            out["requestBody"] = json!({"content": content(["*/*"], def), "required": true});
        }
        Some(Body::Patch) => {
            out["requestBody"] = json!({
                "content": content(super::patch_content_types(op), PATCH),
                "required": true,
            });
        }
        Some(Body::DeleteOptions) => {
            out["requestBody"] = json!({"content": content(["*/*"], DELETE_OPTIONS)});
        }
        None => {}
    }
    let mut produces = vec!["application/json"];
    if op.watch && op.method == Method::Get {
        produces.push("application/json;stream=watch");
    }
    let mut responses = Map::new();
    for (code, def) in &op.responses {
        responses.insert(
            code.to_string(),
            json!({"description": status_text(*code), "content": content(produces.iter().copied(), def)}),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    out["responses"] = Value::Object(responses);
    if let Some(action) = op.action {
        out["x-kubernetes-action"] = json!(action);
    }
    if let Some(gvk) = &op.gvk {
        out["x-kubernetes-group-version-kind"] = gvk.to_json();
    }
    out
}
