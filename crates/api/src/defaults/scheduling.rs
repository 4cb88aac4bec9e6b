//! Defaults of `scheduling.k8s.io/v1`.

use super::or_set;
use crate::validation::scheduling::DEFAULT_PREEMPTION_POLICY;
use k8s_openapi::api::scheduling::v1::PriorityClass;

/// PriorityClass: preemption policy `PreemptLowerPriority`. Upstream's `globalDefault` and
/// `description` are plain Go fields left out when empty, so a `false` or `""` sent by a
/// client is not stored (or shown) either.
pub fn default_priority_class(pc: &mut PriorityClass) {
    or_set(
        &mut pc.preemption_policy,
        DEFAULT_PREEMPTION_POLICY.to_string(),
    );
    if pc.global_default == Some(false) {
        pc.global_default = None;
    }
    if pc.description.as_deref() == Some("") {
        pc.description = None;
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    #[test]
    fn priority_class() {
        let mut pc = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "high"}, "value": 10, "globalDefault": false, "description": ""});
        apply("scheduling.k8s.io", "PriorityClass", &mut pc);
        assert_eq!(
            pc,
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "high"}, "value": 10, "preemptionPolicy": "PreemptLowerPriority"})
        );
        let mut never = json!({"metadata": {"name": "n"}, "value": 1, "globalDefault": true,
            "preemptionPolicy": "Never"});
        let before = never.clone();
        apply("scheduling.k8s.io", "PriorityClass", &mut never);
        assert_eq!(never, before);
    }
}
