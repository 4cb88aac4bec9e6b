//! `rbac.authorization.k8s.io/v1`: Role, ClusterRole, RoleBinding, ClusterRoleBinding. Names
//! are path segments (colons allowed), not DNS names.

use super::meta::{
    selector_converts, validate_label_selector, validate_object_meta, validate_object_meta_update,
};
use super::names::{self, NameRule};
use super::{Errors, Path, decode_pair, go_label_selector, go_quote, go_strings, jstr, s};
use crate::status::FieldCause;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use serde_json::Value;

const GROUP: &str = "rbac.authorization.k8s.io";

fn meta(
    new: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    old: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
    namespaced: bool,
) -> Errors {
    let p = Path::new("metadata");
    let mut errs = validate_object_meta(new, namespaced, NameRule::PathSegment, &p);
    if let Some(o) = old {
        errs.extend(validate_object_meta_update(new, o, &p));
    }
    errs
}

fn policy_rule(rule: &PolicyRule, namespaced: bool, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if rule.verbs.is_empty() {
        errs.push(FieldCause::required_detail(
            path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
    let len = |v: &Option<Vec<String>>| v.as_ref().map(Vec::len).unwrap_or(0);
    if !urls.is_empty() {
        if namespaced {
            errs.push(FieldCause::invalid_rendered(
                path.child("nonResourceURLs"),
                go_strings(Some(urls)),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if len(&rule.api_groups) > 0 || len(&rule.resources) > 0 || len(&rule.resource_names) > 0 {
            errs.push(FieldCause::invalid_rendered(
                path.child("nonResourceURLs"),
                go_strings(Some(urls)),
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if len(&rule.api_groups) == 0 {
        errs.push(FieldCause::required_detail(
            path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if len(&rule.resources) == 0 {
        errs.push(FieldCause::required_detail(
            path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

/// Role: metadata and rules.
pub fn validate_role(new: &Value, old: Option<&Value>) -> Errors {
    let (r, o) = match decode_pair::<Role>("Role", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&r.metadata, o.as_ref().map(|o| &o.metadata), true);
    for (i, rule) in r.rules.iter().flatten().enumerate() {
        errs.extend(policy_rule(rule, true, &Path::new("rules").index(i)));
    }
    errs
}

/// ClusterRole: metadata, rules and aggregation selectors.
pub fn validate_cluster_role(new: &Value, old: Option<&Value>) -> Errors {
    let (r, o) = match decode_pair::<ClusterRole>("ClusterRole", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&r.metadata, o.as_ref().map(|o| &o.metadata), false);
    for (i, rule) in r.rules.iter().flatten().enumerate() {
        errs.extend(policy_rule(rule, false, &Path::new("rules").index(i)));
    }
    if let Some(ar) = &r.aggregation_rule {
        let p = Path::new("aggregationRule").child("clusterRoleSelectors");
        let sels = ar.cluster_role_selectors.as_deref().unwrap_or_default();
        if sels.is_empty() {
            errs.push(FieldCause::required_detail(
                &p,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, sel) in sels.iter().enumerate() {
            errs.extend(validate_label_selector(Some(sel), &p.index(i)));
            if !selector_converts(Some(sel)) {
                errs.push(FieldCause::invalid_rendered(
                    p.index(i),
                    go_label_selector(Some(sel)),
                    "invalid label selector.",
                ));
            }
        }
    }
    errs
}

fn subject(sub: &Subject, namespaced: bool, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if sub.name.is_empty() {
        errs.push(FieldCause::required(path.child("name")));
    }
    let group = s(&sub.api_group);
    match sub.kind.as_str() {
        "ServiceAccount" => {
            if !sub.name.is_empty() {
                for msg in names::dns1123_subdomain(&sub.name) {
                    errs.push(FieldCause::invalid(
                        path.child("name"),
                        &jstr(&sub.name),
                        msg,
                    ));
                }
            }
            if !group.is_empty() {
                errs.push(FieldCause::not_supported(
                    path.child("apiGroup"),
                    &jstr(group),
                    &[""],
                ));
            }
            if !namespaced && s(&sub.namespace).is_empty() {
                errs.push(FieldCause::required(path.child("namespace")));
            }
        }
        "User" | "Group" => {
            if group != GROUP {
                errs.push(FieldCause::not_supported(
                    path.child("apiGroup"),
                    &jstr(group),
                    &[GROUP],
                ));
            }
        }
        other => errs.push(FieldCause::not_supported(
            path.child("kind"),
            &jstr(other),
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

fn role_ref(r: &RoleRef, kinds: &[&str]) -> Errors {
    let mut errs = Vec::new();
    let p = Path::new("roleRef");
    if r.api_group != GROUP {
        errs.push(FieldCause::not_supported(
            p.child("apiGroup"),
            &jstr(&r.api_group),
            &[GROUP],
        ));
    }
    if !kinds.contains(&r.kind.as_str()) {
        errs.push(FieldCause::not_supported(
            p.child("kind"),
            &jstr(&r.kind),
            kinds,
        ));
    }
    if r.name.is_empty() {
        errs.push(FieldCause::required(p.child("name")));
    } else {
        for msg in names::path_segment_name(&r.name) {
            errs.push(FieldCause::invalid(p.child("name"), &jstr(&r.name), msg));
        }
    }
    errs
}

fn role_ref_changed(new: &RoleRef, old: &RoleRef) -> Errors {
    if new != old {
        vec![FieldCause::invalid_rendered(
            "roleRef",
            format!(
                "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
                go_quote(&new.api_group),
                go_quote(&new.kind),
                go_quote(&new.name)
            ),
            "cannot change roleRef",
        )]
    } else {
        Vec::new()
    }
}

/// RoleBinding: metadata, roleRef (Role or ClusterRole, immutable), subjects.
pub fn validate_role_binding(new: &Value, old: Option<&Value>) -> Errors {
    let (rb, o) = match decode_pair::<RoleBinding>("RoleBinding", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&rb.metadata, o.as_ref().map(|o| &o.metadata), true);
    errs.extend(role_ref(&rb.role_ref, &["Role", "ClusterRole"]));
    for (i, sub) in rb.subjects.iter().flatten().enumerate() {
        errs.extend(subject(sub, true, &Path::new("subjects").index(i)));
    }
    if let Some(o) = &o {
        errs.extend(role_ref_changed(&rb.role_ref, &o.role_ref));
    }
    errs
}

/// ClusterRoleBinding: metadata, roleRef (ClusterRole, immutable), subjects (service
/// accounts need a namespace).
pub fn validate_cluster_role_binding(new: &Value, old: Option<&Value>) -> Errors {
    let (rb, o) = match decode_pair::<ClusterRoleBinding>("ClusterRoleBinding", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&rb.metadata, o.as_ref().map(|o| &o.metadata), false);
    errs.extend(role_ref(&rb.role_ref, &["ClusterRole"]));
    for (i, sub) in rb.subjects.iter().flatten().enumerate() {
        errs.extend(subject(sub, false, &Path::new("subjects").index(i)));
    }
    if let Some(o) = &o {
        errs.extend(role_ref_changed(&rb.role_ref, &o.role_ref));
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
    fn roles() {
        let ok = json!({"metadata": {"name": "system:controller:x", "namespace": "d"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
        assert_valid(&validate_role(&ok, None));
        let bad = json!({"metadata": {"name": "a/b", "namespace": "d"},
            "rules": [{"verbs": []}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]});
        let errs = validate_role(&bad, None);
        assert_has(
            &errs,
            "metadata.name",
            "Invalid value: \"a/b\": may not contain '/'",
        );
        assert_has(
            &errs,
            "rules[0].verbs",
            "Required value: verbs must contain at least one value",
        );
        assert_has(
            &errs,
            "rules[0].apiGroups",
            "Required value: resource rules must supply at least one api group",
        );
        assert_has(
            &errs,
            "rules[1].nonResourceURLs",
            "Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
        );
        let cr =
            json!({"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": []}});
        assert_has(
            &validate_cluster_role(&cr, None),
            "aggregationRule.clusterRoleSelectors",
            "Required value: at least one clusterRoleSelector required if aggregationRule is non-nil",
        );
    }

    #[test]
    fn bindings() {
        let mut rb = json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default"}]});
        apply("rbac.authorization.k8s.io", "RoleBinding", &mut rb);
        assert_valid(&validate_role_binding(&rb, None));
        let mut old = rb.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut changed = old.clone();
        changed["roleRef"]["name"] = json!("other");
        assert_eq!(
            lines(&validate_role_binding(&changed, Some(&old))),
            vec![
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef"
            ]
        );
        let mut crb = json!({"metadata": {"name": "c"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "sa"}, {"kind": "Robot", "name": "r"}]});
        apply("rbac.authorization.k8s.io", "ClusterRoleBinding", &mut crb);
        let errs = validate_cluster_role_binding(&crb, None);
        assert_has(
            &errs,
            "roleRef.kind",
            "Unsupported value: \"Role\": supported values: \"ClusterRole\"",
        );
        assert_has(&errs, "subjects[0].namespace", "Required value");
        assert_has(
            &errs,
            "subjects[1].kind",
            "Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
        );
    }
}
