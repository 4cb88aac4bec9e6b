//! A node with the pods on it (bound or assumed) and what they add up to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::node_labels::NodeLabels;
use super::pod_info::{HostPort, PodInfo};
use super::resource::Resource;

/// One node as the scheduler sees it.
///
/// `repr(C)` keeps the fields in the order written: those every cycle reads for each node it
/// looks at (the default filters and scorers) come first and together, so a node's first
/// touch in a cycle loads a few adjacent cache lines rather than lines spread over the
/// struct (a cycle looks at ~500 nodes; in profiles of end-to-end runs, the first loads from
/// each node are the algorithm's hottest instructions; see [`NodeInfo::prefetch`]).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct NodeInfo {
    /// `spec.unschedulable` (cordoned), copied here: filters read it for every node, and a
    /// hop into the node object costs a cache miss.
    pub unschedulable: bool,
    /// `spec.taints` when there are any (`None` costs no memory access).
    pub taints: Option<Arc<[k8s_openapi::api::core::v1::Taint]>>,
    /// Images present on the node: every name → size in bytes (shared: pods come and go far
    /// more often than images; every node without images shares one empty map, so checking
    /// for none touches memory already in the cache).
    pub images: Arc<HashMap<String, i64>>,
    /// Pods bound or assumed to the node (NodeResourcesFit reads how many for every node).
    pub pods: Vec<Arc<PodInfo>>,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// `status.allocatable`.
    pub allocatable: Resource,
    /// Sum of the pods' requests with per-container CPU/memory defaults (for scoring).
    pub non_zero_requested: Resource,
    /// `metadata.name`.
    pub name: String,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// `metadata.labels` laid out for the filters' lookups.
    pub label_index: NodeLabels,
    /// The subset of `pods` with any pod (anti-)affinity term.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// The subset of `pods` with a required pod anti-affinity term.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Bumped on every change; snapshots copy only changed nodes.
    pub generation: u64,
    /// The node object.
    pub node: Arc<Node>,
}

/// The image map of every node that reports no images.
fn no_images() -> Arc<HashMap<String, i64>> {
    static EMPTY: std::sync::LazyLock<Arc<HashMap<String, i64>>> =
        std::sync::LazyLock::new(Arc::default);
    EMPTY.clone()
}

/// How many nodes ahead of the one being filtered or scored the loops prefetch. Nodes sit
/// wherever the allocator put them, so the hardware cannot guess the next one, and a cycle
/// reads ~500 of them, mostly evicted from the cache by the apiserver's work between cycles.
/// (8 measured a little faster than 4.)
pub const PREFETCH_DISTANCE: usize = 8;

/// The bytes at the start of a `NodeInfo` that cycles read for every node: the fields before
/// `name`.
const HOT_BYTES: usize = std::mem::offset_of!(NodeInfo, name);

impl NodeInfo {
    /// Asks the CPU to start loading the fields every cycle reads, so that a loop over nodes
    /// waits for several nodes' memory at once rather than for each in turn. Measured with
    /// the benchmark's `--cold` (the algorithm with its caches evicted before each cycle, as
    /// in the end-to-end stream): 40–60 % more pods/s than plain loads of the same fields
    /// ahead, which stall the CPU when they miss.
    #[inline]
    #[allow(unsafe_code)]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let start = (self as *const NodeInfo).cast::<i8>();
            // Every line from the first hot byte to the last, however `self` is aligned.
            for offset in (0..HOT_BYTES).step_by(64).chain([HOT_BYTES - 1]) {
                // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 CPU has (it is in the
                // target's baseline); a prefetch is a hint that never faults, and these
                // addresses are inside `self` anyway.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            }
        }
    }

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
            images: no_images(),
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
            self.images = if images.is_empty() {
                no_images()
            } else {
                Arc::new(images)
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(images: serde_json::Value) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": "n"}, "status": {"images": images}}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn nodes_without_images_share_one_empty_map() {
        let a = NodeInfo::new(node(json!([])));
        let b = NodeInfo::new(node(json!(null)));
        assert!(a.images.is_empty());
        assert!(Arc::ptr_eq(&a.images, &b.images));

        // Gaining images gives the node its own map; losing them, the shared one again.
        let mut c = NodeInfo::new(node(json!([])));
        c.set_node(node(json!([{"names": ["pause:3.10"], "sizeBytes": 300}])));
        assert_eq!(c.images.get("pause:3.10"), Some(&300));
        assert!(!Arc::ptr_eq(&c.images, &a.images));
        c.set_node(node(json!([])));
        assert!(c.images.is_empty());
        assert!(Arc::ptr_eq(&c.images, &a.images));
    }
}
