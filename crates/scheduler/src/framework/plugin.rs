//! The extension points: one small trait each. A plugin implements the ones it needs and
//! exposes them through [`Plugin`]'s `as_*` accessors, so one object can serve several points.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::Framework;
use super::cycle_state::CycleState;
use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use super::status::Status;

/// The highest score a Score plugin may give a node after normalization.
pub const MAX_NODE_SCORE: i64 = 100;

/// A change in the cluster that may make an unschedulable pod schedulable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClusterEvent {
    /// A node was added.
    NodeAdd,
    /// A node's labels, taints, allocatable, conditions or unschedulable flag changed.
    NodeUpdate,
    /// A pod bound to a node appeared.
    AssignedPodAdd,
    /// A pod bound to a node changed (e.g. its labels).
    AssignedPodUpdate,
    /// A pod bound to a node went away (frees resources, ports, spread).
    AssignedPodDelete,
    /// A namespace's labels changed.
    NamespaceChange,
    /// A PriorityClass or other scheduler input changed; every plugin may care.
    Other,
}

/// Every cluster event (the default interest of a plugin).
pub const ALL_EVENTS: &[ClusterEvent] = &[
    ClusterEvent::NodeAdd,
    ClusterEvent::NodeUpdate,
    ClusterEvent::AssignedPodAdd,
    ClusterEvent::AssignedPodUpdate,
    ClusterEvent::AssignedPodDelete,
    ClusterEvent::NamespaceChange,
    ClusterEvent::Other,
];

/// A scheduler plugin. Each `as_*` returns `Some` for the extension points it implements.
pub trait Plugin: Send + Sync {
    /// The plugin's name as configured (upstream's, e.g. "NodeResourcesFit").
    fn name(&self) -> &'static str;
    /// The events after which a pod this plugin rejected should be retried.
    fn events(&self) -> &'static [ClusterEvent] {
        ALL_EVENTS
    }
    /// Orders the scheduling queue.
    fn as_queue_sort(&self) -> Option<&dyn QueueSort> {
        None
    }
    /// Runs once per pod before filtering.
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        None
    }
    /// Decides whether a node can run the pod.
    fn as_filter(&self) -> Option<&dyn Filter> {
        None
    }
    /// Runs when no node fits (preemption).
    fn as_post_filter(&self) -> Option<&dyn PostFilter> {
        None
    }
    /// Runs once per pod before scoring.
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        None
    }
    /// Ranks feasible nodes.
    fn as_score(&self) -> Option<&dyn Score> {
        None
    }
    /// Reacts to a node being chosen (and undone).
    fn as_reserve(&self) -> Option<&dyn Reserve> {
        None
    }
}

/// Orders pods in the active queue.
pub trait QueueSort: Send + Sync {
    /// Whether `a` should be scheduled before `b`.
    fn less(&self, a: &QueueKey, b: &QueueKey) -> bool;
}

/// What the queue knows of a pod when ordering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueKey {
    /// `spec.priority`.
    pub priority: i32,
    /// When it (re-)entered the queue, as a sequence number (smaller is earlier).
    pub timestamp: u64,
}

impl QueueKey {
    /// The default order: higher priority first, then earlier first.
    pub fn cmp_default(&self, other: &QueueKey) -> Ordering {
        other
            .priority
            .cmp(&self.priority)
            .then(self.timestamp.cmp(&other.timestamp))
    }
}

/// A PreFilter plugin may narrow the nodes to consider to a set of names.
#[derive(Clone, Debug, Default)]
pub struct PreFilterResult {
    /// Only these nodes can fit (`None`: all nodes).
    pub node_names: Option<HashSet<String>>,
}

impl PreFilterResult {
    /// Intersects two results.
    pub fn merge(self, other: PreFilterResult) -> PreFilterResult {
        match (self.node_names, other.node_names) {
            (None, n) | (n, None) => PreFilterResult { node_names: n },
            (Some(a), Some(b)) => PreFilterResult {
                node_names: Some(a.intersection(&b).cloned().collect()),
            },
        }
    }
}

/// Runs once per pod before filtering; may precompute state and narrow the nodes.
pub trait PreFilter: Send + Sync {
    /// Computes per-pod state. `Status::skip()` means this plugin's Filter is not needed.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status);

    /// Updates the precomputed state as if `added` ran on `node` (preemption's simulation).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _added: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }

    /// Updates the precomputed state as if `removed` left `node` (preemption's simulation).
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _removed: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) -> Status {
        Status::success()
    }
}

/// Decides whether `node` can run `pod`. Called concurrently for many nodes.
pub trait Filter: Send + Sync {
    /// Success if the node fits; Unschedulable(AndUnresolvable) with reasons if not.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;
}

/// Per-node filter outcomes of a failed cycle (only nodes that were rejected).
pub type NodeStatuses = HashMap<String, Status>;

/// What a PostFilter (preemption) decided.
#[derive(Clone, Debug, Default)]
pub struct PostFilterResult {
    /// The node the pod should run on once victims are gone.
    pub nominated_node: Option<String>,
    /// Pods to evict from that node.
    pub victims: Vec<Arc<PodInfo>>,
    /// Lower-priority pods nominated to that node whose nomination must be cleared.
    pub clear_nominations: Vec<Arc<PodInfo>>,
}

/// Runs when no node fits, to make one fit (preemption).
pub trait PostFilter: Send + Sync {
    /// Returns a nomination and victims, or why none was found (the message is appended to the
    /// FailedScheduling event, e.g. "preemption: 0/3 nodes are available: …").
    fn post_filter(
        &self,
        framework: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeStatuses,
    ) -> (Option<PostFilterResult>, Status);
}

/// Runs once per pod before scoring, over the feasible nodes.
pub trait PreScore: Send + Sync {
    /// Computes per-pod scoring state. `Status::skip()` skips this plugin's Score.
    fn pre_score(&self, state: &mut CycleState, pod: &PodInfo, nodes: &[Arc<NodeInfo>]) -> Status;
}

/// A node and its score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeScore {
    /// Index into the feasible node list.
    pub node: usize,
    /// The score.
    pub score: i64,
}

/// Ranks feasible nodes.
pub trait Score: Send + Sync {
    /// The raw score of `node`.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;

    /// Maps raw scores into 0..=[`MAX_NODE_SCORE`] (after all nodes are scored).
    fn normalize(&self, _state: &CycleState, _pod: &PodInfo, _scores: &mut [NodeScore]) -> Status {
        Status::success()
    }
}

/// Reacts when a node is chosen for a pod, and when that is undone.
pub trait Reserve: Send + Sync {
    /// The pod is about to be assumed on `node`.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Reserve or a later step failed: undo.
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Scales scores into 0..=MAX_NODE_SCORE relative to the highest (optionally reversed), as
/// upstream's `DefaultNormalizeScore`.
pub fn default_normalize(scores: &mut [NodeScore], reverse: bool) {
    let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if max == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = MAX_NODE_SCORE;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = MAX_NODE_SCORE * s.score / max;
        if reverse {
            v = MAX_NODE_SCORE - v;
        }
        s.score = v;
    }
}
