//! A node with the pods on it (bound or assumed) and what they add up to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::node_labels::NodeLabels;
use super::pod_info::{HostPort, PodInfo};
use super::resource::Resource;

/// One node as the scheduler sees it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The node object.
    pub node: Arc<Node>,
    /// `metadata.name`.
    pub name: String,
    /// Pods bound or assumed to the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// The subset of `pods` with any pod (anti-)affinity term.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// The subset of `pods` with a required pod anti-affinity term.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// Sum of the pods' requests with per-container CPU/memory defaults (for scoring).
    pub non_zero_requested: Resource,
    /// `status.allocatable`.
    pub allocatable: Resource,
    /// Images present on the node: every name → size in bytes (shared: pods come and go far
    /// more often than images).
    pub images: Arc<HashMap<String, i64>>,
    /// Bumped on every change; snapshots copy only changed nodes.
    pub generation: u64,
    /// `spec.unschedulable` (cordoned), copied here: filters read it for every node, and a
    /// hop into the node object costs a cache miss.
    pub unschedulable: bool,
    /// `spec.taints` when there are any (`None` costs no memory access).
    pub taints: Option<Arc<[k8s_openapi::api::core::v1::Taint]>>,
    /// `metadata.labels` laid out for the filters' lookups.
    pub label_index: NodeLabels,
}

impl NodeInfo {
    /// A node with no pods.
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo {
            node: node.clone(),
            name: String::new(),
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable: Resource::default(),
            images: Arc::default(),
            generation: 0,
            unschedulable: false,
            taints: None,
            label_index: NodeLabels::default(),
        };
        info.set_node(node);
        info
    }

    /// Replaces the node object (keeping its pods).
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.name = node.metadata.name.clone().unwrap_or_default();
        self.label_index =
            NodeLabels::new(node.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()));
        let status = node.status.as_ref();
        self.allocatable = Resource::from_list(status.and_then(|s| s.allocatable.as_ref()));
        let mut images = HashMap::new();
        for image in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            for name in image.names.iter().flatten() {
                images.insert(name.clone(), image.size_bytes.unwrap_or(0));
            }
        }
        if *self.images != images {
            self.images = Arc::new(images);
        }
        let spec = node.spec.as_ref();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        self.taints = spec
            .and_then(|s| s.taints.as_ref())
            .filter(|t| !t.is_empty())
            .map(|t| Arc::from(t.as_slice()));
        self.node = node;
    }

    /// The node's labels.
    pub fn labels(&self) -> &std::collections::BTreeMap<String, String> {
        static EMPTY: std::collections::BTreeMap<String, String> =
            std::collections::BTreeMap::new();
        self.node.metadata.labels.as_ref().unwrap_or(&EMPTY)
    }

    /// Adds a pod's usage.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.add(&pod.non_zero_requests);
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
    }

    /// Removes the pod with `uid`; whether it was there.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.sub(&pod.non_zero_requests);
        for port in &pod.host_ports {
            if let Some(j) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(j);
            }
        }
        self.pods_with_affinity.retain(|p| p.uid != uid);
        self.pods_with_required_anti_affinity
            .retain(|p| p.uid != uid);
        true
    }
}
