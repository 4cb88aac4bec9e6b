//! `spec.behavior` in the `autoscaling.alpha.kubernetes.io/behavior` annotation of an
//! `autoscaling/v1` HorizontalPodAutoscaler: upstream marshals its internal Go type there, so
//! the keys are Go field names.

use k8s_openapi::api::autoscaling::v2;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

/// `spec.behavior` as upstream marshals its internal Go type into [`super::BEHAVIOR_ANNOTATION`]:
/// Go field names, unset pointers as `null`. Read back case-insensitively enough for both
/// spellings (Go's decoder ignores case).
#[derive(Serialize, Deserialize)]
pub(super) struct GoBehavior {
    #[serde(rename = "ScaleUp", alias = "scaleUp", default)]
    pub(super) scale_up: Option<GoRules>,
    #[serde(rename = "ScaleDown", alias = "scaleDown", default)]
    pub(super) scale_down: Option<GoRules>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct GoRules {
    #[serde(
        rename = "StabilizationWindowSeconds",
        alias = "stabilizationWindowSeconds",
        default
    )]
    stabilization_window_seconds: Option<i32>,
    #[serde(rename = "SelectPolicy", alias = "selectPolicy", default)]
    select_policy: Option<String>,
    #[serde(rename = "Policies", alias = "policies", default)]
    policies: Option<Vec<GoPolicy>>,
    #[serde(
        rename = "Tolerance",
        alias = "tolerance",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    tolerance: Option<Quantity>,
}

#[derive(Serialize, Deserialize)]
struct GoPolicy {
    #[serde(rename = "Type", alias = "type")]
    type_: String,
    #[serde(rename = "Value", alias = "value")]
    value: i32,
    #[serde(rename = "PeriodSeconds", alias = "periodSeconds")]
    period_seconds: i32,
}

impl GoRules {
    fn from_v2(r: v2::HPAScalingRules) -> Self {
        GoRules {
            stabilization_window_seconds: r.stabilization_window_seconds,
            select_policy: r.select_policy,
            policies: r.policies.map(|p| {
                p.into_iter()
                    .map(|p| GoPolicy {
                        type_: p.type_,
                        value: p.value,
                        period_seconds: p.period_seconds,
                    })
                    .collect()
            }),
            tolerance: r.tolerance,
        }
    }

    fn into_v2(self) -> v2::HPAScalingRules {
        v2::HPAScalingRules {
            stabilization_window_seconds: self.stabilization_window_seconds,
            select_policy: self.select_policy,
            policies: self.policies.map(|p| {
                p.into_iter()
                    .map(|p| v2::HPAScalingPolicy {
                        type_: p.type_,
                        value: p.value,
                        period_seconds: p.period_seconds,
                    })
                    .collect()
            }),
            tolerance: self.tolerance,
        }
    }
}

impl GoBehavior {
    pub(super) fn from_v2(b: v2::HorizontalPodAutoscalerBehavior) -> Self {
        GoBehavior {
            scale_up: b.scale_up.map(GoRules::from_v2),
            scale_down: b.scale_down.map(GoRules::from_v2),
        }
    }

    pub(super) fn into_v2(self) -> v2::HorizontalPodAutoscalerBehavior {
        v2::HorizontalPodAutoscalerBehavior {
            scale_up: self.scale_up.map(GoRules::into_v2),
            scale_down: self.scale_down.map(GoRules::into_v2),
        }
    }
}
