//! Which nodes a DaemonSet runs on (upstream's `NodeShouldRunDaemonPod`): the node must match
//! the template's `nodeName`, `nodeSelector` and required node affinity, and the pod — with the
//! tolerations upstream adds to every daemon pod ([`add_daemon_tolerations`]) — must tolerate
//! the node's NoSchedule and NoExecute taints. A pod already there may stay while it
//! tolerates the NoExecute ones.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration,
};
use kube::ResourceExt;

/// Upstream's `TaintNodeNotReady`.
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Upstream's `TaintNodeUnreachable`.
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Upstream's `TaintNodeDiskPressure`.
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// Upstream's `TaintNodeMemoryPressure`.
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// Upstream's `TaintNodePIDPressure`.
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// Upstream's `TaintNodeUnschedulable`.
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// Upstream's `TaintNodeNetworkUnavailable`.
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

/// Adds upstream's daemon tolerations (Exists, no tolerationSeconds): not-ready and
/// unreachable for NoExecute; disk-, memory-, pid-pressure and unschedulable for NoSchedule;
/// network-unavailable for NoSchedule on host-network pods. A toleration already present
/// for the same key and effect is replaced.
pub fn add_daemon_tolerations(spec: &mut PodSpec) {
    let mut wanted = vec![
        (NOT_READY, "NoExecute"),
        (UNREACHABLE, "NoExecute"),
        (DISK_PRESSURE, "NoSchedule"),
        (MEMORY_PRESSURE, "NoSchedule"),
        (PID_PRESSURE, "NoSchedule"),
        (UNSCHEDULABLE, "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        wanted.push((NETWORK_UNAVAILABLE, "NoSchedule"));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in wanted {
        let t = Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(effect.into()),
            ..Toleration::default()
        };
        match tolerations
            .iter_mut()
            .find(|x| x.key.as_deref() == Some(key) && x.effect.as_deref() == Some(effect))
        {
            Some(existing) => *existing = t,
            None => tolerations.push(t),
        }
    }
}

/// Whether `toleration` tolerates `taint` (upstream's `ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && e != taint.effect
    {
        return false;
    }
    if let Some(k) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && k != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref() {
        Some("Exists") => true,
        None | Some("") | Some("Equal") => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        Some(_) => false,
    }
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(number),
                values.first().and_then(|b| number(b)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let name = node.name_any();
    exprs
        .iter()
        .all(|r| requirement_matches(r, node.labels().get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name.as_str())))
}

/// Whether `node` satisfies the pod's nodeSelector and required node affinity.
pub fn node_matches(spec: &PodSpec, node: &Node) -> bool {
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| node.labels().get(k) == Some(v));
    let affinity_ok = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_none_or(|sel| {
            sel.node_selector_terms
                .iter()
                .any(|t| term_matches(t, node))
        });
    selector_ok && affinity_ok
}

/// The daemon pod spec of `ds` (its template with the daemon tolerations).
pub fn daemon_spec(ds: &DaemonSet) -> PodSpec {
    let mut spec = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .unwrap_or_default();
    add_daemon_tolerations(&mut spec);
    spec
}

/// (should run a pod there, may keep a pod already there).
pub fn should_run(ds: &DaemonSet, node: &Node) -> (bool, bool) {
    let spec = daemon_spec(ds);
    let name = node.name_any();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return (false, false);
    }
    if !node_matches(&spec, node) {
        return (false, false);
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let untolerated = |effects: &[&str]| {
        node.spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default()
            .iter()
            .filter(|t| effects.contains(&t.effect.as_str()))
            .any(|t| !tolerations.iter().any(|x| tolerates(x, t)))
    };
    if untolerated(&["NoSchedule", "NoExecute"]) {
        return (false, !untolerated(&["NoExecute"]));
    }
    (true, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(labels: serde_json::Value, taints: serde_json::Value) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": "n1", "labels": labels}, "spec": {"taints": taints}}),
        )
        .unwrap()
    }

    fn ds(spec: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": spec}}}))
        .unwrap()
    }

    #[test]
    fn daemon_tolerations_cover_upstreams_list() {
        let mut spec = PodSpec::default();
        add_daemon_tolerations(&mut spec);
        let t = spec.tolerations.unwrap();
        assert_eq!(t.len(), 6);
        assert!(t.iter().any(|t| t.key.as_deref() == Some(UNSCHEDULABLE)
            && t.effect.as_deref() == Some("NoSchedule")
            && t.operator.as_deref() == Some("Exists")));
        assert!(t.iter().any(
            |t| t.key.as_deref() == Some(NOT_READY) && t.effect.as_deref() == Some("NoExecute")
        ));
        let mut host = PodSpec {
            host_network: Some(true),
            ..Default::default()
        };
        add_daemon_tolerations(&mut host);
        add_daemon_tolerations(&mut host);
        assert_eq!(
            host.tolerations.unwrap().len(),
            7,
            "idempotent, plus network-unavailable"
        );
    }

    #[test]
    fn selectors_and_affinity_pick_nodes() {
        let n = node(json!({"disk": "ssd", "gen": "5"}), json!([]));
        assert_eq!(should_run(&ds(json!({})), &n), (true, true));
        assert_eq!(
            should_run(&ds(json!({"nodeSelector": {"disk": "hdd"}})), &n),
            (false, false)
        );
        let aff = |op: &str, vals: serde_json::Value| {
            ds(json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "gen", "operator": op, "values": vals}]}]}}}}))
        };
        assert!(should_run(&aff("Gt", json!(["4"])), &n).0);
        assert!(!should_run(&aff("Lt", json!(["4"])), &n).0);
        assert!(should_run(&aff("In", json!(["5", "6"])), &n).0);
        assert!(!should_run(&aff("NotIn", json!(["5"])), &n).0);
        let by_name = ds(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}}),
        );
        assert!(!should_run(&by_name, &n).0);
    }

    #[test]
    fn taints_need_tolerations_and_no_execute_evicts() {
        let no_schedule = node(
            json!({}),
            json!([{"key": "gpu", "value": "x", "effect": "NoSchedule"}]),
        );
        assert_eq!(
            should_run(&ds(json!({})), &no_schedule),
            (false, true),
            "may stay, not placed"
        );
        let tolerating =
            ds(json!({"tolerations": [{"key": "gpu", "operator": "Equal", "value": "x"}]}));
        assert_eq!(should_run(&tolerating, &no_schedule), (true, true));
        let no_exec = node(json!({}), json!([{"key": "gpu", "effect": "NoExecute"}]));
        assert_eq!(should_run(&ds(json!({})), &no_exec), (false, false));
        let unschedulable = node(
            json!({}),
            json!([{"key": UNSCHEDULABLE, "effect": "NoSchedule"}]),
        );
        assert_eq!(
            should_run(&ds(json!({})), &unschedulable),
            (true, true),
            "tolerated by default"
        );
        let prefer = node(
            json!({}),
            json!([{"key": "x", "effect": "PreferNoSchedule"}]),
        );
        assert_eq!(should_run(&ds(json!({})), &prefer), (true, true));
    }
}
