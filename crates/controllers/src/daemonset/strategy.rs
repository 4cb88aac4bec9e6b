//! A DaemonSet's update strategy (RollingUpdate with maxUnavailable/maxSurge, or OnDelete) and
//! upstream's scaling of int-or-percent values.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `value` as a count of `total`: an int as is, a percentage of `total` rounded up or down
/// (upstream's `GetScaledValueFromIntOrPercent`); `None` if malformed.
pub fn scaled(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(i) => Some(*i),
        IntOrString::String(s) => {
            let p: i64 = s.strip_suffix('%')?.parse().ok()?;
            let v = p * i64::from(total);
            let r = if round_up {
                (v + 99).div_euclid(100)
            } else {
                v.div_euclid(100)
            };
            i32::try_from(r).ok()
        }
    }
}

/// How a DaemonSet replaces its pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Pods are replaced only when deleted by someone else.
    OnDelete,
    /// Pods are replaced by the controller.
    RollingUpdate {
        /// maxUnavailable (default 1).
        max_unavailable: IntOrString,
        /// maxSurge (default 0).
        max_surge: IntOrString,
    },
}

/// The set's strategy with upstream's defaults.
pub fn strategy(ds: &DaemonSet) -> Strategy {
    let s = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    if s.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return Strategy::OnDelete;
    }
    let ru = s.and_then(|s| s.rolling_update.as_ref());
    Strategy::RollingUpdate {
        max_unavailable: ru
            .and_then(|r| r.max_unavailable.clone())
            .unwrap_or(IntOrString::Int(1)),
        max_surge: ru
            .and_then(|r| r.max_surge.clone())
            .unwrap_or(IntOrString::Int(0)),
    }
}

/// Whether a rolling update may run a new pod beside the old one on a node (upstream's
/// `AllowsSurge`).
pub fn allows_surge(ds: &DaemonSet) -> bool {
    match strategy(ds) {
        Strategy::RollingUpdate { max_surge, .. } => {
            scaled(&max_surge, 1, true).is_some_and(|v| v > 0)
        }
        Strategy::OnDelete => false,
    }
}

/// (maxSurge, maxUnavailable) for `desired` nodes, rounded up; both zero becomes one
/// unavailable (upstream's `updatedDesiredNodeCounts`).
pub fn surge_and_unavailable(ds: &DaemonSet, desired: i32) -> (i32, i32) {
    let (surge, unavailable) = match strategy(ds) {
        Strategy::RollingUpdate {
            max_unavailable,
            max_surge,
        } => (
            scaled(&max_surge, desired, true).unwrap_or(0).max(0),
            scaled(&max_unavailable, desired, true).unwrap_or(0).max(0),
        ),
        Strategy::OnDelete => (0, 0),
    };
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_scale_with_rounding() {
        let p = |s: &str| IntOrString::String(s.into());
        assert_eq!(scaled(&p("25%"), 10, true), Some(3));
        assert_eq!(scaled(&p("25%"), 10, false), Some(2));
        assert_eq!(scaled(&IntOrString::Int(4), 10, true), Some(4));
        assert_eq!(scaled(&p("x"), 10, true), None);
        assert_eq!(scaled(&p("10%"), 1, true), Some(1));
    }

    #[test]
    fn defaults_and_surge() {
        let ds: DaemonSet = serde_json::from_value(serde_json::json!({"spec": {
            "selector": {}, "template": {},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": 0}}}}))
        .unwrap();
        assert!(allows_surge(&ds));
        assert_eq!(surge_and_unavailable(&ds, 3), (2, 0));
        let plain = DaemonSet::default();
        assert!(!allows_surge(&plain));
        assert_eq!(surge_and_unavailable(&plain, 3), (0, 1));
    }
}
