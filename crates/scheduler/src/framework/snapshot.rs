//! An immutable view of the cluster for one scheduling cycle: every node with its pods, plus
//! the lookups plugins need (nodes with affinity pods, namespace labels, image spread).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use super::SelectingObjects;
use super::node_info::NodeInfo;

/// Namespace name → its labels.
pub type NamespaceLabels = HashMap<String, BTreeMap<String, String>>;

/// The cluster as one scheduling cycle sees it. Cheap to share: node infos are `Arc`s that the
/// cache copies on write.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every node, in a stable order (the filter's round-robin start index walks it).
    pub nodes: Vec<Arc<NodeInfo>>,
    index: Arc<HashMap<String, usize>>,
    /// Indexes into `nodes` of nodes with a pod that has any pod (anti-)affinity term.
    pub with_affinity: Vec<usize>,
    /// Indexes into `nodes` of nodes with a pod that has a required anti-affinity term.
    pub with_required_anti_affinity: Vec<usize>,
    /// Labels of every namespace.
    pub namespaces: Arc<NamespaceLabels>,
    /// Image name → how many nodes have it.
    pub image_nodes: Arc<HashMap<String, usize>>,
    /// Every PodDisruptionBudget (preemption avoids violating them).
    pub pdbs: Arc<Vec<PodDisruptionBudget>>,
    /// Services' and controllers' selectors (default topology spreading).
    pub selecting: Arc<SelectingObjects>,
}

impl Snapshot {
    /// A snapshot of `nodes` (mostly for tests and the algorithm-only benchmark).
    pub fn from_nodes(nodes: Vec<NodeInfo>) -> Snapshot {
        let mut s = Snapshot {
            nodes: nodes.into_iter().map(Arc::new).collect(),
            ..Snapshot::default()
        };
        s.reindex();
        s.recount_images();
        s
    }

    /// Rebuilds the name index and the affinity lists from `nodes`.
    pub fn reindex(&mut self) {
        self.index = Arc::new(
            self.nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name.clone(), i))
                .collect(),
        );
        self.refresh_affinity_lists();
    }

    /// Rebuilds the affinity lists from `nodes`.
    pub fn refresh_affinity_lists(&mut self) {
        self.with_affinity.clear();
        self.with_required_anti_affinity.clear();
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.pods_with_affinity.is_empty() {
                self.with_affinity.push(i);
            }
            if !n.pods_with_required_anti_affinity.is_empty() {
                self.with_required_anti_affinity.push(i);
            }
        }
    }

    /// Recounts how many nodes hold each image.
    pub fn recount_images(&mut self) {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for n in &self.nodes {
            for name in n.images.keys() {
                *counts.entry(name.clone()).or_default() += 1;
            }
        }
        self.image_nodes = Arc::new(counts);
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    /// The position of node `name` in `nodes`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Replaces the node at `i` (same name). Returns whether its membership in the affinity
    /// lists changed (then [`Snapshot::refresh_affinity_lists`] is due).
    pub fn replace(&mut self, i: usize, node: Arc<NodeInfo>) -> bool {
        let old = &self.nodes[i];
        let changed = old.pods_with_affinity.is_empty() != node.pods_with_affinity.is_empty()
            || old.pods_with_required_anti_affinity.is_empty()
                != node.pods_with_required_anti_affinity.is_empty();
        self.nodes[i] = node;
        changed
    }

    /// The labels of namespace `ns`, if known.
    pub fn namespace_labels(&self, ns: &str) -> Option<&BTreeMap<String, String>> {
        self.namespaces.get(ns)
    }
}
