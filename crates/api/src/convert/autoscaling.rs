//! `autoscaling/v1` HorizontalPodAutoscalers as a view of the stored `autoscaling/v2` object,
//! following upstream's `pkg/apis/autoscaling/v1` conversion:
//!
//! - the first CPU `Resource` metric's utilization target is `targetCPUUtilizationPercentage`;
//!   the last CPU utilization in the status is `currentCPUUtilizationPercentage`;
//! - what v1 cannot express travels in annotations, so a read-modify-write through v1 keeps it:
//!   the other metrics ([`METRICS_ANNOTATION`], in the v1 metric shape), every current metric
//!   ([`CURRENT_METRICS_ANNOTATION`]), the conditions ([`CONDITIONS_ANNOTATION`]) and the
//!   behavior ([`BEHAVIOR_ANNOTATION`], with Go field names, as upstream marshals its internal
//!   type);
//! - on the way back the annotations are lifted into fields and removed, and an HPA without any
//!   metric gets the 80% CPU utilization target the v1 controller used to imply.

mod go_behavior;
mod v1_metrics;

use super::ConvertError;
use go_behavior::GoBehavior;
use k8s_openapi::api::autoscaling::{v1, v2};
use std::collections::BTreeMap;
use v1_metrics::{V1MetricSpec, V1MetricStatus};

/// Metrics other than the CPU utilization target (v1 metric shape, JSON list).
pub const METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// Every current metric of the status (v1 metric status shape, JSON list).
pub const CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// The status conditions (JSON list).
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// `spec.behavior` (JSON object with Go field names).
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

const ROUND_TRIP: [&str; 4] = [
    METRICS_ANNOTATION,
    CURRENT_METRICS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
];

/// The CPU target an HPA without metrics has (percent).
const DEFAULT_CPU_UTILIZATION: i32 = 80;

fn is_cpu_resource(m: &v2::MetricSpec) -> bool {
    m.type_ == "Resource" && m.resource.as_ref().is_some_and(|r| r.name == "cpu")
}

/// The stored `autoscaling/v2` object as `autoscaling/v1` shows it.
pub fn v2_to_v1(
    hpa: v2::HorizontalPodAutoscaler,
) -> Result<v1::HorizontalPodAutoscaler, ConvertError> {
    let mut metadata = hpa.metadata;
    let mut annotations = metadata.annotations.take().unwrap_or_default();
    // Only the annotations this conversion writes may be there.
    for key in ROUND_TRIP {
        annotations.remove(key);
    }
    let spec = hpa.spec.unwrap_or_default();
    let metrics = spec.metrics.unwrap_or_default();
    let target_cpu = metrics
        .iter()
        .find(|m| is_cpu_resource(m))
        .and_then(|m| m.resource.as_ref()?.target.average_utilization);
    let other: Vec<V1MetricSpec> = metrics
        .iter()
        .filter(|m| {
            !(is_cpu_resource(m)
                && m.resource
                    .as_ref()
                    .is_some_and(|r| r.target.average_utilization.is_some()))
        })
        .map(V1MetricSpec::from_v2)
        .collect();
    if !other.is_empty() {
        annotations.insert(METRICS_ANNOTATION.into(), serde_json::to_string(&other)?);
    }
    let status = hpa.status.unwrap_or_default();
    let current = status.current_metrics.unwrap_or_default();
    let current_cpu = current
        .iter()
        .filter(|m| m.type_ == "Resource")
        .filter_map(|m| m.resource.as_ref())
        .filter(|r| r.name == "cpu")
        .filter_map(|r| r.current.average_utilization)
        .next_back();
    if !current.is_empty() {
        let v1_current: Vec<V1MetricStatus> = current.iter().map(V1MetricStatus::from_v2).collect();
        annotations.insert(
            CURRENT_METRICS_ANNOTATION.into(),
            serde_json::to_string(&v1_current)?,
        );
    }
    if let Some(conditions) = status.conditions.filter(|c| !c.is_empty()) {
        annotations.insert(
            CONDITIONS_ANNOTATION.into(),
            serde_json::to_string(&conditions)?,
        );
    }
    if let Some(behavior) = spec.behavior {
        annotations.insert(
            BEHAVIOR_ANNOTATION.into(),
            serde_json::to_string(&GoBehavior::from_v2(behavior))?,
        );
    }
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    let target = spec.scale_target_ref;
    Ok(v1::HorizontalPodAutoscaler {
        metadata,
        spec: Some(v1::HorizontalPodAutoscalerSpec {
            max_replicas: spec.max_replicas,
            min_replicas: spec.min_replicas,
            scale_target_ref: v1::CrossVersionObjectReference {
                api_version: target.api_version,
                kind: target.kind,
                name: target.name,
            },
            target_cpu_utilization_percentage: target_cpu,
        }),
        status: Some(v1::HorizontalPodAutoscalerStatus {
            current_cpu_utilization_percentage: current_cpu,
            current_replicas: status.current_replicas.unwrap_or(0),
            desired_replicas: status.desired_replicas,
            last_scale_time: status.last_scale_time,
            observed_generation: status.observed_generation,
        }),
    })
}

/// An `autoscaling/v1` object in the stored `autoscaling/v2` form.
pub fn v1_to_v2(
    hpa: v1::HorizontalPodAutoscaler,
) -> Result<v2::HorizontalPodAutoscaler, ConvertError> {
    let mut metadata = hpa.metadata;
    let mut annotations: BTreeMap<String, String> = metadata.annotations.take().unwrap_or_default();
    let spec = hpa.spec.unwrap_or_default();
    let mut metrics: Vec<v2::MetricSpec> = spec
        .target_cpu_utilization_percentage
        .map(cpu_utilization)
        .into_iter()
        .collect();
    if let Some(encoded) = annotations.get(METRICS_ANNOTATION) {
        let other: Vec<V1MetricSpec> = parse_annotation(METRICS_ANNOTATION, encoded)?;
        // The CPU target goes after the others, as upstream orders them.
        let mut all: Vec<v2::MetricSpec> = other.into_iter().map(V1MetricSpec::into_v2).collect();
        all.append(&mut metrics);
        metrics = all;
    }
    if metrics.is_empty() {
        metrics.push(cpu_utilization(DEFAULT_CPU_UTILIZATION));
    }
    let mut status = hpa.status.map(|s| v2::HorizontalPodAutoscalerStatus {
        conditions: None,
        current_metrics: s.current_cpu_utilization_percentage.map(|c| {
            vec![v2::MetricStatus {
                type_: "Resource".into(),
                resource: Some(v2::ResourceMetricStatus {
                    name: "cpu".into(),
                    current: v2::MetricValueStatus {
                        average_utilization: Some(c),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]
        }),
        // Upstream's v2 omits a zero count.
        current_replicas: (s.current_replicas != 0).then_some(s.current_replicas),
        desired_replicas: s.desired_replicas,
        last_scale_time: s.last_scale_time,
        observed_generation: s.observed_generation,
    });
    if let Some(encoded) = annotations.get(CURRENT_METRICS_ANNOTATION) {
        let current: Vec<V1MetricStatus> = parse_annotation(CURRENT_METRICS_ANNOTATION, encoded)?;
        status.get_or_insert_with(Default::default).current_metrics =
            Some(current.into_iter().map(V1MetricStatus::into_v2).collect());
    }
    if let Some(encoded) = annotations.get(CONDITIONS_ANNOTATION) {
        let conditions: Vec<v2::HorizontalPodAutoscalerCondition> =
            parse_annotation(CONDITIONS_ANNOTATION, encoded)?;
        status.get_or_insert_with(Default::default).conditions = Some(conditions);
    }
    // Like upstream, a behavior annotation that does not parse is ignored, not an error.
    let behavior = annotations
        .get(BEHAVIOR_ANNOTATION)
        .and_then(|b| serde_json::from_str::<GoBehavior>(b).ok())
        .filter(|b| b.scale_up.is_some() || b.scale_down.is_some())
        .map(GoBehavior::into_v2);
    for key in ROUND_TRIP {
        annotations.remove(key);
    }
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    let target = spec.scale_target_ref;
    Ok(v2::HorizontalPodAutoscaler {
        metadata,
        spec: Some(v2::HorizontalPodAutoscalerSpec {
            behavior,
            max_replicas: spec.max_replicas,
            metrics: Some(metrics),
            min_replicas: spec.min_replicas,
            scale_target_ref: v2::CrossVersionObjectReference {
                api_version: target.api_version,
                kind: target.kind,
                name: target.name,
            },
        }),
        status,
    })
}

fn parse_annotation<T: serde::de::DeserializeOwned>(
    annotation: &'static str,
    value: &str,
) -> Result<T, ConvertError> {
    serde_json::from_str(value).map_err(|source| ConvertError::Annotation { annotation, source })
}

fn cpu_utilization(percent: i32) -> v2::MetricSpec {
    v2::MetricSpec {
        type_: "Resource".into(),
        resource: Some(v2::ResourceMetricSource {
            name: "cpu".into(),
            target: v2::MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
