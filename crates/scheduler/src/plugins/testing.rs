//! Builders for plugin unit tests: pods, nodes and cycle states from JSON.

use std::sync::Arc;

use crate::framework::{CycleState, NodeInfo, PodInfo, Snapshot};

/// A pod from its JSON form.
pub fn pod(v: serde_json::Value) -> PodInfo {
    PodInfo::new(Arc::new(serde_json::from_value(v).expect("pod JSON")))
}

/// An `Arc`ed pod from its JSON form.
pub fn arc_pod(v: serde_json::Value) -> Arc<PodInfo> {
    Arc::new(pod(v))
}

/// A node from its JSON form, without pods.
pub fn node(v: serde_json::Value) -> NodeInfo {
    NodeInfo::new(Arc::new(serde_json::from_value(v).expect("node JSON")))
}

/// A node from its JSON form with `pods` on it.
pub fn node_with(v: serde_json::Value, pods: Vec<Arc<PodInfo>>) -> NodeInfo {
    let mut n = node(v);
    for p in pods {
        n.add_pod(p);
    }
    n
}

/// A cycle state over an empty snapshot.
pub fn state() -> CycleState {
    CycleState::new(Arc::new(Snapshot::default()))
}

/// A cycle state over a snapshot of `nodes`.
pub fn state_with(nodes: Vec<NodeInfo>) -> CycleState {
    CycleState::new(Arc::new(Snapshot::from_nodes(nodes)))
}

/// The JSON of a node named `name` whose `status.allocatable` is `allocatable` (e.g.
/// `{"cpu": "4", "memory": "8Gi", "pods": "110"}`), for [`node_with`].
pub fn resource_node_json(name: &str, allocatable: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"metadata": {"name": name}, "status": {"allocatable": allocatable}})
}

/// A node named `name` whose `status.allocatable` is `allocatable`, without pods.
pub fn resource_node(name: &str, allocatable: serde_json::Value) -> NodeInfo {
    node(resource_node_json(name, allocatable))
}

/// A pod named `name` with one container per entry of `requests` (each a resource list, e.g.
/// `[{"cpu": "1"}, {}]`).
pub fn resource_pod(name: &str, requests: serde_json::Value) -> PodInfo {
    let containers: Vec<serde_json::Value> = requests
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| serde_json::json!({"name": format!("c{i}"), "resources": {"requests": r}}))
        .collect();
    pod(serde_json::json!({
        "metadata": {"name": name, "namespace": "default", "uid": name},
        "spec": {"containers": containers}
    }))
}

/// A cycle state over a snapshot of `nodes` with namespaces `(name, labels)`.
pub fn state_with_namespaces(
    nodes: Vec<NodeInfo>,
    namespaces: &[(&str, serde_json::Value)],
) -> CycleState {
    let mut snapshot = Snapshot::from_nodes(nodes);
    snapshot.namespaces = Arc::new(
        namespaces
            .iter()
            .map(|(name, labels)| {
                let labels = serde_json::from_value(labels.clone()).expect("namespace labels");
                (name.to_string(), labels)
            })
            .collect(),
    );
    CycleState::new(Arc::new(snapshot))
}

/// Runs `plugin`'s PreScore (if any), Score and normalization for `pod` over `nodes` (all
/// feasible, in order), as the framework does; the normalized scores in `nodes` order. A
/// PreScore Skip yields zeros (the framework skips the plugin's Score).
pub fn score_nodes(
    plugin: &dyn crate::framework::Plugin,
    pod: &PodInfo,
    nodes: Vec<NodeInfo>,
) -> Vec<i64> {
    let mut state = state_with(nodes);
    let nodes = state.snapshot().nodes.clone();
    if let Some(ps) = plugin.as_pre_score() {
        let status = ps.pre_score(&mut state, pod, &nodes);
        if status.is_skip() {
            return vec![0; nodes.len()];
        }
        assert!(status.is_success(), "PreScore: {status:?}");
    }
    let score = plugin.as_score().expect("a Score plugin");
    let mut scores: Vec<crate::framework::NodeScore> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| crate::framework::NodeScore {
            node: i,
            score: score.score(&state, pod, n).expect("Score"),
        })
        .collect();
    let status = score.normalize(&state, pod, &mut scores);
    assert!(status.is_success(), "NormalizeScore: {status:?}");
    scores.into_iter().map(|s| s.score).collect()
}

/// Runs `plugin`'s PreFilter (if any) then Filter for `pod` on `node`, over a snapshot of
/// `nodes`, as the framework does: a PreFilter rejection is returned as is, a PreFilter Skip
/// means success without running Filter.
pub fn pre_filter_and_filter(
    plugin: &dyn crate::framework::Plugin,
    pod: &PodInfo,
    node: &NodeInfo,
    nodes: Vec<NodeInfo>,
) -> crate::framework::Status {
    let mut state = state_with(nodes);
    if let Some(pf) = plugin.as_pre_filter() {
        let (_, status) = pf.pre_filter(&mut state, pod);
        if status.is_skip() {
            return crate::framework::Status::success();
        }
        if !status.is_success() {
            return status;
        }
    }
    plugin
        .as_filter()
        .expect("a Filter plugin")
        .filter(&state, pod, node)
}
