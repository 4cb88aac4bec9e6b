//! InterPodAffinity: pods that must (or prefer to) run in the same topology domain as pods
//! matching a selector (affinity), or must not / prefer not to (anti-affinity); including
//! existing pods' required anti-affinity against the incoming pod (symmetry).
//!
//! As upstream, PreFilter counts, per topology pair (`topologyKey=value`):
//! - existing pods whose required anti-affinity terms match the incoming pod (only nodes
//!   holding such pods are visited, [`Snapshot::with_required_anti_affinity`]);
//! - existing pods matching all of the incoming pod's required affinity terms, and each of its
//!   required anti-affinity terms (every pod of every node).
//!
//! Filter then only looks the node's labels up in those counts. PreScore accumulates weights per
//! topology pair from the incoming pod's preferred terms and existing pods' required affinity
//! (`hardPodAffinityWeight`) and preferred terms; Score sums the pairs a node lies in, and the
//! scores are normalized min–max into 0..=100.
//!
//! The incoming pod's `namespaceSelector`s are resolved against the snapshot's namespaces once
//! per cycle; existing pods' `namespaceSelector`s are matched against the incoming pod's
//! namespace labels.
//!
//! Beyond upstream, the per-pair totals are carried between cycles (keyed by what of the
//! incoming pod they depend on, e.g. its labels and terms) and brought up to date by
//! revisiting only the nodes whose `NodeInfo` changed since the previous snapshot: replicas
//! of one workload, scheduled back to back, then cost a pointer comparison per node instead
//! of a visit to every pod of the cluster.
//!
//! [`Snapshot::with_required_anti_affinity`]: crate::framework::Snapshot::with_required_anti_affinity

pub mod args;
mod filtering;
mod scoring;
#[cfg(test)]
mod tests;
pub(crate) mod topology;

use std::collections::{BTreeMap, BTreeSet};

use rkube_api::selector::LabelSelector;

use crate::framework::snapshot::NamespaceLabels;
use crate::framework::{
    AffinityTerm, ClusterEvent, Filter, Plugin, PodInfo, PreFilter, PreScore, Score,
};

pub use args::InterPodAffinityArgs;
use topology::SnapshotCache;
pub use topology::TopologyCounts;

/// The plugin's name.
pub const NAME: &str = "InterPodAffinity";
/// An existing pod's required anti-affinity term matches the incoming pod in the node's
/// domain (upstream's `ErrReasonExistingAntiAffinityRulesNotMatch`).
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// The node's domain has no pod matching the incoming pod's required affinity, or the node
/// lacks a term's topology key (upstream's `ErrReasonAffinityRulesNotMatch`).
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// The node's domain has a pod matching the incoming pod's required anti-affinity (upstream's
/// `ErrReasonAntiAffinityRulesNotMatch`).
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";

/// Required and preferred inter-pod (anti-)affinity.
#[derive(Debug, Default)]
pub struct InterPodAffinity {
    args: InterPodAffinityArgs,
    /// Existing pods' required anti-affinity matching the incoming pod, across cycles.
    existing_cache: SnapshotCache<filtering::ExistingKey, TopologyCounts>,
    /// Existing pods matching the incoming pod's required terms, across cycles.
    incoming_cache: SnapshotCache<filtering::IncomingKey, filtering::IncomingCounts>,
    /// Preferred-term weights, across cycles.
    score_cache: SnapshotCache<scoring::ScoreKey, TopologyCounts>,
}

impl InterPodAffinity {
    /// The plugin with `args`.
    pub fn new(args: InterPodAffinityArgs) -> InterPodAffinity {
        InterPodAffinity {
            args,
            ..InterPodAffinity::default()
        }
    }

    /// The plugin from its `pluginConfig` args (`None`: defaults).
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<InterPodAffinity, String> {
        InterPodAffinityArgs::from_json(value).map(InterPodAffinity::new)
    }

    /// The args in effect.
    pub fn args(&self) -> &InterPodAffinityArgs {
        &self.args
    }
}

impl Plugin for InterPodAffinity {
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
            ClusterEvent::NamespaceChange,
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

/// One of the incoming pod's terms with its `namespaceSelector` resolved into namespace names
/// (upstream's `mergeAffinityTermNamespacesIfNotEmpty`), so matching an existing pod needs no
/// namespace label lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IncomingTerm {
    /// The namespaces the term selects; `None`: every namespace (an empty `namespaceSelector`).
    namespaces: Option<BTreeSet<String>>,
    selector: LabelSelector,
    topology_key: String,
    /// The term's weight (preferred terms; 1 for required ones).
    weight: i64,
}

impl IncomingTerm {
    fn resolve(term: &AffinityTerm, weight: i32, namespaces: &NamespaceLabels) -> IncomingTerm {
        let ns = if term.namespace_selector.is_everything() {
            None
        } else {
            let mut set = term.namespaces.clone();
            if !term.namespace_selector.is_nothing() {
                set.extend(
                    namespaces
                        .iter()
                        .filter(|(_, labels)| term.namespace_selector.matches(*labels))
                        .map(|(name, _)| name.clone()),
                );
            }
            Some(set)
        };
        IncomingTerm {
            namespaces: ns,
            selector: term.selector.clone(),
            topology_key: term.topology_key.clone(),
            weight: i64::from(weight),
        }
    }

    /// Whether the term selects `pod`.
    fn matches(&self, pod: &PodInfo) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|ns| ns.contains(&pod.namespace))
            && self.selector.matches(&pod.labels)
    }
}

/// Whether `pod` matches every term (false when there are none), upstream's
/// `podMatchesAllAffinityTerms`.
fn matches_all(terms: &[IncomingTerm], pod: &PodInfo) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod))
}

/// The labels of the incoming pod's namespace, against which existing pods' namespace
/// selectors are matched (empty when the namespace is unknown, as upstream's nil set).
fn namespace_labels(namespaces: &NamespaceLabels, ns: &str) -> BTreeMap<String, String> {
    namespaces.get(ns).cloned().unwrap_or_default()
}
