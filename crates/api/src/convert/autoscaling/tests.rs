use super::*;
use serde_json::{Value, json};

fn v2(value: Value) -> v2::HorizontalPodAutoscaler {
    serde_json::from_value(value).unwrap()
}

fn v1(value: Value) -> v1::HorizontalPodAutoscaler {
    serde_json::from_value(value).unwrap()
}

fn to_json<T: serde::Serialize>(t: T) -> Value {
    serde_json::to_value(t).unwrap()
}

fn annotation(obj: &Value, key: &str) -> Value {
    serde_json::from_str(obj["metadata"]["annotations"][key].as_str().unwrap()).unwrap()
}

/// A v2 HPA using everything v1 cannot say.
fn rich() -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "d", "annotations": {"keep": "me"}},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}},
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "500Mi"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"},
                    "target": {"type": "AverageValue", "averageValue": "1k"}}},
                {"type": "Object", "object": {
                    "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "s"},
                    "metric": {"name": "hits"}, "target": {"type": "Value", "value": "10"}}},
                {"type": "External", "external": {"metric": {"name": "queue"},
                    "target": {"type": "AverageValue", "averageValue": "30"}}},
                {"type": "ContainerResource", "containerResource": {"name": "cpu",
                    "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}},
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}},
        },
        "status": {
            "currentReplicas": 3, "desiredReplicas": 4, "observedGeneration": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 23, "averageValue": "100m"}}},
                {"type": "Pods", "pods": {"metric": {"name": "qps"},
                    "current": {"averageValue": "900"}}},
            ],
            "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                "lastTransitionTime": "2024-01-01T00:00:00Z"}],
        },
    })
}

#[test]
fn v1_view_keeps_the_cpu_target_in_fields_and_the_rest_in_annotations() {
    let out = to_json(v2_to_v1(v2(rich())).unwrap());
    assert_eq!(out["apiVersion"], "autoscaling/v1");
    assert_eq!(
        out["spec"],
        json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 50})
    );
    assert_eq!(
        out["status"],
        json!({"currentReplicas": 3, "desiredReplicas": 4, "observedGeneration": 2,
            "currentCPUUtilizationPercentage": 23})
    );
    assert_eq!(out["metadata"]["annotations"]["keep"], "me");
    assert_eq!(
        annotation(&out, METRICS_ANNOTATION),
        json!([
            {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "500Mi"}},
            {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}},
            {"type": "Object", "object": {"target": {"apiVersion": "v1", "kind": "Service", "name": "s"},
                "metricName": "hits", "targetValue": "10"}},
            {"type": "External", "external": {"metricName": "queue", "targetAverageValue": "30"}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu",
                "targetAverageUtilization": 60, "container": "app"}},
        ])
    );
    assert_eq!(
        annotation(&out, CURRENT_METRICS_ANNOTATION),
        json!([
            {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 23,
                "currentAverageValue": "100m"}},
            {"type": "Pods", "pods": {"metricName": "qps", "currentAverageValue": "900"}},
        ])
    );
    assert_eq!(
        annotation(&out, CONDITIONS_ANNOTATION),
        json!([{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
            "lastTransitionTime": "2024-01-01T00:00:00Z"}])
    );
    // Go field names, unset rules as null (upstream marshals its internal type).
    assert_eq!(
        annotation(&out, BEHAVIOR_ANNOTATION),
        json!({"ScaleUp": null, "ScaleDown": {"StabilizationWindowSeconds": 300,
            "SelectPolicy": "Max", "Policies": [{"Type": "Percent", "Value": 100, "PeriodSeconds": 15}]}})
    );
}

#[test]
fn v1_round_trip_restores_the_v2_object() {
    let back = to_json(v1_to_v2(v2_to_v1(v2(rich())).unwrap()).unwrap());
    let mut want = rich();
    // Upstream puts the CPU target after the metrics that came from the annotation.
    let metrics = want["spec"]["metrics"].as_array_mut().unwrap();
    let cpu = metrics.remove(0);
    metrics.push(cpu);
    assert_eq!(back["spec"], want["spec"]);
    assert_eq!(back["status"], want["status"]);
    assert_eq!(back["metadata"], want["metadata"]);
}

#[test]
fn plain_v1_objects_convert_field_by_field() {
    let hpa = v1(json!({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "ReplicationController", "name": "web"},
                 "maxReplicas": 5, "targetCPUUtilizationPercentage": 70},
        "status": {"currentReplicas": 0, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 12},
    }));
    let out = to_json(v1_to_v2(hpa).unwrap());
    assert_eq!(
        out["spec"],
        json!({"scaleTargetRef": {"kind": "ReplicationController", "name": "web"}, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70}}}]})
    );
    assert_eq!(
        out["status"],
        json!({"desiredReplicas": 1, "currentMetrics": [{"type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 12}}}]})
    );
    assert!(out["metadata"].get("annotations").is_none());
}

#[test]
fn no_target_means_the_default_cpu_target() {
    let hpa = v1(
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}}),
    );
    let out = to_json(v1_to_v2(hpa).unwrap());
    assert_eq!(
        out["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    assert!(out.get("status").is_none());
}

#[test]
fn annotations_are_lifted_and_removed() {
    let hpa = v1(
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "annotations": {
            METRICS_ANNOTATION: r#"[{"type":"Resource","resource":{"name":"memory","targetAverageUtilization":40}}]"#,
            BEHAVIOR_ANNOTATION: r#"{"scaleUp":{"stabilizationWindowSeconds":5}}"#,
            "other": "x"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}}),
    );
    let out = to_json(v1_to_v2(hpa).unwrap());
    assert_eq!(out["metadata"]["annotations"], json!({"other": "x"}));
    assert_eq!(
        out["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "memory",
            "target": {"type": "Utilization", "averageUtilization": 40}}}])
    );
    assert_eq!(
        out["spec"]["behavior"],
        json!({"scaleUp": {"stabilizationWindowSeconds": 5}})
    );
}

#[test]
fn malformed_annotations() {
    let with = |key: &str, value: &str| {
        v1(
            json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": {key: value}},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}}),
        )
    };
    let err = v1_to_v2(with(METRICS_ANNOTATION, "{not json")).unwrap_err();
    assert!(err.to_string().contains(METRICS_ANNOTATION), "{err}");
    assert!(v1_to_v2(with(CURRENT_METRICS_ANNOTATION, "[1]")).is_err());
    assert!(v1_to_v2(with(CONDITIONS_ANNOTATION, "3")).is_err());
    // A behavior that does not parse, or says nothing, is dropped.
    for b in ["nope", "{}"] {
        let out = to_json(v1_to_v2(with(BEHAVIOR_ANNOTATION, b)).unwrap());
        assert!(out["spec"].get("behavior").is_none(), "{b}");
        assert!(out["metadata"].get("annotations").is_none(), "{b}");
    }
}

#[test]
fn stale_round_trip_annotations_on_a_v2_object_are_not_shown() {
    let mut stored = rich();
    stored["metadata"]["annotations"][METRICS_ANNOTATION] = "[]".into();
    stored["spec"]["metrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 50}}}]);
    stored["spec"].as_object_mut().unwrap().remove("behavior");
    stored.as_object_mut().unwrap().remove("status");
    let out = to_json(v2_to_v1(v2(stored)).unwrap());
    assert_eq!(out["metadata"]["annotations"], json!({"keep": "me"}));
    assert_eq!(
        out["status"],
        json!({"currentReplicas": 0, "desiredReplicas": 0})
    );
}
