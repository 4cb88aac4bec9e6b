//! `autoscaling/v2` HorizontalPodAutoscaler.

use super::meta::{validate_label_selector, validate_object_meta, validate_object_meta_update};
use super::names::{self, NameRule};
use super::quantity::Quantity;
use super::{Errors, Path, decode_pair, jstr};
use crate::status::FieldCause;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingRules, HorizontalPodAutoscaler, MetricIdentifier,
    MetricSpec, MetricTarget,
};
use serde_json::Value;

const MAX_PERIOD_SECONDS: i32 = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;
const METRIC_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

fn cross_version_ref(r: &CrossVersionObjectReference, path: &Path) -> Errors {
    let mut errs = Vec::new();
    for (field, v) in [("kind", &r.kind), ("name", &r.name)] {
        if v.is_empty() {
            errs.push(FieldCause::required(path.child(field)));
        } else {
            for msg in names::path_segment_name(v) {
                errs.push(FieldCause::invalid(path.child(field), &jstr(v), msg));
            }
        }
    }
    errs
}

fn metric_identifier(id: &MetricIdentifier, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if id.name.is_empty() {
        errs.push(FieldCause::required_detail(
            path.child("name"),
            "must specify a metric name",
        ));
    } else {
        for msg in names::path_segment_name(&id.name) {
            errs.push(FieldCause::invalid(
                path.child("name"),
                &jstr(&id.name),
                msg,
            ));
        }
    }
    errs.extend(validate_label_selector(
        id.selector.as_ref(),
        &path.child("selector"),
    ));
    errs
}

fn sign(q: &Option<k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Option<i32> {
    q.as_ref().map(|q| {
        Quantity::parse(&q.0)
            .ok()
            .flatten()
            .map(|v| v.signum())
            .unwrap_or(0)
    })
}

fn metric_target(t: &MetricTarget, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if t.type_.is_empty() {
        errs.push(FieldCause::required_detail(
            path.child("type"),
            "must specify a metric target type",
        ));
    }
    if !["Utilization", "Value", "AverageValue"].contains(&t.type_.as_str()) {
        errs.push(FieldCause::invalid(
            path.child("type"),
            &jstr(&t.type_),
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    if let (Some(s), Some(v)) = (sign(&t.value), &t.value)
        && s != 1
    {
        errs.push(FieldCause::invalid(
            path.child("value"),
            &jstr(&v.0),
            "must be positive",
        ));
    }
    if let (Some(s), Some(v)) = (sign(&t.average_value), &t.average_value)
        && s != 1
    {
        errs.push(FieldCause::invalid(
            path.child("averageValue"),
            &jstr(&v.0),
            "must be positive",
        ));
    }
    if let Some(u) = t.average_utilization
        && u < 1
    {
        errs.push(FieldCause::invalid(
            path.child("averageUtilization"),
            &Value::from(u),
            "must be greater than 0",
        ));
    }
    errs
}

fn metric(m: &MetricSpec, path: &Path) -> Errors {
    let mut errs = Vec::new();
    let tp = path.child("type");
    if m.type_.is_empty() {
        errs.push(FieldCause::required_detail(
            &tp,
            "must specify a metric source type",
        ));
    }
    if !METRIC_TYPES.contains(&m.type_.as_str()) {
        errs.push(FieldCause::not_supported(
            &tp,
            &jstr(&m.type_),
            METRIC_TYPES,
        ));
    }
    let present: Vec<&str> = [
        ("object", m.object.is_some()),
        ("external", m.external.is_some()),
        ("pods", m.pods.is_some()),
        ("resource", m.resource.is_some()),
        ("containerResource", m.container_resource.is_some()),
    ]
    .into_iter()
    .filter(|(_, p)| *p)
    .map(|(n, _)| n)
    .collect();
    let expected = match m.type_.as_str() {
        "Object" => "object",
        "Pods" => "pods",
        "Resource" => "resource",
        "External" => "external",
        "ContainerResource" => "containerResource",
        _ => {
            errs.push(FieldCause::not_supported(
                &tp,
                &jstr(&m.type_),
                METRIC_TYPES,
            ));
            ""
        }
    };
    if !expected.is_empty() && !present.contains(&expected) {
        errs.push(FieldCause::required_detail(
            path.child(expected),
            "must populate information for the given metric source",
        ));
    }
    if present.len() != 1 {
        for p in present.iter().filter(|p| **p != expected) {
            errs.push(FieldCause::forbidden(
                path.child(p),
                "must populate the given metric source only",
            ));
        }
    }
    if let Some(o) = &m.object {
        let op = path.child("object");
        errs.extend(cross_version_ref(
            &o.described_object,
            &op.child("describedObject"),
        ));
        errs.extend(metric_identifier(&o.metric, &op.child("metric")));
        errs.extend(metric_target(&o.target, &op.child("target")));
        if o.target.value.is_none() && o.target.average_value.is_none() {
            errs.push(FieldCause::required_detail(
                op.child("target").child("averageValue"),
                "must set either a target value or averageValue",
            ));
        }
    }
    if let Some(p) = &m.pods {
        let pp = path.child("pods");
        errs.extend(metric_identifier(&p.metric, &pp.child("metric")));
        errs.extend(metric_target(&p.target, &pp.child("target")));
        if p.target.average_value.is_none() {
            errs.push(FieldCause::required_detail(
                pp.child("target").child("averageValue"),
                "must specify a positive target averageValue",
            ));
        }
    }
    if let Some(e) = &m.external {
        let ep = path.child("external");
        errs.extend(metric_identifier(&e.metric, &ep.child("metric")));
        errs.extend(metric_target(&e.target, &ep.child("target")));
        match (&e.target.value, &e.target.average_value) {
            (None, None) => errs.push(FieldCause::required_detail(
                ep.child("target").child("averageValue"),
                "must set either a target value for metric or a per-pod target",
            )),
            (Some(_), Some(_)) => errs.push(FieldCause::forbidden(
                ep.child("target").child("value"),
                "may not set both a target value for metric and a per-pod target",
            )),
            _ => {}
        }
    }
    for (field, name, container, target) in [
        (
            "resource",
            m.resource.as_ref().map(|r| &r.name),
            None,
            m.resource.as_ref().map(|r| &r.target),
        ),
        (
            "containerResource",
            m.container_resource.as_ref().map(|r| &r.name),
            m.container_resource.as_ref().map(|r| &r.container),
            m.container_resource.as_ref().map(|r| &r.target),
        ),
    ] {
        let (Some(name), Some(target)) = (name, target) else {
            continue;
        };
        let rp = path.child(field);
        if name.is_empty() {
            errs.push(FieldCause::required_detail(
                rp.child("name"),
                "must specify a resource name",
            ));
        }
        if let Some(c) = container {
            if c.is_empty() {
                errs.push(FieldCause::required_detail(
                    rp.child("container"),
                    "must specify a container",
                ));
            } else {
                for msg in names::dns1123_label(c) {
                    errs.push(FieldCause::invalid(rp.child("container"), &jstr(c), msg));
                }
            }
        }
        errs.extend(metric_target(target, &rp.child("target")));
        if target.average_utilization.is_none() && target.average_value.is_none() {
            errs.push(FieldCause::required_detail(
                rp.child("target").child("averageUtilization"),
                "must set either a target raw value or a target utilization",
            ));
        }
        if target.average_utilization.is_some() && target.average_value.is_some() {
            errs.push(FieldCause::forbidden(
                rp.child("target").child("averageValue"),
                "may not set both a target raw value and a target utilization",
            ));
        }
    }
    errs
}

fn scaling_rules(r: &HPAScalingRules, path: &Path) -> Errors {
    let mut errs = Vec::new();
    if let Some(w) = r.stabilization_window_seconds {
        if w < 0 {
            errs.push(FieldCause::invalid(
                path.child("stabilizationWindowSeconds"),
                &Value::from(w),
                "must be greater than or equal to zero",
            ));
        }
        if w > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(FieldCause::invalid(
                path.child("stabilizationWindowSeconds"),
                &Value::from(w),
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(sp) = &r.select_policy
        && !["Disabled", "Max", "Min"].contains(&sp.as_str())
    {
        errs.push(FieldCause::not_supported(
            path.child("selectPolicy"),
            &jstr(sp),
            &["Disabled", "Max", "Min"],
        ));
    }
    let pp = path.child("policies");
    let policies = r.policies.as_deref().unwrap_or_default();
    if policies.is_empty() {
        errs.push(FieldCause::required_detail(
            &pp,
            "must specify at least one Policy",
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        let ip = pp.index(i);
        if p.type_ != "Pods" && p.type_ != "Percent" {
            errs.push(FieldCause::not_supported(
                ip.child("type"),
                &jstr(&p.type_),
                &["Percent", "Pods"],
            ));
        }
        if p.value <= 0 {
            errs.push(FieldCause::invalid(
                ip.child("value"),
                &Value::from(p.value),
                "must be greater than zero",
            ));
        }
        if p.period_seconds <= 0 {
            errs.push(FieldCause::invalid(
                ip.child("periodSeconds"),
                &Value::from(p.period_seconds),
                "must be greater than zero",
            ));
        }
        if p.period_seconds > MAX_PERIOD_SECONDS {
            errs.push(FieldCause::invalid(
                ip.child("periodSeconds"),
                &Value::from(p.period_seconds),
                format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
            ));
        }
    }
    errs
}

/// HorizontalPodAutoscaler: metadata, replica bounds, target reference, metrics, behavior.
pub fn validate_hpa(new: &Value, old: Option<&Value>) -> Errors {
    let (hpa, o) = match decode_pair::<HorizontalPodAutoscaler>("HorizontalPodAutoscaler", new, old)
    {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mp = Path::new("metadata");
    let mut errs = Vec::new();
    if let Some(o) = &o {
        errs.extend(validate_object_meta_update(&hpa.metadata, &o.metadata, &mp));
    }
    errs.extend(validate_object_meta(
        &hpa.metadata,
        true,
        NameRule::Subdomain,
        &mp,
    ));
    let spec = hpa.spec.clone().unwrap_or_default();
    let path = Path::new("spec");
    if let Some(min) = spec.min_replicas
        && min < 1
    {
        errs.push(FieldCause::invalid(
            path.child("minReplicas"),
            &Value::from(min),
            "must be greater than or equal to 1",
        ));
    }
    if spec.max_replicas < 1 {
        errs.push(FieldCause::invalid(
            path.child("maxReplicas"),
            &Value::from(spec.max_replicas),
            "must be greater than 0",
        ));
    }
    if let Some(min) = spec.min_replicas
        && spec.max_replicas < min
    {
        errs.push(FieldCause::invalid(
            path.child("maxReplicas"),
            &Value::from(spec.max_replicas),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    errs.extend(cross_version_ref(
        &spec.scale_target_ref,
        &path.child("scaleTargetRef"),
    ));
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        errs.extend(metric(m, &path.child("metrics").index(i)));
    }
    if let Some(b) = &spec.behavior {
        let bp = path.child("behavior");
        if let Some(r) = &b.scale_up {
            errs.extend(scaling_rules(r, &bp.child("scaleUp")));
        }
        if let Some(r) = &b.scale_down {
            errs.extend(scaling_rules(r, &bp.child("scaleDown")));
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
    fn hpas() {
        let mut ok = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        apply("autoscaling", "HorizontalPodAutoscaler", &mut ok);
        assert_valid(&validate_hpa(&ok, None));
        let bad = json!({"metadata": {"name": "web", "namespace": "d"}, "spec": {"maxReplicas": 0, "minReplicas": 2,
            "scaleTargetRef": {"kind": "", "name": "a/b"},
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}}},
                {"type": "Pods"}],
            "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 2000}]}}}});
        let errs = validate_hpa(&bad, None);
        assert_has(
            &errs,
            "spec.maxReplicas",
            "Invalid value: 0: must be greater than 0",
        );
        assert_has(
            &errs,
            "spec.maxReplicas",
            "Invalid value: 0: must be greater than or equal to `minReplicas`",
        );
        assert_has(&errs, "spec.scaleTargetRef.kind", "Required value");
        assert_has(
            &errs,
            "spec.scaleTargetRef.name",
            "Invalid value: \"a/b\": may not contain '/'",
        );
        assert_has(
            &errs,
            "spec.metrics[0].resource.target.averageUtilization",
            "Invalid value: 0: must be greater than 0",
        );
        assert_has(
            &errs,
            "spec.metrics[1].pods",
            "Required value: must populate information for the given metric source",
        );
        assert_has(
            &errs,
            "spec.behavior.scaleUp.policies[0].value",
            "Invalid value: 0: must be greater than zero",
        );
        assert_has(
            &errs,
            "spec.behavior.scaleUp.policies[0].periodSeconds",
            "Invalid value: 2000: must be less than or equal to 1800",
        );
    }
}
