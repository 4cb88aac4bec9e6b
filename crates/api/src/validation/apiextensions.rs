//! Validation of `apiextensions.k8s.io/v1` CustomResourceDefinitions, as upstream's
//! `apiextensions/validation`: the name is `<plural>.<group>`, the names are DNS-1035 labels,
//! exactly one version is stored and at least one served, the scope is known, and every
//! version's schema is structural ([`super::structural`]).

use super::meta::{validate_object_meta, validate_object_meta_update};
use super::names::{NameRule, dns1035_label, dns1123_subdomain};
use super::{Errors, Path};
use crate::status::FieldCause;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Checks a new CRD (`old` is `None`) or an update of one.
pub fn validate_crd(obj: &Value, old: Option<&Value>) -> Errors {
    let meta: ObjectMeta = serde_json::from_value(obj["metadata"].clone()).unwrap_or_default();
    let spec = &obj["spec"];
    let mut errs = Vec::new();
    match old {
        None => {
            errs.extend(validate_object_meta(
                &meta,
                false,
                NameRule::Subdomain,
                &Path::new("metadata"),
            ));
            let required = format!(
                "{}.{}",
                str_at(&spec["names"], "plural"),
                str_at(spec, "group")
            );
            let name = meta.name.clone().unwrap_or_default();
            if !name.is_empty() && name != required {
                errs.push(FieldCause::invalid(
                    "metadata.name",
                    &Value::String(name),
                    "must be spec.names.plural+\".\"+spec.group",
                ));
            }
        }
        Some(old) => {
            let old_meta: ObjectMeta =
                serde_json::from_value(old["metadata"].clone()).unwrap_or_default();
            errs.extend(validate_object_meta_update(
                &meta,
                &old_meta,
                &Path::new("metadata"),
            ));
        }
    }
    errs.extend(validate_spec(spec, &Path::new("spec")));
    if let Some(old) = old {
        let old_spec = &old["spec"];
        let established = old["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        let mut immutable = vec![("group", &spec["group"], &old_spec["group"])];
        immutable.push((
            "names.plural",
            &spec["names"]["plural"],
            &old_spec["names"]["plural"],
        ));
        if established {
            immutable.push(("scope", &spec["scope"], &old_spec["scope"]));
            immutable.push((
                "names.kind",
                &spec["names"]["kind"],
                &old_spec["names"]["kind"],
            ));
        }
        for (field, new, old) in immutable {
            if new != old {
                errs.push(FieldCause::invalid(
                    format!("spec.{field}"),
                    new,
                    "field is immutable",
                ));
            }
        }
        for (i, stored) in obj["status"]["storedVersions"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let listed = spec["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v["name"] == *stored);
            if !listed {
                errs.push(FieldCause::invalid(
                    format!("status.storedVersions[{i}]"),
                    stored,
                    "must appear in spec.versions",
                ));
            }
        }
    }
    errs.extend(validate_names(
        &obj["status"]["acceptedNames"],
        &Path::new("status.acceptedNames"),
    ));
    // Upstream checks metadata.finalizers only as qualified names (the standard-name rule is
    // a warning there); the CRD cleanup finalizer has no '/' and must pass.
    errs.retain(|e| {
        !(e.field.starts_with("metadata.finalizers[")
            && e.message.contains(&format!("{CLEANUP_FINALIZER:?}")))
    });
    errs
}

/// The finalizer the apiserver puts on a deleted CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

fn validate_spec(spec: &Value, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let group = str_at(spec, "group");
    if group.is_empty() {
        errs.push(FieldCause::required(path.child("group")));
    } else {
        let problems = dns1123_subdomain(group);
        if !problems.is_empty() {
            errs.push(FieldCause::invalid(
                path.child("group"),
                &spec["group"],
                problems.join(","),
            ));
        } else if !group.contains('.') {
            errs.push(FieldCause::invalid(
                path.child("group"),
                &spec["group"],
                "should be a domain with at least one dot",
            ));
        }
    }
    match str_at(spec, "scope") {
        "" => errs.push(FieldCause::required(path.child("scope"))),
        "Cluster" | "Namespaced" => {}
        _ => errs.push(FieldCause::not_supported(
            path.child("scope"),
            &spec["scope"],
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = spec["versions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let status_enabled = |v: &Value| v["subresources"]["status"].is_object();
    if versions.is_empty() {
        errs.push(FieldCause::invalid(
            path.child("versions"),
            &spec["versions"],
            "must have exactly one version marked as storage version",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    for (i, v) in versions.iter().enumerate() {
        let vpath = path.child("versions").index(i);
        let name = str_at(v, "name");
        unique &= seen.insert(name);
        let problems = dns1035_label(name);
        if !problems.is_empty() {
            errs.push(FieldCause::invalid(
                vpath.child("name"),
                &v["name"],
                problems.join(","),
            ));
        }
        let schema_path = vpath.child("schema").child("openAPIV3Schema");
        match &v["schema"]["openAPIV3Schema"] {
            Value::Object(_) => errs.extend(super::structural::validate(
                &v["schema"]["openAPIV3Schema"],
                &schema_path,
                status_enabled(v),
            )),
            _ => errs.push(FieldCause::required_detail(
                schema_path,
                "schemas are required",
            )),
        }
        if let Some(scale) = v["subresources"]["scale"].as_object() {
            for field in ["specReplicasPath", "statusReplicasPath"] {
                let p = scale.get(field).and_then(Value::as_str).unwrap_or("");
                let spath = vpath.child("subresources").child("scale").child(field);
                if p.is_empty() {
                    errs.push(FieldCause::required(spath));
                } else if !p.starts_with('.') {
                    errs.push(FieldCause::invalid(
                        spath,
                        &Value::String(p.into()),
                        "should be a json path under .spec or .status",
                    ));
                }
            }
        }
        for (j, col) in v["additionalPrinterColumns"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cpath = vpath.child("additionalPrinterColumns").index(j);
            if str_at(col, "name").is_empty() {
                errs.push(FieldCause::required(cpath.child("name")));
            }
            match str_at(col, "type") {
                "" => errs.push(FieldCause::required(cpath.child("type"))),
                "integer" | "number" | "string" | "boolean" | "date" => {}
                _ => errs.push(FieldCause::not_supported(
                    cpath.child("type"),
                    &col["type"],
                    &["integer", "number", "string", "boolean", "date"],
                )),
            }
            if str_at(col, "jsonPath").is_empty() {
                errs.push(FieldCause::required(cpath.child("JSONPath")));
            }
        }
    }
    if !unique {
        errs.push(FieldCause::invalid(
            path.child("versions"),
            &spec["versions"],
            "must contain unique version names",
        ));
    }
    let storage = versions.iter().filter(|v| v["storage"] == true).count();
    if !versions.is_empty() && storage != 1 {
        errs.push(FieldCause::invalid(
            path.child("versions"),
            &spec["versions"],
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions.is_empty() && !versions.iter().any(|v| v["served"] == true) {
        errs.push(FieldCause::invalid(
            path.child("versions"),
            &spec["versions"],
            "must have at least one version marked as served",
        ));
    }
    let names = &spec["names"];
    for field in ["plural", "singular", "kind", "listKind"] {
        if str_at(names, field).is_empty() {
            errs.push(FieldCause::required(path.child("names").child(field)));
        }
    }
    errs.extend(validate_names(names, &path.child("names")));
    match str_at(&spec["conversion"], "strategy") {
        "" | "None" | "Webhook" => {}
        _ => errs.push(FieldCause::not_supported(
            path.child("conversion").child("strategy"),
            &spec["conversion"]["strategy"],
            &["None", "Webhook"],
        )),
    }
    errs
}

/// The names' own rules (spec.names and status.acceptedNames alike).
fn validate_names(names: &Value, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (field, lower) in [
        ("plural", false),
        ("singular", false),
        ("kind", true),
        ("listKind", true),
    ] {
        let v = str_at(names, field);
        if v.is_empty() {
            continue;
        }
        let problems = if lower {
            dns1035_label(&v.to_lowercase())
        } else {
            dns1035_label(v)
        };
        if !problems.is_empty() {
            let detail = if lower {
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    problems.join(",")
                )
            } else {
                problems.join(",")
            };
            errs.push(FieldCause::invalid(
                path.child(field),
                &names[field],
                detail,
            ));
        }
    }
    for list in ["shortNames", "categories"] {
        for (i, v) in names[list].as_array().into_iter().flatten().enumerate() {
            let problems = dns1035_label(v.as_str().unwrap_or(""));
            if !problems.is_empty() {
                errs.push(FieldCause::invalid(
                    path.child(list).index(i),
                    v,
                    problems.join(","),
                ));
            }
        }
    }
    let kind = str_at(names, "kind");
    if !kind.is_empty() && kind == str_at(names, "listKind") {
        errs.push(FieldCause::invalid(
            path.child("listKind"),
            &names["listKind"],
            "kind and listKind may not be the same",
        ));
    }
    errs
}

/// Upstream's CRD defaults: singular and listKind from the kind, `conversion.strategy: None`,
/// and the stored versions recorded (the strategy adds the storage version on every write).
pub fn default_crd(obj: &mut Value) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let empty = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
        if empty(names.get("singular")) && !kind.is_empty() {
            names.insert("singular".into(), kind.to_lowercase().into());
        }
        if empty(names.get("listKind")) && !kind.is_empty() {
            names.insert("listKind".into(), format!("{kind}List").into());
        }
    }
    let conversion = spec
        .entry("conversion")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(c) = conversion.as_object_mut() {
        c.entry("strategy").or_insert_with(|| "None".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
        })
    }

    fn fields(errs: &Errors) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn a_good_crd_passes() {
        assert_eq!(fields(&validate_crd(&crd(), None)), Vec::<String>::new());
    }

    #[test]
    fn name_must_be_plural_dot_group() {
        let mut c = crd();
        c["metadata"]["name"] = "other.example.com".into();
        assert_eq!(
            fields(&validate_crd(&c, None)),
            [
                "metadata.name: Invalid value: \"other.example.com\": must be spec.names.plural+\".\"+spec.group"
            ]
        );
    }

    #[test]
    fn versions_need_one_storage_and_one_served() {
        let mut c = crd();
        c["spec"]["versions"][0]["storage"] = false.into();
        c["spec"]["versions"][0]["served"] = false.into();
        let f = fields(&validate_crd(&c, None));
        assert!(
            f.iter()
                .any(|e| e.starts_with("spec.versions: Invalid value")
                    && e.ends_with("must have exactly one version marked as storage version"))
        );
        assert!(
            f.iter()
                .any(|e| e.ends_with("must have at least one version marked as served"))
        );
    }

    #[test]
    fn scope_and_names() {
        let mut c = crd();
        c["spec"]["scope"] = "Everywhere".into();
        c["spec"]["names"]["listKind"] = "Widget".into();
        let f = fields(&validate_crd(&c, None));
        assert!(f.contains(&"spec.scope: Unsupported value: \"Everywhere\": supported values: \"Cluster\", \"Namespaced\"".to_string()));
        assert!(f.contains(&"spec.names.listKind: Invalid value: \"Widget\": kind and listKind may not be the same".to_string()));
    }

    #[test]
    fn defaults_fill_singular_and_list_kind() {
        let mut c = crd();
        c["spec"]["names"] = json!({"plural": "widgets", "kind": "Widget"});
        default_crd(&mut c);
        assert_eq!(c["spec"]["names"]["singular"], "widget");
        assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(c["spec"]["conversion"]["strategy"], "None");
    }
}
