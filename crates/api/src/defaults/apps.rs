//! Defaults of `apps/v1` (`pkg/apis/apps/v1/defaults.go`): replicas, rollout strategies,
//! history limits, StatefulSet policies, and the pod templates' defaults.

use super::core::default_persistent_volume_claim;
use super::or_set;
use super::pod::default_template;
use k8s_openapi::api::apps::v1::{
    DaemonSet, Deployment, ReplicaSet, RollingUpdateDaemonSet, RollingUpdateDeployment,
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn is_unset(s: &Option<String>) -> bool {
    s.as_deref().unwrap_or("").is_empty()
}

/// Deployment: 1 replica, RollingUpdate 25%/25%, 10 revisions, 600s progress deadline.
pub fn default_deployment(d: &mut Deployment) {
    let spec = d.spec.get_or_insert_with(Default::default);
    or_set(&mut spec.replicas, 1);
    let strategy = spec.strategy.get_or_insert_with(Default::default);
    if is_unset(&strategy.type_) {
        strategy.type_ = Some("RollingUpdate".to_string());
    }
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        or_set(&mut ru.max_unavailable, IntOrString::String("25%".into()));
        or_set(&mut ru.max_surge, IntOrString::String("25%".into()));
    }
    or_set(&mut spec.revision_history_limit, 10);
    or_set(&mut spec.progress_deadline_seconds, 600);
    default_template(&mut spec.template);
}

/// ReplicaSet: 1 replica and the template's defaults.
pub fn default_replica_set(rs: &mut ReplicaSet) {
    let spec = rs.spec.get_or_insert_with(Default::default);
    or_set(&mut spec.replicas, 1);
    if let Some(t) = &mut spec.template {
        default_template(t);
    }
}

/// DaemonSet: RollingUpdate with maxUnavailable 1 and maxSurge 0, 10 revisions.
pub fn default_daemon_set(ds: &mut DaemonSet) {
    let spec = ds.spec.get_or_insert_with(Default::default);
    let strategy = spec.update_strategy.get_or_insert_with(Default::default);
    if is_unset(&strategy.type_) {
        strategy.type_ = Some("RollingUpdate".to_string());
    }
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDaemonSet::default);
        or_set(&mut ru.max_unavailable, IntOrString::Int(1));
        or_set(&mut ru.max_surge, IntOrString::Int(0));
    }
    or_set(&mut spec.revision_history_limit, 10);
    default_template(&mut spec.template);
}

/// StatefulSet: OrderedReady pods, RollingUpdate with partition 0, Retain PVCs, 1 replica,
/// 10 revisions; claim templates get PVC defaults.
pub fn default_stateful_set(ss: &mut StatefulSet) {
    let spec = ss.spec.get_or_insert_with(Default::default);
    if is_unset(&spec.pod_management_policy) {
        spec.pod_management_policy = Some("OrderedReady".to_string());
    }
    let strategy = spec.update_strategy.get_or_insert_with(Default::default);
    if is_unset(&strategy.type_) {
        strategy.type_ = Some("RollingUpdate".to_string());
        or_set(
            &mut strategy.rolling_update,
            RollingUpdateStatefulSetStrategy::default(),
        );
    }
    if strategy.type_.as_deref() == Some("RollingUpdate")
        && let Some(ru) = &mut strategy.rolling_update
    {
        or_set(&mut ru.partition, 0);
    }
    let policy = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
    if is_unset(&policy.when_deleted) {
        policy.when_deleted = Some("Retain".to_string());
    }
    if is_unset(&policy.when_scaled) {
        policy.when_scaled = Some("Retain".to_string());
    }
    or_set(&mut spec.replicas, 1);
    or_set(&mut spec.revision_history_limit, 10);
    default_template(&mut spec.template);
    for pvc in spec.volume_claim_templates.iter_mut().flatten() {
        default_persistent_volume_claim(pvc);
    }
}

#[cfg(test)]
mod tests {
    use crate::defaults::apply;
    use serde_json::json;

    fn template() -> serde_json::Value {
        json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}})
    }

    #[test]
    fn deployment() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}});
        apply("apps", "Deployment", &mut d);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(
            spec["template"]["spec"]["terminationGracePeriodSeconds"],
            30
        );
        assert_eq!(d["apiVersion"], "apps/v1");

        let mut recreate =
            json!({"spec": {"strategy": {"type": "Recreate"}, "template": template()}});
        apply("apps", "Deployment", &mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn missing_selector_stays_missing() {
        let mut d = json!({"spec": {"template": template()}});
        apply("apps", "Deployment", &mut d);
        assert!(d["spec"].get("selector").is_none());
        let mut ds = json!({"spec": {"template": template()}});
        apply("apps", "DaemonSet", &mut ds);
        assert!(ds["spec"].get("selector").is_none());
    }

    #[test]
    fn replica_set_and_daemon_set() {
        let mut rs =
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}});
        apply("apps", "ReplicaSet", &mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
        let mut ds =
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}});
        apply("apps", "DaemonSet", &mut ds);
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    }

    #[test]
    fn stateful_set() {
        let mut ss = json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
            "template": template(),
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}]}});
        apply("apps", "StatefulSet", &mut ss);
        let spec = &ss["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"],
            json!({"phase": "Pending"})
        );

        let mut on_delete =
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}, "template": template()}});
        apply("apps", "StatefulSet", &mut on_delete);
        assert_eq!(
            on_delete["spec"]["updateStrategy"],
            json!({"type": "OnDelete"})
        );
    }
}
