//! The `scale` subresource of custom objects: an `autoscaling/v1` Scale read from and written
//! to the paths the CRD names (`specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`).

use super::registry::custom;
use super::table::eval;
use rkube_api::resources::ResourceInfo;
use rkube_api::status::{ApiError, FieldCause};
use serde_json::{Value, json};

/// The Scale of a custom object, or `None` when `info` is not a custom resource with `/scale`.
pub fn scale_of(info: &ResourceInfo, obj: &Value) -> Option<Value> {
    let paths = custom(info)?.scale.as_ref()?;
    let meta = &obj["metadata"];
    let spec = eval(obj, &paths.spec_replicas)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status = eval(obj, &paths.status_replicas)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut scale_status = json!({"replicas": status});
    if let Some(sel) = paths
        .label_selector
        .as_deref()
        .and_then(|p| eval(obj, p))
        .and_then(Value::as_str)
    {
        scale_status["selector"] = sel.into();
    }
    Some(json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": spec},
        "status": scale_status,
    }))
}

/// The object with the Scale's `spec.replicas` written at its spec path (and the Scale's
/// resourceVersion as precondition), or `None` when `info` is not a custom resource.
pub fn scaled(
    info: &ResourceInfo,
    mut obj: Value,
    scale: &Value,
) -> Option<Result<Value, ApiError>> {
    let paths = custom(info)?.scale.as_ref()?;
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    let Some(replicas) = scale["spec"]["replicas"].as_i64() else {
        return Some(Err(ApiError::invalid(
            info,
            &name,
            vec![FieldCause::required("spec.replicas")],
        )));
    };
    if replicas < 0 {
        return Some(Err(ApiError::invalid(
            info,
            &name,
            vec![FieldCause::invalid(
                "spec.replicas",
                &json!(replicas),
                "must be greater than or equal to 0",
            )],
        )));
    }
    let segments: Vec<&str> = paths
        .spec_replicas
        .split('.')
        .filter(|s| !s.is_empty())
        .collect();
    let Some((last, parents)) = segments.split_last() else {
        return Some(Err(ApiError::internal(
            "the CRD's specReplicasPath is empty",
        )));
    };
    let mut cur = &mut obj;
    for seg in parents {
        if !cur[*seg].is_object() {
            cur[*seg] = json!({});
        }
        cur = &mut cur[*seg];
    }
    cur[*last] = replicas.into();
    let rv = scale["metadata"]["resourceVersion"]
        .as_str()
        .filter(|r| !r.is_empty());
    crate::registry::meta::set_meta(&mut obj, "resourceVersion", rv.map(Value::from));
    Some(Ok(obj))
}
