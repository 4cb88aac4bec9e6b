//! PodTopologySpread: spreads matching pods evenly over topology domains (zones, hosts, …)
//! per the pod's `topologySpreadConstraints`, or cluster defaults when it has none.
//!
//! - Hard constraints (`whenUnsatisfiable: DoNotSchedule`): PreFilter counts, per constraint
//!   and topology value, the pods its selector matches in the pod's namespace, over nodes that
//!   have every constraint's topology key and pass the inclusion policies
//!   (`nodeAffinityPolicy`, default Honor: the pod's node selector and required node affinity;
//!   `nodeTaintsPolicy`, default Ignore), and keeps the two smallest counts. Filter rejects a
//!   node when `count + self-match − global minimum > maxSkew`, the global minimum being 0
//!   while fewer than `minDomains` domains exist. `matchLabelKeys` add the pod's values of
//!   those labels to the selector.
//! - Soft constraints (`ScheduleAnyway`): PreScore counts pods per topology value of the
//!   feasible nodes; Score sums `count × ln(domains + 2) + maxSkew − 1` per constraint; the
//!   scores are normalized reversed (fewer pods, higher score).
//! - Defaults (`defaultingType: System`): hosts with maxSkew 3 and zones with maxSkew 5,
//!   ScheduleAnyway, with a selector derived from the Services, ReplicationControllers,
//!   ReplicaSets and StatefulSets selecting the pod, which the snapshot carries
//!   ([`crate::framework::SelectingObjects`], kept by the scheduler's watches). A pod that
//!   nothing selects gets no default constraints.
//!
//! Beyond upstream, the per-domain counts are carried between cycles (keyed by the
//! constraints and what decides which nodes count) and brought up to date by revisiting only
//! the nodes whose `NodeInfo` changed since the previous snapshot.

pub mod args;
mod common;
mod filtering;
mod scoring;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::core::v1::TopologySpreadConstraint;

use crate::framework::{ClusterEvent, Filter, Plugin, PreFilter, PreScore, Score};
use crate::plugins::inter_pod_affinity::topology::SnapshotCache;

pub use args::{DefaultingType, PodTopologySpreadArgs, system_default_constraints};

/// The plugin's name.
pub const NAME: &str = "PodTopologySpread";
/// Placing the pod on the node would exceed a constraint's maxSkew (upstream's
/// `ErrReasonConstraintsNotMatch`).
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// The node lacks a constraint's topology key (upstream's `ErrReasonNodeLabelNotMatch`).
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// The well-known hostname label.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// The well-known zone label.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

/// Even spreading of pods over topology domains.
pub struct PodTopologySpread {
    /// Constraints for pods without their own.
    default_constraints: Vec<TopologySpreadConstraint>,
    /// The defaults are the system's (nodes without a zone are still scored for hosts).
    system_defaulted: bool,
    /// Hard-constraint domain counts, across cycles.
    filter_cache: SnapshotCache<common::CountKey, filtering::DomainCounts>,
    /// Soft-constraint counts, across cycles.
    score_cache: SnapshotCache<Arc<common::CountKey>, scoring::ValueCounts>,
}

impl std::fmt::Debug for PodTopologySpread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodTopologySpread")
            .field("default_constraints", &self.default_constraints)
            .field("system_defaulted", &self.system_defaulted)
            .finish()
    }
}

impl Default for PodTopologySpread {
    fn default() -> PodTopologySpread {
        PodTopologySpread::new(PodTopologySpreadArgs::default())
    }
}

impl PodTopologySpread {
    /// The plugin with `args`.
    pub fn new(args: PodTopologySpreadArgs) -> PodTopologySpread {
        let system = args.defaulting_type == DefaultingType::System;
        PodTopologySpread {
            default_constraints: if system {
                system_default_constraints()
            } else {
                args.default_constraints
            },
            system_defaulted: system,
            filter_cache: SnapshotCache::default(),
            score_cache: SnapshotCache::default(),
        }
    }

    /// The plugin from its `pluginConfig` args (`None`: defaults).
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<PodTopologySpread, String> {
        PodTopologySpreadArgs::from_json(value).map(PodTopologySpread::new)
    }

    /// The default constraints in effect.
    pub fn default_constraints(&self) -> &[TopologySpreadConstraint] {
        &self.default_constraints
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn events(&self) -> &'static [ClusterEvent] {
        &[
            ClusterEvent::AssignedPodAdd,
            ClusterEvent::AssignedPodUpdate,
            ClusterEvent::AssignedPodDelete,
            ClusterEvent::NodeAdd,
            ClusterEvent::NodeUpdate,
        ]
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilter> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn Filter> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScore> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn Score> {
        Some(self)
    }
}
