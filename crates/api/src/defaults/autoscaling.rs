//! Defaults of `autoscaling/v2` HorizontalPodAutoscaler (`pkg/apis/autoscaling/v2/defaults.go`).

use super::{or_set, resources};
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, MetricSpec, MetricTarget,
    ResourceMetricSource,
};

/// CPU utilization target when no metric is given (percent).
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

fn policy(type_: &str, value: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: type_.to_string(),
        value,
        period_seconds: 15,
    }
}

/// Fills unset parts of `rules` from `defaults` (upstream's `copyHPAScalingRules`).
fn merged(rules: Option<HPAScalingRules>, mut defaults: HPAScalingRules) -> HPAScalingRules {
    let Some(r) = rules else {
        return defaults;
    };
    if r.select_policy.is_some() {
        defaults.select_policy = r.select_policy;
    }
    if r.stabilization_window_seconds.is_some() {
        defaults.stabilization_window_seconds = r.stabilization_window_seconds;
    }
    if r.policies.is_some() {
        defaults.policies = r.policies;
    }
    if r.tolerance.is_some() {
        defaults.tolerance = r.tolerance;
    }
    defaults
}

/// HPA: minReplicas 1; an 80% CPU utilization metric when none is given; when `behavior` is
/// given, its unset scale-up/scale-down rules filled with upstream's defaults.
pub fn default_hpa(hpa: &mut HorizontalPodAutoscaler) {
    let spec = hpa.spec.get_or_insert_with(Default::default);
    or_set(&mut spec.min_replicas, 1);
    if spec.metrics.as_ref().is_none_or(|m| m.is_empty()) {
        spec.metrics = Some(vec![MetricSpec {
            type_: "Resource".to_string(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_string(),
                target: MetricTarget {
                    type_: "Utilization".to_string(),
                    average_utilization: Some(DEFAULT_CPU_UTILIZATION),
                    ..Default::default()
                },
            }),
            ..Default::default()
        }]);
    }
    if let Some(b) = &mut spec.behavior {
        b.scale_up = Some(merged(
            b.scale_up.take(),
            HPAScalingRules {
                stabilization_window_seconds: Some(0),
                select_policy: Some("Max".to_string()),
                policies: Some(vec![policy("Pods", 4), policy("Percent", 100)]),
                tolerance: None,
            },
        ));
        b.scale_down = Some(merged(
            b.scale_down.take(),
            HPAScalingRules {
                stabilization_window_seconds: None,
                select_policy: Some("Max".to_string()),
                policies: Some(vec![policy("Percent", 100)]),
                tolerance: None,
            },
        ));
    }
    for m in spec.metrics.iter_mut().flatten() {
        let targets = [
            m.resource.as_mut().map(|r| &mut r.target),
            m.container_resource.as_mut().map(|r| &mut r.target),
            m.pods.as_mut().map(|r| &mut r.target),
            m.object.as_mut().map(|r| &mut r.target),
            m.external.as_mut().map(|r| &mut r.target),
        ];
        for t in targets.into_iter().flatten() {
            resources::quantity(&mut t.value);
            resources::quantity(&mut t.average_value);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn hpa_defaults() {
        let mut hpa = json!({"spec": {"maxReplicas": 5,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
        apply("autoscaling", "HorizontalPodAutoscaler", &mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert!(hpa["spec"].get("behavior").is_none());

        let mut with_behavior = json!({"spec": {"maxReplicas": 5, "minReplicas": 2,
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "0.5"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}});
        apply("autoscaling", "HorizontalPodAutoscaler", &mut with_behavior);
        let spec = &with_behavior["spec"];
        assert_eq!(spec["metrics"][0]["pods"]["target"]["averageValue"], "500m");
        assert_eq!(
            spec["behavior"],
            json!({
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 15}]}})
        );
    }
}
