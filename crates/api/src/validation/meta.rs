//! `ObjectMeta` and label-selector checks shared by every kind (upstream's
//! `ValidateObjectMeta`, `ValidateObjectMetaUpdate`, `ValidateLabels`, `ValidateLabelSelector`).

use super::names::{self, NameRule};
use super::{Errors, Path, go_quote, go_strings, json_of, s};
use crate::status::FieldCause;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, Time,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Upper bound on the total size of an object's annotations (keys plus values), in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Checks label keys and values; every problem is reported on `path` itself (as upstream).
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in names::label_value(v) {
            errs.push(FieldCause::invalid(path, &Value::String(v.clone()), msg));
        }
    }
    errs
}

/// Checks one label key (a qualified name).
pub fn validate_label_name(key: &str, path: &Path) -> Errors {
    names::qualified_name(key)
        .into_iter()
        .map(|msg| FieldCause::invalid(path, &Value::String(key.to_string()), msg))
        .collect()
}

/// Checks a qualified name on `path` (e.g. `appProtocol`, readiness gate condition types).
pub fn validate_qualified_name(value: &str, path: &Path) -> Errors {
    validate_label_name(value, path)
}

/// Checks annotation keys (qualified names, case-insensitive) and the total size limit.
pub fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations.into_iter().flatten() {
        for msg in names::qualified_name(&k.to_lowercase()) {
            errs.push(FieldCause::invalid(path, &Value::String(k.clone()), msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldCause::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn go_bool_ptr(v: Option<bool>) -> &'static str {
    match v {
        None => "(*bool)(nil)",
        Some(_) => "(*bool)(0xc000000000)",
    }
}

/// Checks owner references: required fields, banned owners, at most one controller.
pub fn validate_owner_references(
    refs: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference]>,
    path: &Path,
) -> Errors {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs.into_iter().flatten() {
        let (group, version) = match r.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", r.api_version.as_str()),
        };
        if version.is_empty() {
            errs.push(FieldCause::invalid(
                path.child("apiVersion"),
                &Value::String(r.api_version.clone()),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldCause::invalid(
                path.child("kind"),
                &Value::String(String::new()),
                "must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldCause::invalid(
                path.child("name"),
                &Value::String(String::new()),
                "must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldCause::invalid(
                path.child("uid"),
                &Value::String(String::new()),
                "must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(FieldCause::invalid_rendered(
                path,
                format!(
                    "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
                    go_quote(&r.api_version),
                    go_quote(&r.kind),
                    go_quote(&r.name),
                    go_quote(&r.uid),
                    go_bool_ptr(r.controller),
                    go_bool_ptr(r.block_owner_deletion)
                ),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let this = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldCause::invalid_rendered(
                    path,
                    json_of(&refs),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    ),
                )),
                None => first_controller = Some(this),
            }
        }
    }
    errs
}

/// Finalizer names every kind may use without a domain prefix.
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Checks finalizer names (qualified names; unprefixed ones must be standard).
pub fn validate_finalizers(finalizers: Option<&[String]>, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let list = finalizers.unwrap_or_default();
    for f in list {
        for msg in names::qualified_name(f) {
            errs.push(FieldCause::invalid(path, &Value::String(f.clone()), msg));
        }
    }
    if list.iter().any(|f| f == "orphan") && list.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldCause::invalid_rendered(
            path,
            go_strings(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, f) in list.iter().enumerate() {
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldCause::invalid(
                path.index(i),
                &Value::String(f.clone()),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

fn common(meta: &ObjectMeta, namespaced: bool, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if namespaced {
        let ns = s(&meta.namespace);
        if ns.is_empty() {
            errs.push(FieldCause::required(path.child("namespace")));
        } else {
            for msg in names::dns1123_label(ns) {
                errs.push(FieldCause::invalid(
                    path.child("namespace"),
                    &Value::String(ns.to_string()),
                    msg,
                ));
            }
        }
    } else if !s(&meta.namespace).is_empty() {
        errs.push(FieldCause::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(super::nonnegative(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref(),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref(),
        &path.child("finalizers"),
    ));
    errs
}

/// Checks the metadata of a new object: name (by `rule`) or generateName, namespace presence,
/// labels, annotations, owner references and finalizers.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    rule: NameRule,
    path: &Path,
) -> Errors {
    let mut errs = Vec::new();
    let generate = s(&meta.generate_name);
    if !generate.is_empty() {
        for msg in rule.check(generate, true) {
            errs.push(FieldCause::invalid(
                path.child("generateName"),
                &Value::String(generate.to_string()),
                msg,
            ));
        }
    }
    let name = s(&meta.name);
    if name.is_empty() {
        errs.push(FieldCause::required_detail(
            path.child("name"),
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            errs.push(FieldCause::invalid(
                path.child("name"),
                &Value::String(name.to_string()),
                msg,
            ));
        }
    }
    errs.extend(common(meta, namespaced, path));
    errs
}

/// Go's `time.Time` string, as upstream prints timestamps in messages.
fn go_time(t: Option<&Time>) -> String {
    match t {
        None => "null".to_string(),
        Some(t) => {
            use std::fmt::Write as _;
            let mut out = String::new();
            match write!(out, "{}", t.0.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")) {
                Ok(()) => out,
                Err(_) => t.0.to_string(),
            }
        }
    }
}

/// Checks the metadata of an update: the new metadata's own rules plus immutable identity
/// (name, namespace, uid, creationTimestamp, deletion fields), a resourceVersion, no
/// generation decrease, and no new finalizers while deleting.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f = old.finalizers.as_deref().unwrap_or_default();
        let mut extra: Vec<String> = new
            .finalizers
            .iter()
            .flatten()
            .filter(|f| !old_f.contains(f))
            .cloned()
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(FieldCause::forbidden(
                path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_strings(Some(&extra))
                ),
            ));
        }
    }
    if s(&new.resource_version).is_empty() {
        errs.push(FieldCause::invalid(
            path.child("resourceVersion"),
            &Value::String(String::new()),
            "must be specified for an update",
        ));
    }
    let (ng, og) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if ng < og {
        errs.push(FieldCause::invalid(
            path.child("generation"),
            &Value::from(ng),
            "must not be decremented",
        ));
    }
    let strs = [
        ("name", s(&new.name), s(&old.name)),
        ("namespace", s(&new.namespace), s(&old.namespace)),
        ("uid", s(&new.uid), s(&old.uid)),
    ];
    for (field, n, o) in strs {
        if n != o {
            errs.push(FieldCause::invalid(
                path.child(field),
                &Value::String(n.to_string()),
                "field is immutable",
            ));
        }
    }
    if new.creation_timestamp != old.creation_timestamp {
        let rendered = match &new.creation_timestamp {
            None => "0001-01-01 00:00:00 +0000 UTC".to_string(),
            Some(t) => go_time(Some(t)),
        };
        errs.push(FieldCause::invalid_rendered(
            path.child("creationTimestamp"),
            rendered,
            "field is immutable",
        ));
    }
    if new.deletion_timestamp != old.deletion_timestamp {
        errs.push(FieldCause::invalid_rendered(
            path.child("deletionTimestamp"),
            go_time(new.deletion_timestamp.as_ref()),
            "field is immutable",
        ));
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        let rendered = new
            .deletion_grace_period_seconds
            .map(|v| v.to_string())
            .unwrap_or_else(|| "null".to_string());
        errs.push(FieldCause::invalid_rendered(
            path.child("deletionGracePeriodSeconds"),
            rendered,
            "field is immutable",
        ));
    }
    errs.extend(validate_labels(new.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        new.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        new.owner_references.as_deref(),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        new.finalizers.as_deref(),
        &path.child("finalizers"),
    ));
    errs
}

/// Checks one label selector requirement (operator/values consistency, key, values).
pub fn validate_label_selector_requirement(r: &LabelSelectorRequirement, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldCause::required_detail(
                    path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldCause::forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        other => errs.push(FieldCause::invalid(
            path.child("operator"),
            &Value::String(other.to_string()),
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(&r.key, &path.child("key")));
    for (i, v) in values.iter().enumerate() {
        for msg in names::label_value(v) {
            errs.push(FieldCause::invalid(
                path.child("values").index(i),
                &Value::String(v.clone()),
                msg,
            ));
        }
    }
    errs
}

/// Checks a label selector (matchLabels and matchExpressions); `None` is valid.
pub fn validate_label_selector(sel: Option<&LabelSelector>, path: &Path) -> Errors {
    let Some(sel) = sel else {
        return Vec::new();
    };
    let mut errs = validate_labels(sel.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, r) in sel.match_expressions.iter().flatten().enumerate() {
        errs.extend(validate_label_selector_requirement(
            r,
            &path.child("matchExpressions").index(i),
        ));
    }
    errs
}

/// Whether `sel` selects an object with `labels` (upstream's `LabelSelectorAsSelector` then
/// `Matches`). `None` selects nothing; an empty selector selects everything.
pub fn selector_matches(
    sel: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let Some(sel) = sel else {
        return false;
    };
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    for (k, v) in sel.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return false;
        }
    }
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.as_deref().unwrap_or_default();
        let got = labels.get(&r.key);
        let ok = match r.operator.as_str() {
            "In" => got.is_some_and(|g| values.contains(g)),
            "NotIn" => got.is_none_or(|g| !values.contains(g)),
            "Exists" => got.is_some(),
            "DoesNotExist" => got.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a selector has no requirements at all.
pub fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty())
}

/// Whether the selector converts to a valid selector (upstream's `LabelSelectorAsSelector`
/// error case: bad operator, bad key or value, In/NotIn without values).
pub fn selector_converts(sel: Option<&LabelSelector>) -> bool {
    let Some(sel) = sel else {
        return true;
    };
    for (k, v) in sel.match_labels.iter().flatten() {
        if !names::qualified_name(k).is_empty() || !names::label_value(v).is_empty() {
            return false;
        }
    }
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.as_deref().unwrap_or_default();
        let ok = match r.operator.as_str() {
            "In" | "NotIn" => !values.is_empty(),
            "Exists" | "DoesNotExist" => values.is_empty(),
            _ => false,
        };
        if !ok || !names::qualified_name(&r.key).is_empty() {
            return false;
        }
        if values.iter().any(|v| !names::label_value(v).is_empty()) {
            return false;
        }
    }
    true
}

/// Checks a template's metadata: only labels and annotations matter.
pub fn validate_template_meta(meta: Option<&ObjectMeta>, path: &Path) -> Errors {
    let Some(meta) = meta else {
        return Vec::new();
    };
    let mut errs = validate_labels(meta.labels.as_ref(), &path.child("labels"));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> ObjectMeta {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn name_required_or_generated() {
        let errs = validate_object_meta(
            &meta(json!({"namespace": "default"})),
            true,
            NameRule::Subdomain,
            &Path::new("metadata"),
        );
        assert_eq!(
            lines(&errs),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        let errs = validate_object_meta(
            &meta(json!({"name": "Bad_Name", "generateName": "Bad-", "namespace": "default"})),
            true,
            NameRule::Subdomain,
            &Path::new("metadata"),
        );
        assert_has_prefix(
            &errs,
            "metadata.generateName",
            "Invalid value: \"Bad-\": a lowercase RFC 1123 subdomain",
        );
        assert_has_prefix(
            &errs,
            "metadata.name",
            "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain",
        );
    }

    #[test]
    fn namespace_rules() {
        let p = Path::new("metadata");
        let errs = validate_object_meta(&meta(json!({"name": "x"})), true, NameRule::Subdomain, &p);
        assert_eq!(lines(&errs), vec!["metadata.namespace: Required value"]);
        let errs = validate_object_meta(
            &meta(json!({"name": "x", "namespace": "a"})),
            false,
            NameRule::Subdomain,
            &p,
        );
        assert_eq!(
            lines(&errs),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn labels_and_annotations() {
        let p = Path::new("metadata");
        let errs = validate_object_meta(
            &meta(json!({"name": "x", "namespace": "d",
                "labels": {"ok": "fine", "bad key": "v", "k": "-bad"},
                "annotations": {"Example.COM/Key": "anything goes", "no spaces": ""}})),
            true,
            NameRule::Subdomain,
            &p,
        );
        assert_has_prefix(
            &errs,
            "metadata.labels",
            "Invalid value: \"bad key\": name part must consist of",
        );
        assert_has_prefix(
            &errs,
            "metadata.labels",
            "Invalid value: \"-bad\": a valid label must be an empty string",
        );
        assert_has_prefix(
            &errs,
            "metadata.annotations",
            "Invalid value: \"no spaces\": name part must consist of",
        );
        assert_eq!(errs.len(), 3, "{:#?}", lines(&errs));

        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let errs = validate_annotations(
            Some(&BTreeMap::from([("a".to_string(), big)])),
            &Path::new("metadata.annotations"),
        );
        assert_eq!(
            lines(&errs),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
        assert_eq!(errs[0].reason, "FieldValueTooLong");
    }

    #[test]
    fn owner_references_and_finalizers() {
        let p = Path::new("metadata");
        let errs = validate_object_meta(
            &meta(json!({"name": "x", "namespace": "d",
                "ownerReferences": [
                    {"apiVersion": "", "kind": "", "name": "", "uid": ""},
                    {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"},
                    {"apiVersion": "apps/v1", "kind": "A", "name": "a", "uid": "2", "controller": true},
                    {"apiVersion": "apps/v1", "kind": "B", "name": "b", "uid": "3", "controller": true}],
                "finalizers": ["orphan", "foregroundDeletion", "custom", "example.com/ok"]})),
            true,
            NameRule::Subdomain,
            &p,
        );
        assert_has(
            &errs,
            "metadata.ownerReferences.apiVersion",
            "Invalid value: \"\": version must not be empty",
        );
        assert_has(
            &errs,
            "metadata.ownerReferences.kind",
            "Invalid value: \"\": must not be empty",
        );
        assert_has(
            &errs,
            "metadata.ownerReferences.uid",
            "Invalid value: \"\": must not be empty",
        );
        assert!(
            lines(&errs)
                .iter()
                .any(|l| l.contains("/v1, Kind=Event is disallowed from being an owner"))
        );
        assert!(lines(&errs).iter().any(|l| l.ends_with("Only one reference can have Controller set to true. Found \"true\" in references for A/a and B/b")));
        assert_has(
            &errs,
            "metadata.finalizers",
            "Invalid value: []string{\"orphan\", \"foregroundDeletion\", \"custom\", \"example.com/ok\"}: finalizer orphan and foregroundDeletion cannot be both set",
        );
        assert_has(
            &errs,
            "metadata.finalizers[2]",
            "Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified",
        );
    }

    #[test]
    fn update_immutables() {
        let old = meta(
            json!({"name": "x", "namespace": "d", "uid": "u1", "resourceVersion": "5",
            "generation": 3, "creationTimestamp": "2024-05-01T10:00:00Z"}),
        );
        let new = meta(json!({"name": "y", "namespace": "d", "uid": "u2",
            "generation": 2, "creationTimestamp": "2024-05-01T10:00:01Z"}));
        let errs = validate_object_meta_update(&new, &old, &Path::new("metadata"));
        assert_has(
            &errs,
            "metadata.resourceVersion",
            "Invalid value: \"\": must be specified for an update",
        );
        assert_has(
            &errs,
            "metadata.generation",
            "Invalid value: 2: must not be decremented",
        );
        assert_has(
            &errs,
            "metadata.name",
            "Invalid value: \"y\": field is immutable",
        );
        assert_has(
            &errs,
            "metadata.uid",
            "Invalid value: \"u2\": field is immutable",
        );
        assert_has(
            &errs,
            "metadata.creationTimestamp",
            "Invalid value: 2024-05-01 10:00:01 +0000 UTC: field is immutable",
        );

        let deleting = meta(json!({"name": "x", "resourceVersion": "1",
            "deletionTimestamp": "2024-05-01T10:00:00Z", "finalizers": ["a.io/x"]}));
        let mut adding = deleting.clone();
        adding.finalizers = Some(vec!["a.io/x".into(), "b.io/y".into()]);
        let errs = validate_object_meta_update(&adding, &deleting, &Path::new("metadata"));
        assert_eq!(
            lines(&errs),
            vec![
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"b.io/y\"}"
            ]
        );
    }

    #[test]
    fn selectors() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "x", "operator": "Exists"}]
        }))
        .unwrap();
        let labels = BTreeMap::from([
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "fe".to_string()),
            ("x".to_string(), String::new()),
        ]);
        assert!(selector_matches(Some(&sel), Some(&labels)));
        assert!(!selector_matches(Some(&sel), None));
        assert!(!selector_matches(None, Some(&labels)));
        assert!(selector_matches(Some(&LabelSelector::default()), None));

        let bad: LabelSelector = serde_json::from_value(json!({
            "matchExpressions": [
                {"key": "a", "operator": "In"},
                {"key": "b", "operator": "Exists", "values": ["x"]},
                {"key": "c", "operator": "Like"}]
        }))
        .unwrap();
        let errs = validate_label_selector(Some(&bad), &Path::new("spec.selector"));
        assert_has(
            &errs,
            "spec.selector.matchExpressions[0].values",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        );
        assert_has(
            &errs,
            "spec.selector.matchExpressions[1].values",
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        );
        assert_has(
            &errs,
            "spec.selector.matchExpressions[2].operator",
            "Invalid value: \"Like\": not a valid selector operator",
        );
        assert!(!selector_converts(Some(&bad)));
    }
}
