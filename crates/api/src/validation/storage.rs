//! `storage.k8s.io/v1` StorageClass.

use super::meta::{validate_object_meta, validate_object_meta_update, validate_qualified_name};
use super::names::NameRule;
use super::{Errors, Path, decode_pair, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::Value;

const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

/// StorageClass: metadata (not namespaced), provisioner, parameters, reclaim policy, binding
/// mode; parameters, provisioner, reclaim policy and binding mode are immutable.
pub fn validate_storage_class(new: &Value, old: Option<&Value>) -> Errors {
    let (sc, o) = match decode_pair::<StorageClass>("StorageClass", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    if let Some(o) = &o {
        let mut errs = validate_object_meta_update(&sc.metadata, &o.metadata, &mp);
        if sc.parameters != o.parameters {
            errs.push(FieldCause::forbidden(
                "parameters",
                "updates to parameters are forbidden.",
            ));
        }
        if sc.provisioner != o.provisioner {
            errs.push(FieldCause::forbidden(
                "provisioner",
                "updates to provisioner are forbidden.",
            ));
        }
        if s(&sc.reclaim_policy) != s(&o.reclaim_policy) {
            errs.push(FieldCause::forbidden(
                "reclaimPolicy",
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        if sc.volume_binding_mode != o.volume_binding_mode {
            errs.push(FieldCause::invalid(
                "volumeBindingMode",
                &sc.volume_binding_mode
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        return errs;
    }
    let mut errs = validate_object_meta(&sc.metadata, false, NameRule::Subdomain, &mp);
    if sc.provisioner.is_empty() {
        errs.push(FieldCause::required("provisioner"));
    } else {
        errs.extend(validate_qualified_name(
            &sc.provisioner.to_lowercase(),
            &Path::new("provisioner"),
        ));
    }
    let params = sc.parameters.clone().unwrap_or_default();
    if params.len() > MAX_PARAMETERS {
        errs.push(FieldCause::too_long("parameters", MAX_PARAMETERS));
    } else {
        let mut total = 0;
        for (k, v) in &params {
            if k.is_empty() {
                errs.push(FieldCause::invalid(
                    "parameters",
                    &jstr(k),
                    "field can not be empty.",
                ));
            }
            total += k.len() + v.len();
        }
        if total > MAX_PARAMETERS_SIZE {
            errs.push(FieldCause::too_long("parameters", MAX_PARAMETERS_SIZE));
        }
    }
    let rp = s(&sc.reclaim_policy);
    if !rp.is_empty() && rp != "Delete" && rp != "Retain" {
        errs.push(FieldCause::not_supported(
            "reclaimPolicy",
            &jstr(rp),
            &["Delete", "Retain"],
        ));
    }
    match sc.volume_binding_mode.as_deref() {
        None => errs.push(FieldCause::required("volumeBindingMode")),
        Some("Immediate" | "WaitForFirstConsumer") => {}
        Some(other) => errs.push(FieldCause::not_supported(
            "volumeBindingMode",
            &jstr(other),
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
    for (i, term) in sc.allowed_topologies.iter().flatten().enumerate() {
        let tp = Path::new("allowedTopologies")
            .index(i)
            .child("matchLabelExpressions");
        let mut keys = std::collections::BTreeSet::new();
        for (j, e) in term.match_label_expressions.iter().flatten().enumerate() {
            let ep = tp.index(j);
            if e.values.is_empty() {
                errs.push(FieldCause::required(ep.child("values")));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (k, v) in e.values.iter().enumerate() {
                if !seen.insert(v) {
                    errs.push(FieldCause::duplicate(ep.child("values").index(k), &jstr(v)));
                }
            }
            errs.extend(super::meta::validate_label_name(&e.key, &ep.child("key")));
            if !keys.insert(e.key.clone()) {
                errs.push(FieldCause::duplicate(ep.child("key"), &jstr(&e.key)));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn storage_classes() {
        let mut sc =
            json!({"metadata": {"name": "local-path"}, "provisioner": "rancher.io/local-path"});
        apply("storage.k8s.io", "StorageClass", &mut sc);
        assert_valid(&validate_storage_class(&sc, None));
        let bad = json!({"metadata": {"name": "x"}, "provisioner": "", "reclaimPolicy": "Recycle", "volumeBindingMode": "Later"});
        let errs = validate_storage_class(&bad, None);
        assert_has(&errs, "provisioner", "Required value");
        assert_has(
            &errs,
            "reclaimPolicy",
            "Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\"",
        );
        assert_has(
            &errs,
            "volumeBindingMode",
            "Unsupported value: \"Later\": supported values: \"Immediate\", \"WaitForFirstConsumer\"",
        );
        let mut old = sc.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["parameters"] = json!({"a": "b"});
        new["provisioner"] = json!("other.io/p");
        let errs = validate_storage_class(&new, Some(&old));
        assert_has(
            &errs,
            "parameters",
            "Forbidden: updates to parameters are forbidden.",
        );
        assert_has(
            &errs,
            "provisioner",
            "Forbidden: updates to provisioner are forbidden.",
        );
    }
}
