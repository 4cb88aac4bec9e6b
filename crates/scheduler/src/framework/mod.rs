//! The scheduling framework: plugins at extension points, the per-cycle state they share, the
//! node and pod views they read, and statuses as values.

pub mod cycle_state;
pub mod node_affinity;
pub mod node_info;
pub mod node_labels;
pub mod nominator;
pub mod plugin;
pub mod pod_info;
pub mod resource;
pub mod runtime;
pub mod selecting;
pub mod snapshot;
pub mod status;
pub mod taints;

pub use cycle_state::CycleState;
pub use node_info::NodeInfo;
pub use nominator::{NominatedPods, Nominator};
pub use plugin::{
    ClusterEvent, Filter, MAX_NODE_SCORE, NodeScore, NodeStatuses, Plugin, PostFilter,
    PostFilterResult, PreFilter, PreFilterResult, PreScore, QueueKey, QueueSort, Reserve, Score,
};
pub use pod_info::{AffinityTerm, HostPort, PodInfo, WeightedAffinityTerm};
pub use resource::Resource;
pub use runtime::{Framework, PluginSet};
pub use selecting::{OwnerKind, OwnerSelector, SelectingObjects};
pub use snapshot::Snapshot;
pub use status::{Code, Status};
