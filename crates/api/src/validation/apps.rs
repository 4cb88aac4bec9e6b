//! `apps/v1` (upstream's `pkg/apis/apps/validation`): Deployment, ReplicaSet, StatefulSet,
//! DaemonSet, ControllerRevision. Selectors are required, must select the template's labels,
//! and are immutable.

use super::core::template_restart_always;
use super::meta::{
    selector_converts, selector_is_empty, selector_matches, validate_annotations,
    validate_label_selector, validate_labels, validate_object_meta, validate_object_meta_update,
};
use super::names::{self, NameRule};
use super::pod::{pod_specific_annotations, validate_pod_template_spec};
use super::{
    Errors, Path, decode_pair, go_int_or_string, go_label_selector, go_map, json_of, nonnegative, s,
};
use crate::status::FieldCause;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

/// The selector as the user sent it: `None` when `spec.selector` is absent or null (the typed
/// structs would show an empty selector instead).
fn raw_selector<'a>(raw: &Value, typed: &'a LabelSelector) -> Option<&'a LabelSelector> {
    raw.get("spec")
        .and_then(|s| s.get("selector"))
        .filter(|v| !v.is_null())
        .map(|_| typed)
}

fn meta(
    new: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    old: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
) -> Errors {
    let p = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = old {
        errs.extend(validate_object_meta_update(new, o, &p));
    }
    errs.extend(validate_object_meta(new, true, NameRule::Subdomain, &p));
    errs
}

/// Selector presence/validity/non-emptiness (the `kind` names the workload in the message).
fn selector_rules(sel: Option<&LabelSelector>, path: &Path, kind: &str) -> Errors {
    let sp = path.child("selector");
    match sel {
        None => vec![FieldCause::required(&sp)],
        Some(sel) => {
            let mut errs = validate_label_selector(Some(sel), &sp);
            if selector_is_empty(sel) {
                errs.push(FieldCause::invalid_rendered(
                    &sp,
                    go_label_selector(Some(sel)),
                    format!("empty selector is invalid for {kind}"),
                ));
            }
            errs
        }
    }
}

/// The template must be selected by the selector (`selector` does not match template `labels`).
fn template_matches(sel: Option<&LabelSelector>, t: &PodTemplateSpec, tp: &Path) -> Errors {
    let labels = t.metadata.as_ref().and_then(|m| m.labels.as_ref());
    let empty_sel = sel.is_some_and(selector_is_empty);
    if !empty_sel && !selector_matches(sel, labels) {
        vec![FieldCause::invalid_rendered(
            tp.child("metadata").child("labels"),
            go_map(labels),
            "`selector` does not match template `labels`",
        )]
    } else {
        Vec::new()
    }
}

fn selector_immutable(new: Option<&LabelSelector>, old: Option<&LabelSelector>) -> Errors {
    if new != old {
        vec![FieldCause::invalid_rendered(
            "spec.selector",
            go_label_selector(new),
            "field is immutable",
        )]
    } else {
        Vec::new()
    }
}

fn percent_value(v: &IntOrString) -> Option<i64> {
    match v {
        IntOrString::String(s) if names::percent(s).is_empty() => s[..s.len() - 1].parse().ok(),
        _ => None,
    }
}

fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => percent_value(v).unwrap_or_else(|| s.parse().unwrap_or(0)),
    }
}

/// A non-negative integer or a percentage.
pub(crate) fn positive_int_or_percent(v: &IntOrString, path: &Path) -> Errors {
    match v {
        IntOrString::String(s) => names::percent(s)
            .into_iter()
            .map(|m| FieldCause::invalid_rendered(path, go_int_or_string(v), m))
            .collect(),
        IntOrString::Int(i) => nonnegative(i64::from(*i), path),
    }
}

/// A percentage above 100% is invalid.
pub(crate) fn not_more_than_100_percent(v: &IntOrString, path: &Path) -> Errors {
    match percent_value(v) {
        Some(p) if p > 100 => vec![FieldCause::invalid_rendered(
            path,
            go_int_or_string(v),
            "must not be greater than 100%",
        )],
        _ => Vec::new(),
    }
}

/// Deployment create/update validation.
pub fn validate_deployment(new: &Value, old: Option<&Value>) -> Errors {
    let (d, o) = match decode_pair::<Deployment>("Deployment", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&d.metadata, o.as_ref().map(|o| &o.metadata));
    let spec = d.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    let sel = raw_selector(new, &spec.selector);
    errs.extend(nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    ));
    errs.extend(selector_rules(sel, &path, "deployment"));
    let tp = path.child("template");
    if selector_converts(sel) {
        errs.extend(template_matches(sel, &spec.template, &tp));
        errs.extend(validate_pod_template_spec(&spec.template, &tp, &[]));
        errs.extend(template_restart_always(&spec.template, &tp, "ReplicaSet"));
    } else {
        errs.push(FieldCause::invalid_rendered(
            path.child("selector"),
            go_label_selector(sel),
            "invalid label selector",
        ));
    }
    let strategy = spec.strategy.clone().unwrap_or_default();
    let stp = path.child("strategy");
    match s(&strategy.type_) {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldCause::forbidden(
                    stp.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldCause::required_detail(
                stp.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = stp.child("rollingUpdate");
                let mu = ru.max_unavailable.clone().unwrap_or(IntOrString::Int(0));
                let ms = ru.max_surge.clone().unwrap_or(IntOrString::Int(0));
                errs.extend(positive_int_or_percent(&mu, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(&ms, &rp.child("maxSurge")));
                if int_or_percent_value(&mu) == 0 && int_or_percent_value(&ms) == 0 {
                    errs.push(FieldCause::invalid_rendered(
                        rp.child("maxUnavailable"),
                        go_int_or_string(&mu),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100_percent(&mu, &rp.child("maxUnavailable")));
            }
        },
        other => errs.push(FieldCause::not_supported_rendered(
            &stp,
            format!(
                "apps.DeploymentStrategy{{Type:{:?}, RollingUpdate:{}}}",
                other,
                if strategy.rolling_update.is_some() {
                    "(*apps.RollingUpdateDeployment)(0xc000000000)"
                } else {
                    "(*apps.RollingUpdateDeployment)(nil)"
                }
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
    let mrs = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(nonnegative(i64::from(mrs), &path.child("minReadySeconds")));
    if let Some(r) = spec.revision_history_limit {
        errs.extend(nonnegative(
            i64::from(r),
            &path.child("revisionHistoryLimit"),
        ));
    }
    if let Some(p) = spec.progress_deadline_seconds {
        errs.extend(nonnegative(
            i64::from(p),
            &path.child("progressDeadlineSeconds"),
        ));
        if p <= mrs {
            errs.push(FieldCause::invalid(
                path.child("progressDeadlineSeconds"),
                &Value::from(p),
                "must be greater than minReadySeconds",
            ));
        }
    }
    if let Some(o) = &o {
        let os = o.spec.clone().unwrap_or_default();
        let old_sel = old.and_then(|ov| raw_selector(ov, &os.selector));
        errs.extend(selector_immutable(sel, old_sel));
    }
    errs
}

/// ReplicaSet create/update validation.
pub fn validate_replica_set(new: &Value, old: Option<&Value>) -> Errors {
    let (rs, o) = match decode_pair::<ReplicaSet>("ReplicaSet", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&rs.metadata, o.as_ref().map(|o| &o.metadata));
    let spec = rs.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    let sel = raw_selector(new, &spec.selector);
    errs.extend(nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    ));
    errs.extend(nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    ));
    errs.extend(selector_rules(sel, &path, "deployment"));
    let tp = path.child("template");
    if !selector_converts(sel) {
        errs.push(FieldCause::invalid_rendered(
            path.child("selector"),
            go_label_selector(sel),
            "invalid label selector",
        ));
    } else {
        match &spec.template {
            None => errs.push(FieldCause::required(&tp)),
            Some(t) => {
                errs.extend(template_matches(sel, t, &tp));
                errs.extend(validate_pod_template_spec(t, &tp, &[]));
                errs.extend(template_restart_always(t, &tp, "ReplicaSet"));
            }
        }
    }
    if let Some(o) = &o {
        let os = o.spec.clone().unwrap_or_default();
        errs.extend(selector_immutable(
            sel,
            old.and_then(|ov| raw_selector(ov, &os.selector)),
        ));
    }
    errs
}

/// DaemonSet create/update validation.
pub fn validate_daemon_set(new: &Value, old: Option<&Value>) -> Errors {
    let (ds, o) = match decode_pair::<DaemonSet>("DaemonSet", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&ds.metadata, o.as_ref().map(|o| &o.metadata));
    let spec = ds.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    let sel = raw_selector(new, &spec.selector);
    let tp = path.child("template");
    match sel {
        None => errs.push(FieldCause::required(path.child("selector"))),
        Some(sel) => errs.extend(validate_label_selector(Some(sel), &path.child("selector"))),
    }
    if selector_converts(sel)
        && !selector_matches(
            sel,
            spec.template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref()),
        )
    {
        errs.push(FieldCause::invalid_rendered(
            tp.child("metadata").child("labels"),
            go_map(
                spec.template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.as_ref()),
            ),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(sel) = sel
        && selector_is_empty(sel)
    {
        errs.push(FieldCause::invalid_rendered(
            path.child("selector"),
            go_label_selector(Some(sel)),
            "empty selector is invalid for daemonset",
        ));
    }
    errs.extend(validate_pod_template_spec(&spec.template, &tp, &[]));
    errs.extend(template_restart_always(&spec.template, &tp, "DaemonSet"));
    errs.extend(nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    ));
    let us = spec.update_strategy.clone().unwrap_or_default();
    let up = path.child("updateStrategy");
    match s(&us.type_) {
        "OnDelete" => {}
        "RollingUpdate" => match &us.rolling_update {
            None => errs.push(FieldCause::required(up.child("rollingUpdate"))),
            Some(ru) => {
                let rp = up.child("rollingUpdate");
                let mu = ru.max_unavailable.clone().unwrap_or(IntOrString::Int(0));
                let ms = ru.max_surge.clone().unwrap_or(IntOrString::Int(0));
                errs.extend(positive_int_or_percent(&mu, &rp.child("maxUnavailable")));
                errs.extend(positive_int_or_percent(&ms, &rp.child("maxSurge")));
                errs.extend(not_more_than_100_percent(&mu, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100_percent(&ms, &rp.child("maxSurge")));
                let (hu, hs) = (
                    int_or_percent_value(&mu) != 0,
                    int_or_percent_value(&ms) != 0,
                );
                if hu && hs {
                    errs.push(FieldCause::invalid_rendered(
                        rp.child("maxSurge"),
                        go_int_or_string(&ms),
                        "may not be set when maxUnavailable is non-zero",
                    ));
                } else if !hu && !hs {
                    errs.push(FieldCause::required_detail(
                        rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
        },
        _ => errs.push(FieldCause::not_supported_rendered(
            &up,
            json_of(&us),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    if let Some(r) = spec.revision_history_limit {
        errs.extend(nonnegative(
            i64::from(r),
            &path.child("revisionHistoryLimit"),
        ));
    }
    if let Some(o) = &o {
        let os = o.spec.clone().unwrap_or_default();
        errs.extend(selector_immutable(
            sel,
            old.and_then(|ov| raw_selector(ov, &os.selector)),
        ));
    }
    errs
}

/// StatefulSet create/update validation; on update only replicas, ordinals, template,
/// updateStrategy, revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and
/// minReadySeconds may change.
pub fn validate_stateful_set(new: &Value, old: Option<&Value>) -> Errors {
    let (ss, o) = match decode_pair::<StatefulSet>("StatefulSet", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = Vec::new();
    let mp = Path::new("metadata");
    match &o {
        Some(o) => errs.extend(validate_object_meta_update(&ss.metadata, &o.metadata, &mp)),
        None => errs.extend(validate_object_meta(
            &ss.metadata,
            true,
            NameRule::Label,
            &mp,
        )),
    }
    let spec = ss.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    match s(&spec.pod_management_policy) {
        "" => errs.push(FieldCause::required(path.child("podManagementPolicy"))),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldCause::invalid(
            path.child("podManagementPolicy"),
            &Value::String(other.to_string()),
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let us = spec.update_strategy.clone().unwrap_or_default();
    let up = path.child("updateStrategy");
    match s(&us.type_) {
        "" => errs.push(FieldCause::required(&up)),
        "OnDelete" => {
            if us.rolling_update.is_some() {
                errs.push(FieldCause::invalid_rendered(
                    up.child("rollingUpdate"),
                    json_of(&us.rolling_update),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = &us.rolling_update {
                let rp = up.child("rollingUpdate");
                errs.extend(nonnegative(
                    i64::from(ru.partition.unwrap_or(0)),
                    &rp.child("partition"),
                ));
                if let Some(mu) = &ru.max_unavailable {
                    let mp = rp.child("maxUnavailable");
                    errs.extend(positive_int_or_percent(mu, &mp));
                    if int_or_percent_value(mu) == 0 {
                        errs.push(FieldCause::invalid_rendered(
                            &mp,
                            go_int_or_string(mu),
                            "cannot be 0",
                        ));
                    }
                    errs.extend(not_more_than_100_percent(mu, &mp));
                }
            }
        }
        _ => errs.push(FieldCause::invalid_rendered(
            &up,
            json_of(&us),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(p) = &spec.persistent_volume_claim_retention_policy {
        let pp = path.child("persistentVolumeClaimRetentionPolicy");
        for (field, v) in [
            ("whenDeleted", &p.when_deleted),
            ("whenScaled", &p.when_scaled),
        ] {
            let v = s(v);
            if v != "Retain" && v != "Delete" {
                errs.push(FieldCause::not_supported(
                    pp.child(field),
                    &Value::String(v.to_string()),
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errs.extend(nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    ));
    errs.extend(nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    ));
    if let Some(ord) = &spec.ordinals {
        errs.extend(nonnegative(
            i64::from(ord.start.unwrap_or(0)),
            &path.child("ordinals.start"),
        ));
    }
    // The controller copies serviceName into each pod's `subdomain`, a DNS label; checked on
    // create only so that older objects stay updatable (the field is immutable).
    if o.is_none() {
        let name = s(&spec.service_name);
        if !name.is_empty() {
            for m in names::dns1123_label(name) {
                errs.push(FieldCause::invalid(
                    path.child("serviceName"),
                    &Value::String(name.to_string()),
                    m,
                ));
            }
        }
    }
    let sel = raw_selector(new, &spec.selector);
    errs.extend(selector_rules(sel, &path, "statefulset"));
    let tp = path.child("template");
    if selector_converts(sel) {
        // Upstream checks only the template's labels and annotations here, not its pod spec.
        errs.extend(template_matches(sel, &spec.template, &tp));
        let tmeta = spec.template.metadata.clone().unwrap_or_default();
        errs.extend(validate_labels(tmeta.labels.as_ref(), &tp.child("labels")));
        errs.extend(validate_annotations(
            tmeta.annotations.as_ref(),
            &tp.child("annotations"),
        ));
        errs.extend(pod_specific_annotations(
            tmeta.annotations.as_ref(),
            &spec.template.spec.clone().unwrap_or_default(),
            &tp.child("annotations"),
        ));
    } else {
        errs.push(FieldCause::invalid_rendered(
            path.child("selector"),
            go_label_selector(sel),
            "",
        ));
    }
    errs.extend(template_restart_always(&spec.template, &tp, "StatefulSet"));
    if let Some(o) = &o {
        let mut n = spec.clone();
        let os = o.spec.clone().unwrap_or_default();
        n.replicas = os.replicas;
        n.template = os.template.clone();
        n.update_strategy = os.update_strategy.clone();
        n.min_ready_seconds = os.min_ready_seconds;
        n.ordinals = os.ordinals.clone();
        n.revision_history_limit = os.revision_history_limit;
        n.persistent_volume_claim_retention_policy =
            os.persistent_volume_claim_retention_policy.clone();
        if n != os {
            errs.push(FieldCause::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    errs
}

/// ControllerRevision: metadata, data required, non-negative revision; data immutable.
pub fn validate_controller_revision(new: &Value, old: Option<&Value>) -> Errors {
    let (cr, o) = match decode_pair::<ControllerRevision>("ControllerRevision", new, old) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut errs = meta(&cr.metadata, o.as_ref().map(|o| &o.metadata));
    if cr.data.is_none() {
        errs.push(FieldCause::required_detail("data", "data is mandatory"));
    }
    errs.extend(nonnegative(cr.revision, &Path::new("revision")));
    if let Some(o) = &o
        && cr.data != o.data
    {
        errs.push(FieldCause::invalid_rendered(
            "data",
            json_of(&cr.data),
            "field is immutable",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{validate_create, validate_update};
    use crate::defaults::apply;
    use serde_json::{Value, json};

    fn deploy(selector: Option<Value>, labels: Value) -> Value {
        let mut spec = json!({"template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}});
        if let Some(s) = selector {
            spec["selector"] = s;
        }
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        apply("apps", "Deployment", &mut d);
        d
    }

    #[test]
    fn deployment_selector_rules() {
        let ok = deploy(
            Some(json!({"matchLabels": {"app": "web"}})),
            json!({"app": "web"}),
        );
        assert_valid(&validate_create("apps", "Deployment", &ok));

        let mismatch = deploy(
            Some(json!({"matchLabels": {"app": "other"}})),
            json!({"app": "web"}),
        );
        assert_eq!(
            lines(&validate_create("apps", "Deployment", &mismatch)),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );

        let missing = deploy(None, json!({"app": "web"}));
        let errs = validate_create("apps", "Deployment", &missing);
        assert_has(&errs, "spec.selector", "Required value");
        assert_has(
            &errs,
            "spec.template.metadata.labels",
            "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
        );

        let empty = deploy(Some(json!({})), json!({"app": "web"}));
        assert_has(
            &validate_create("apps", "Deployment", &empty),
            "spec.selector",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
        );
    }

    #[test]
    fn deployment_strategy_and_update() {
        let mut d = deploy(
            Some(json!({"matchLabels": {"app": "web"}})),
            json!({"app": "web"}),
        );
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": "150%"});
        d["spec"]["progressDeadlineSeconds"] = json!(5);
        d["spec"]["minReadySeconds"] = json!(10);
        let errs = validate_create("apps", "Deployment", &d);
        assert_has(
            &errs,
            "spec.strategy.rollingUpdate.maxUnavailable",
            "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%",
        );
        assert_has(
            &errs,
            "spec.progressDeadlineSeconds",
            "Invalid value: 5: must be greater than minReadySeconds",
        );
        d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {}});
        assert_has(
            &validate_create("apps", "Deployment", &d),
            "spec.strategy.rollingUpdate",
            "Forbidden: may not be specified when strategy `type` is 'Recreate'",
        );

        let mut old = deploy(
            Some(json!({"matchLabels": {"app": "web"}})),
            json!({"app": "web"}),
        );
        old["metadata"]["resourceVersion"] = json!("3");
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert_valid(&validate_update("apps", "Deployment", &new, &old));
        new["spec"]["selector"] = json!({"matchLabels": {"app": "nginx2"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"app": "nginx2"});
        assert_eq!(
            lines(&validate_update("apps", "Deployment", &new, &old)),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"nginx2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
    }

    #[test]
    fn replica_sets_and_daemon_sets() {
        let mut rs = json!({"metadata": {"name": "r", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x"}]}}}});
        apply("apps", "ReplicaSet", &mut rs);
        assert_has(
            &validate_create("apps", "ReplicaSet", &rs),
            "spec.template.spec.restartPolicy",
            "Unsupported value: \"OnFailure\": supported values: \"Always\"",
        );

        let mut ds = json!({"metadata": {"name": "d", "namespace": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
            "updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        apply("apps", "DaemonSet", &mut ds);
        assert_eq!(
            lines(&validate_create("apps", "DaemonSet", &ds)),
            vec![
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
            ]
        );
    }

    #[test]
    fn stateful_sets() {
        let mut ss = json!({"metadata": {"name": "db", "namespace": "d"}, "spec": {"serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "x",
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/db"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}]}});
        apply("apps", "StatefulSet", &mut ss);
        assert_valid(&validate_create("apps", "StatefulSet", &ss));
        let mut old = ss.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(3);
        assert_valid(&validate_update("apps", "StatefulSet", &new, &old));
        new["spec"]["serviceName"] = json!("other");
        assert_has_prefix(
            &validate_update("apps", "StatefulSet", &new, &old),
            "spec",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        );
    }

    #[test]
    fn stateful_set_names_and_template_rules() {
        let mut ss = json!({"metadata": {"name": "db.v1", "namespace": "d"}, "spec": {"serviceName": "Db_svc",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}, "annotations": {"controller.kubernetes.io/pod-deletion-cost": "x"}},
                "spec": {"restartPolicy": "OnFailure", "activeDeadlineSeconds": 5, "containers": [{"name": "c"}]}}}});
        apply("apps", "StatefulSet", &mut ss);
        let errs = validate_create("apps", "StatefulSet", &ss);
        assert_has_prefix(
            &errs,
            "metadata.name",
            "Invalid value: \"db.v1\": must not contain dots",
        );
        assert_has_prefix(
            &errs,
            "spec.serviceName",
            "Invalid value: \"Db_svc\": a lowercase RFC 1123 label",
        );
        assert_has(
            &errs,
            "spec.template.annotations[controller.kubernetes.io/pod-deletion-cost]",
            "Invalid value: \"x\": must be a 32bit integer",
        );
        assert_has(
            &errs,
            "spec.template.spec.restartPolicy",
            "Unsupported value: \"OnFailure\": supported values: \"Always\"",
        );
        assert_has(
            &errs,
            "spec.template.spec.activeDeadlineSeconds",
            "Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
        );
        // The pod spec itself (here: a container without an image) is not validated.
        assert!(
            !errs.iter().any(|e| e.field.contains("containers")),
            "{errs:?}"
        );
        // Names are not re-validated on update.
        let mut old = ss.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        old["spec"]["serviceName"] = json!("db");
        old["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        old["spec"]["template"]["spec"]
            .as_object_mut()
            .unwrap()
            .remove("activeDeadlineSeconds");
        old["spec"]["template"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        assert_valid(&validate_update("apps", "StatefulSet", &old, &old));
    }

    #[test]
    fn controller_revisions() {
        let cr = json!({"metadata": {"name": "r", "namespace": "d"}, "revision": -1});
        let errs = validate_create("apps", "ControllerRevision", &cr);
        assert_has(&errs, "data", "Required value: data is mandatory");
        assert_has(
            &errs,
            "revision",
            "Invalid value: -1: must be greater than or equal to 0",
        );
    }
}
