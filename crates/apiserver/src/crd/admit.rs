//! The generic registry's hooks for custom objects: in place of typed decoding, the schema
//! prunes unknown fields (reported per `fieldValidation`) and fills defaults, and the object is
//! moved to the storage version; in place of per-kind validation, the object's metadata and
//! its schema's value rules are checked. Also the CRD kind's own hooks (its cleanup finalizer).

use super::registry::{CustomVersion, custom};
use super::schema;
use crate::registry::FieldValidation;
use rkube_api::resources::ResourceInfo;
use rkube_api::status::{ApiError, FieldCause};
use rkube_api::validation::Path;
use rkube_api::validation::meta::{validate_object_meta, validate_object_meta_update};
use rkube_api::validation::names::NameRule;
use serde_json::Value;

/// The finalizer a deleted CRD carries until its objects are gone.
pub use rkube_api::validation::apiextensions::CLEANUP_FINALIZER;

/// Whether `info` is the CustomResourceDefinition kind itself.
pub fn is_crd(info: &ResourceInfo) -> bool {
    info.group == "apiextensions.k8s.io" && info.kind == "CustomResourceDefinition"
}

/// A custom object body in its storage version: unknown fields pruned (and reported as
/// `fieldValidation` asks), defaults filled.
pub fn normalize(
    cv: &CustomVersion,
    mut obj: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let info = &cv.info;
    let dropped = schema::prune::prune(&mut obj, &cv.schema);
    schema::default::apply(&mut obj, &cv.schema);
    obj["apiVersion"] = cv.storage_api_version().into();
    let unknown: Vec<String> = dropped
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    crate::registry::unknown_fields_verdict(info, validation, obj, unknown)
}

/// The causes of a custom object (`old` on update): metadata rules and its schema's rules.
pub fn validate(info: &ResourceInfo, obj: &Value, old: Option<&Value>) -> Vec<FieldCause> {
    let Some(cv) = custom(info) else {
        return Vec::new();
    };
    let meta = serde_json::from_value(obj["metadata"].clone()).unwrap_or_default();
    let path = Path::new("metadata");
    let mut errs = match old {
        None => validate_object_meta(&meta, info.namespaced, NameRule::Subdomain, &path),
        Some(old) => {
            let old_meta = serde_json::from_value(old["metadata"].clone()).unwrap_or_default();
            validate_object_meta_update(&meta, &old_meta, &path)
        }
    };
    errs.extend(schema::validate::validate(obj, &cv.schema));
    errs
}

/// A stored custom object as `view`'s version shows it: its apiVersion, and the schema's
/// defaults (upstream defaults on read too, so objects stored before a default was added
/// show it).
pub fn present(view: &CustomVersion, mut obj: Value) -> Value {
    schema::default::apply(&mut obj, &view.schema);
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), view.info.api_version().into());
    }
    obj
}

/// Upstream's custom-resource strategy on update: without the status subresource every
/// change but metadata counts for `generation`; with it status is the subresource's and
/// spec changes count (the generic strategy has already kept status).
pub fn bumps_generation(info: &ResourceInfo, new: &Value, old: &Value) -> Option<bool> {
    custom(info)?;
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
        }
        v
    };
    Some(strip(new) != strip(old))
}

/// A new CRD's status, as upstream's CRD strategy starts it: no names accepted yet, the
/// storage version recorded as stored.
pub fn initial_crd_status(crd: &Value) -> Value {
    let stored: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .map(|v| v["name"].clone())
        .collect();
    serde_json::json!({"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": stored})
}

/// On a CRD's first delete: the cleanup finalizer and the Terminating condition, so the
/// controller removes its objects before the CRD goes (upstream's CRD storage does this).
pub fn on_delete(info: &ResourceInfo, obj: &mut Value, now: jiff::Timestamp) {
    if !is_crd(info) || obj["metadata"].get("deletionTimestamp").is_some() {
        return;
    }
    let meta = crate::registry::meta::meta_mut(obj);
    let finalizers = meta
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(list) = finalizers.as_array_mut()
        && !list.iter().any(|f| f == CLEANUP_FINALIZER)
    {
        list.push(CLEANUP_FINALIZER.into());
    }
    super::conditions::set(
        obj,
        super::conditions::Condition {
            kind: "Terminating",
            status: true,
            reason: "InstanceDeletionPending",
            message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon".into(),
        },
        now,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crd_deletion_adds_the_cleanup_finalizer_once() {
        let info =
            rkube_api::resources::find("apiextensions.k8s.io", "v1", "customresourcedefinitions")
                .unwrap();
        let mut crd = json!({"metadata": {"name": "a.b.c"}, "spec": {}});
        on_delete(info, &mut crd, jiff::Timestamp::UNIX_EPOCH);
        on_delete(info, &mut crd, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(crd["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
        assert_eq!(crd["status"]["conditions"][0]["type"], "Terminating");
    }
}
