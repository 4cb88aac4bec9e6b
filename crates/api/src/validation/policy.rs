//! `policy/v1` PodDisruptionBudget.
//!
//! Upstream's PDB validation checks the spec only; the generic registry then validates the
//! metadata with path-segment names. Both are done here, in that order.

use super::apps::{not_more_than_100_percent, positive_int_or_percent};
use super::meta::{validate_label_selector, validate_object_meta, validate_object_meta_update};
use super::names::NameRule;
use super::{Errors, Path, decode_pair, json_of};
use crate::status::FieldCause;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::Value;

/// PodDisruptionBudget: metadata, minAvailable xor maxUnavailable (ints or percents ≤ 100%),
/// selector, eviction policy.
pub fn validate_pdb(new: &Value, old: Option<&Value>) -> Errors {
    let (pdb, o) = match decode_pair::<PodDisruptionBudget>("PodDisruptionBudget", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(&pdb.metadata, &o.metadata, &mp));
    }
    errs.extend(validate_object_meta(
        &pdb.metadata,
        true,
        NameRule::Subdomain,
        &mp,
    ));
    let spec = pdb.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        errs.push(FieldCause::invalid_rendered(
            &path,
            json_of(&spec),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (field, v) in [
        ("minAvailable", &spec.min_available),
        ("maxUnavailable", &spec.max_unavailable),
    ] {
        if let Some(v) = v {
            errs.extend(positive_int_or_percent(v, &path.child(field)));
            errs.extend(not_more_than_100_percent(v, &path.child(field)));
        }
    }
    errs.extend(validate_label_selector(
        spec.selector.as_ref(),
        &path.child("selector"),
    ));
    if let Some(p) = &spec.unhealthy_pod_eviction_policy
        && p != "AlwaysAllow"
        && p != "IfHealthyBudget"
    {
        errs.push(FieldCause::not_supported(
            path.child("unhealthyPodEvictionPolicy"),
            &Value::String(p.clone()),
            &["AlwaysAllow", "IfHealthyBudget"],
        ));
    }
    // Upstream validates only the spec; the generic registry then checks the metadata with
    // path-segment names, and only when the spec passed.
    if errs.is_empty() {
        errs.extend(validate_object_meta(
            &pdb.metadata,
            true,
            NameRule::PathSegment,
            &mp,
        ));
    }
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(&pdb.metadata, &o.metadata, &mp));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn pdbs() {
        let ok = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"a": "b"}}}});
        assert_valid(&validate_pdb(&ok, None));
        let bad = json!({"metadata": {"name": "p", "namespace": "d"}, "spec": {"minAvailable": -1, "maxUnavailable": "120%",
            "unhealthyPodEvictionPolicy": "Never"}});
        let errs = validate_pdb(&bad, None);
        assert_has_prefix(&errs, "spec", "Invalid value: {");
        assert_has(
            &errs,
            "spec.minAvailable",
            "Invalid value: -1: must be greater than or equal to 0",
        );
        assert_has(
            &errs,
            "spec.maxUnavailable",
            "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}: must not be greater than 100%",
        );
        assert_has(
            &errs,
            "spec.unhealthyPodEvictionPolicy",
            "Unsupported value: \"Never\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\"",
        );
    }
}
