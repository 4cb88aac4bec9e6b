//! A pod's resources as the kernel sees them: QoS class, the cgroup parent, per-container CPU
//! shares/quota and memory limit, and the OOM score adjustment (upstream's formulas).

use std::collections::BTreeMap;

use k8s_cri::v1::LinuxContainerResources;
use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rkube_api::validation::quantity::Quantity as Parsed;

/// Upstream's CFS period (100 ms).
const CPU_PERIOD: i64 = 100_000;
/// The smallest CPU quota the kernel accepts (1 ms).
const MIN_QUOTA: i64 = 1000;
/// The least CPU shares a container gets.
const MIN_SHARES: i64 = 2;

/// A pod's quality-of-service class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QosClass {
    /// Every container has equal CPU and memory requests and limits.
    Guaranteed,
    /// Something is requested or limited, but not Guaranteed.
    Burstable,
    /// Nothing requested or limited.
    BestEffort,
}

impl QosClass {
    /// The name in `status.qosClass`.
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

fn parse(q: &Quantity) -> Option<Parsed> {
    Parsed::parse(&q.0).ok().flatten()
}

fn get<'a>(list: &'a Option<BTreeMap<String, Quantity>>, key: &str) -> Option<&'a Quantity> {
    list.as_ref().and_then(|l| l.get(key))
}

/// `name`'s milli-value (cpu) or value (anything else) in `list`, if set and parseable.
pub fn amount(list: &Option<BTreeMap<String, Quantity>>, name: &str) -> Option<i64> {
    let q = parse(get(list, name)?)?;
    Some(if name == "cpu" {
        q.scaled_value(-3)
    } else {
        q.scaled_value(0)
    })
}

fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    spec.into_iter().flat_map(|s| {
        s.init_containers
            .iter()
            .flatten()
            .chain(s.containers.iter())
    })
}

/// The pod's QoS class (upstream's `GetPodQOS`).
pub fn qos_class(pod: &Pod) -> QosClass {
    let mut any = false;
    let mut guaranteed = true;
    for c in all_containers(pod) {
        let r = c.resources.clone().unwrap_or_default();
        for name in ["cpu", "memory"] {
            let limit = get(&r.limits, name).and_then(parse);
            // A request defaults to its limit.
            let request = get(&r.requests, name).and_then(parse).or(limit);
            if limit.is_some_and(|q| !q.is_zero()) || request.is_some_and(|q| !q.is_zero()) {
                any = true;
            }
            match (request, limit) {
                (Some(req), Some(lim)) if req.cmp_value(&lim).is_eq() && !lim.is_zero() => {}
                _ => guaranteed = false,
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => QosClass::BestEffort,
        (true, true) => QosClass::Guaranteed,
        (true, false) => QosClass::Burstable,
    }
}

/// The pod's cgroup (cgroupfs layout): `/kubepods/pod<uid>` for Guaranteed,
/// `/kubepods/burstable/pod<uid>` and `/kubepods/besteffort/pod<uid>` otherwise.
pub fn cgroup_parent(pod: &Pod) -> String {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    match qos_class(pod) {
        QosClass::Guaranteed => format!("/kubepods/pod{uid}"),
        QosClass::Burstable => format!("/kubepods/burstable/pod{uid}"),
        QosClass::BestEffort => format!("/kubepods/besteffort/pod{uid}"),
    }
}

/// The container's OOM score adjustment given the node's memory capacity in bytes.
pub fn oom_score_adj(pod: &Pod, container: &Container, memory_capacity: i64) -> i64 {
    match qos_class(pod) {
        QosClass::Guaranteed => -997,
        QosClass::BestEffort => 1000,
        QosClass::Burstable => {
            let r = container.resources.clone().unwrap_or_default();
            let request = amount(&r.requests, "memory")
                .or_else(|| amount(&r.limits, "memory"))
                .unwrap_or(0);
            let adj = 1000 - (1000 * request) / memory_capacity.max(1);
            adj.clamp(2, 999)
        }
    }
}

/// The container's cgroup limits: CPU shares from the request (or limit), CFS quota from the
/// limit, memory limit in bytes.
pub fn linux_resources(
    resources: Option<&ResourceRequirements>,
    oom_score_adj: i64,
) -> LinuxContainerResources {
    let r = resources.cloned().unwrap_or_default();
    let cpu_limit = amount(&r.limits, "cpu");
    let cpu_request = amount(&r.requests, "cpu").or(cpu_limit);
    let shares = cpu_request.map_or(MIN_SHARES, |m| (m * 1024 / 1000).max(MIN_SHARES));
    let (cpu_period, cpu_quota) = match cpu_limit {
        Some(m) => (CPU_PERIOD, (m * CPU_PERIOD / 1000).max(MIN_QUOTA)),
        None => (0, 0),
    };
    LinuxContainerResources {
        cpu_period,
        cpu_quota,
        cpu_shares: shares,
        memory_limit_in_bytes: amount(&r.limits, "memory").unwrap_or(0),
        oom_score_adj,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(resources: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]}
        }))
        .unwrap()
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&pod(serde_json::json!({}))), QosClass::BestEffort);
        let g = pod(serde_json::json!({"limits": {"cpu": "500m", "memory": "64Mi"}}));
        assert_eq!(
            qos_class(&g),
            QosClass::Guaranteed,
            "requests default to limits"
        );
        assert_eq!(cgroup_parent(&g), "/kubepods/podu1");
        let b = pod(serde_json::json!({"requests": {"memory": "64Mi"}}));
        assert_eq!(qos_class(&b), QosClass::Burstable);
        assert_eq!(cgroup_parent(&b), "/kubepods/burstable/podu1");
        let b2 = pod(
            serde_json::json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}),
        );
        assert_eq!(qos_class(&b2), QosClass::Burstable);
    }

    #[test]
    fn cgroup_limits_follow_upstream() {
        let r: ResourceRequirements = serde_json::from_value(serde_json::json!({
            "requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "128Mi"}
        }))
        .unwrap();
        let l = linux_resources(Some(&r), 5);
        assert_eq!(l.cpu_shares, 256);
        assert_eq!((l.cpu_period, l.cpu_quota), (100_000, 50_000));
        assert_eq!(l.memory_limit_in_bytes, 128 << 20);
        assert_eq!(l.oom_score_adj, 5);
        let none = linux_resources(None, 1000);
        assert_eq!(
            (none.cpu_shares, none.cpu_quota, none.memory_limit_in_bytes),
            (2, 0, 0)
        );
    }

    #[test]
    fn burstable_oom_score_scales_with_request() {
        let p = pod(serde_json::json!({"requests": {"memory": "1Gi"}}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        assert_eq!(oom_score_adj(&p, c, 4 << 30), 750);
        assert_eq!(oom_score_adj(&p, c, 1 << 30), 2, "clamped");
    }
}
