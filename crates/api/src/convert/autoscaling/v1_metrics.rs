//! The v1 (v2beta1-shaped) metric specs and statuses upstream keeps in the
//! `autoscaling.alpha.kubernetes.io/metrics` and `…/current-metrics` annotations of an
//! `autoscaling/v1` HorizontalPodAutoscaler, and their conversion to and from `autoscaling/v2`.

use k8s_openapi::api::autoscaling::v2;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

/// Go's zero quantity, for v1 fields that are not pointers.
fn zero() -> Quantity {
    Quantity("0".into())
}

/// The v1 (v2beta1-shaped) metric spec upstream keeps in [`super::METRICS_ANNOTATION`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct V1MetricSpec {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object: Option<V1ObjectSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pods: Option<V1PodsSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<V1ResourceSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_resource: Option<V1ResourceSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external: Option<V1ExternalSource>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1ObjectSource {
    target: v2::CrossVersionObjectReference,
    metric_name: String,
    #[serde(default = "zero")]
    target_value: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    average_value: Option<Quantity>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1PodsSource {
    metric_name: String,
    #[serde(default = "zero")]
    target_average_value: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selector: Option<LabelSelector>,
}

/// A `resource` or (with `container`) a `containerResource` source.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1ResourceSource {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_average_utilization: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_average_value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1ExternalSource {
    metric_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metric_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_average_value: Option<Quantity>,
}

fn target_type(utilization: bool, value: bool) -> String {
    match (utilization, value) {
        (true, _) => "Utilization",
        (false, true) => "Value",
        (false, false) => "AverageValue",
    }
    .into()
}

impl V1ResourceSource {
    fn from_v2(name: &str, target: &v2::MetricTarget, container: Option<&str>) -> Self {
        V1ResourceSource {
            name: name.into(),
            target_average_utilization: target.average_utilization,
            target_average_value: target.average_value.clone(),
            container: container.map(String::from),
        }
    }

    fn target(&self) -> v2::MetricTarget {
        v2::MetricTarget {
            type_: target_type(self.target_average_utilization.is_some(), false),
            average_utilization: self.target_average_utilization,
            average_value: self.target_average_value.clone(),
            value: None,
        }
    }
}

impl V1MetricSpec {
    pub(super) fn from_v2(m: &v2::MetricSpec) -> Self {
        V1MetricSpec {
            type_: m.type_.clone(),
            object: m.object.as_ref().map(|o| V1ObjectSource {
                target: o.described_object.clone(),
                metric_name: o.metric.name.clone(),
                target_value: o.target.value.clone().unwrap_or_else(zero),
                selector: o.metric.selector.clone(),
                average_value: o.target.average_value.clone(),
            }),
            pods: m.pods.as_ref().map(|p| V1PodsSource {
                metric_name: p.metric.name.clone(),
                target_average_value: p.target.average_value.clone().unwrap_or_else(zero),
                selector: p.metric.selector.clone(),
            }),
            resource: m
                .resource
                .as_ref()
                .map(|r| V1ResourceSource::from_v2(&r.name, &r.target, None)),
            container_resource: m
                .container_resource
                .as_ref()
                .map(|r| V1ResourceSource::from_v2(&r.name, &r.target, Some(&r.container))),
            external: m.external.as_ref().map(|e| V1ExternalSource {
                metric_name: e.metric.name.clone(),
                metric_selector: e.metric.selector.clone(),
                target_value: e.target.value.clone(),
                target_average_value: e.target.average_value.clone(),
            }),
        }
    }

    pub(super) fn into_v2(self) -> v2::MetricSpec {
        v2::MetricSpec {
            type_: self.type_,
            object: self.object.map(|o| v2::ObjectMetricSource {
                described_object: o.target,
                metric: v2::MetricIdentifier {
                    name: o.metric_name,
                    selector: o.selector,
                },
                target: v2::MetricTarget {
                    type_: target_type(false, o.average_value.is_none()),
                    value: Some(o.target_value),
                    average_value: o.average_value,
                    average_utilization: None,
                },
            }),
            pods: self.pods.map(|p| v2::PodsMetricSource {
                metric: v2::MetricIdentifier {
                    name: p.metric_name,
                    selector: p.selector,
                },
                target: v2::MetricTarget {
                    type_: target_type(false, false),
                    average_value: Some(p.target_average_value),
                    ..Default::default()
                },
            }),
            resource: self.resource.map(|r| v2::ResourceMetricSource {
                target: r.target(),
                name: r.name,
            }),
            container_resource: self.container_resource.map(|r| {
                v2::ContainerResourceMetricSource {
                    target: r.target(),
                    name: r.name,
                    container: r.container.unwrap_or_default(),
                }
            }),
            external: self.external.map(|e| v2::ExternalMetricSource {
                metric: v2::MetricIdentifier {
                    name: e.metric_name,
                    selector: e.metric_selector,
                },
                target: v2::MetricTarget {
                    type_: target_type(false, e.target_value.is_some()),
                    value: e.target_value,
                    average_value: e.target_average_value,
                    average_utilization: None,
                },
            }),
        }
    }
}

/// The v1 metric status upstream keeps in [`super::CURRENT_METRICS_ANNOTATION`].
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct V1MetricStatus {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    object: Option<V1ObjectStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pods: Option<V1PodsStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<V1ResourceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_resource: Option<V1ResourceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external: Option<V1ExternalStatus>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1ObjectStatus {
    target: v2::CrossVersionObjectReference,
    metric_name: String,
    #[serde(default = "zero")]
    current_value: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    average_value: Option<Quantity>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1PodsStatus {
    metric_name: String,
    #[serde(default = "zero")]
    current_average_value: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selector: Option<LabelSelector>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1ResourceStatus {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current_average_utilization: Option<i32>,
    #[serde(default = "zero")]
    current_average_value: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1ExternalStatus {
    metric_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metric_selector: Option<LabelSelector>,
    #[serde(default = "zero")]
    current_value: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current_average_value: Option<Quantity>,
}

impl V1ResourceStatus {
    fn from_v2(name: &str, current: &v2::MetricValueStatus, container: Option<&str>) -> Self {
        V1ResourceStatus {
            name: name.into(),
            current_average_utilization: current.average_utilization,
            current_average_value: current.average_value.clone().unwrap_or_else(zero),
            container: container.map(String::from),
        }
    }

    fn current(&self) -> v2::MetricValueStatus {
        v2::MetricValueStatus {
            average_utilization: self.current_average_utilization,
            average_value: Some(self.current_average_value.clone()),
            value: None,
        }
    }
}

impl V1MetricStatus {
    pub(super) fn from_v2(m: &v2::MetricStatus) -> Self {
        V1MetricStatus {
            type_: m.type_.clone(),
            object: m.object.as_ref().map(|o| V1ObjectStatus {
                target: o.described_object.clone(),
                metric_name: o.metric.name.clone(),
                current_value: o.current.value.clone().unwrap_or_else(zero),
                selector: o.metric.selector.clone(),
                average_value: o.current.average_value.clone(),
            }),
            pods: m.pods.as_ref().map(|p| V1PodsStatus {
                metric_name: p.metric.name.clone(),
                current_average_value: p.current.average_value.clone().unwrap_or_else(zero),
                selector: p.metric.selector.clone(),
            }),
            resource: m
                .resource
                .as_ref()
                .map(|r| V1ResourceStatus::from_v2(&r.name, &r.current, None)),
            container_resource: m
                .container_resource
                .as_ref()
                .map(|r| V1ResourceStatus::from_v2(&r.name, &r.current, Some(&r.container))),
            external: m.external.as_ref().map(|e| V1ExternalStatus {
                metric_name: e.metric.name.clone(),
                metric_selector: e.metric.selector.clone(),
                current_value: e.current.value.clone().unwrap_or_else(zero),
                current_average_value: e.current.average_value.clone(),
            }),
        }
    }

    pub(super) fn into_v2(self) -> v2::MetricStatus {
        v2::MetricStatus {
            type_: self.type_,
            object: self.object.map(|o| v2::ObjectMetricStatus {
                described_object: o.target,
                metric: v2::MetricIdentifier {
                    name: o.metric_name,
                    selector: o.selector,
                },
                current: v2::MetricValueStatus {
                    value: Some(o.current_value),
                    average_value: o.average_value,
                    average_utilization: None,
                },
            }),
            pods: self.pods.map(|p| v2::PodsMetricStatus {
                metric: v2::MetricIdentifier {
                    name: p.metric_name,
                    selector: p.selector,
                },
                current: v2::MetricValueStatus {
                    average_value: Some(p.current_average_value),
                    ..Default::default()
                },
            }),
            resource: self.resource.map(|r| v2::ResourceMetricStatus {
                current: r.current(),
                name: r.name,
            }),
            container_resource: self.container_resource.map(|r| {
                v2::ContainerResourceMetricStatus {
                    current: r.current(),
                    name: r.name,
                    container: r.container.unwrap_or_default(),
                }
            }),
            external: self.external.map(|e| v2::ExternalMetricStatus {
                metric: v2::MetricIdentifier {
                    name: e.metric_name,
                    selector: e.metric_selector,
                },
                current: v2::MetricValueStatus {
                    value: Some(e.current_value),
                    average_value: e.current_average_value,
                    average_utilization: None,
                },
            }),
        }
    }
}
