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
