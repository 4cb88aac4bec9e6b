//! maxSurge and maxUnavailable resolved against the desired replicas, as upstream's
//! `ResolveFenceposts`: percentages round surge up and unavailability down, and when both
//! resolve to zero, one pod may be unavailable (surge might be blocked by quota).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The defaults the apiserver gives a RollingUpdate strategy.
const DEFAULT_FENCEPOST: &str = "25%";

/// `value` as an absolute number of `total` (percentages rounded up or down); `None` for a
/// string that is not a percentage.
pub fn scaled(value: &IntOrString, total: i32, round_up: bool) -> Option<i32> {
    match value {
        IntOrString::Int(i) => Some(*i),
        IntOrString::String(s) => {
            let percent: i32 = s.strip_suffix('%')?.parse().ok()?;
            let exact = f64::from(percent) * f64::from(total) / 100.0;
            Some(if round_up {
                exact.ceil()
            } else {
                exact.floor()
            } as i32)
        }
    }
}

/// Whether `d` rolls (the default strategy) rather than recreates.
pub fn is_rolling_update(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

/// Desired replicas of `d` (the apiserver defaults them to 1).
pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// (surge, unavailable) of `d`'s rolling update for `desired` replicas; `None` if either is
/// malformed.
fn resolve(d: &Deployment, desired: i32) -> Option<(i32, i32)> {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let default = IntOrString::String(DEFAULT_FENCEPOST.into());
    let surge_v = ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&default);
    let unavail_v = ru
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&default);
    let surge = scaled(surge_v, desired, true)?;
    let mut unavailable = scaled(unavail_v, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Some((surge, unavailable))
}

/// How many pods above the desired count a rollout may run (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    resolve(d, desired(d)).map_or(0, |(s, _)| s)
}

/// How many of the desired pods may be unavailable during a rollout (0 for Recreate or no
/// replicas; never more than the desired count).
pub fn max_unavailable(d: &Deployment) -> i32 {
    let n = desired(d);
    if !is_rolling_update(d) || n == 0 {
        return 0;
    }
    resolve(d, n).map_or(0, |(_, u)| u.min(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(
        replicas: i32,
        surge: serde_json::Value,
        unavail: serde_json::Value,
    ) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"a": "b"}},
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}},
                "template": {"metadata": {"labels": {"a": "b"}}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn percentages_round_surge_up_and_unavailable_down() {
        let d = deployment(10, json!("25%"), json!("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = deployment(3, json!("25%"), json!("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 0));
        let d = deployment(5, json!(2), json!(1));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (2, 1));
    }

    #[test]
    fn both_zero_allows_one_unavailable_and_unavailable_is_capped() {
        let d = deployment(3, json!(0), json!("10%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
        let d = deployment(2, json!(0), json!(5));
        assert_eq!(max_unavailable(&d), 2);
        let d = deployment(0, json!(1), json!(1));
        assert_eq!(max_unavailable(&d), 0);
    }

    #[test]
    fn recreate_and_malformed_values_resolve_to_zero() {
        let mut d = deployment(4, json!("x"), json!(1));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
        d = deployment(4, json!(1), json!(1));
        d.spec.as_mut().unwrap().strategy.as_mut().unwrap().type_ = Some("Recreate".into());
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }
}
