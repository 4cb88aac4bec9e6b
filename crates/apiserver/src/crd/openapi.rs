//! OpenAPI for custom resources: each served CRD version's schema becomes its kind's
//! definition (with `apiVersion`, `kind` and a reference to `ObjectMeta`, as upstream
//! publishes it), and the documents are rebuilt — once per change of the served set, off the
//! async threads — so `kubectl explain` and kubectl's field validation see CRDs as they come
//! and go. Without CRDs the start-up documents are served untouched.

use super::registry::{CrdTable, CustomVersion};
use crate::openapi::OpenApi;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const OBJECT_META: &str = "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The definition of `cv`'s kind (v2 references; the v3 builder rewrites them).
pub fn definition(cv: &CustomVersion) -> Value {
    let mut def = match &cv.schema {
        Value::Object(_) => cv.schema.clone(),
        _ => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    if !def["properties"].is_object() {
        def["properties"] = json!({});
    }
    def["properties"]["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"});
    def["properties"]["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"});
    def["properties"]["metadata"] = json!({"$ref": OBJECT_META, "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"});
    def
}

/// The documents last built for a set of served CRD versions.
#[derive(Default)]
pub struct Cache {
    built: Mutex<Option<(Vec<usize>, Arc<OpenApi>)>>,
}

/// The documents for what `table` serves now: `None` while no CRD is served (serve the
/// start-up documents), else documents covering the built-ins and every served CRD version.
pub async fn documents(table: &CrdTable) -> Option<Arc<OpenApi>> {
    let served = table.all();
    if served.is_empty() {
        return None;
    }
    let key: Vec<usize> = served
        .iter()
        .map(|v| *v as *const CustomVersion as usize)
        .collect();
    let cache = table.openapi_cache();
    if let Some((k, docs)) = cache
        .built
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        && *k == key
    {
        return Some(Arc::clone(docs));
    }
    let docs = tokio::task::spawn_blocking(move || {
        let mut resources: Vec<&'static rkube_api::resources::ResourceInfo> =
            rkube_api::resources::BUILTIN.iter().collect();
        resources.extend(served.iter().map(|v| &v.info));
        Arc::new(OpenApi::new(&resources))
    })
    .await
    .ok()?;
    *cache.built.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, Arc::clone(&docs)));
    Some(docs)
}
