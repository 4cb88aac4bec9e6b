//! The scheduler's cache: every node and the pods on it — bound ones from the watch, assumed
//! ones the scheduler placed but whose binding is still in flight — and an up-to-date
//! [`Snapshot`] maintained incrementally (only nodes changed since the last cycle are swapped).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::framework::snapshot::NamespaceLabels;
use crate::framework::{NodeInfo, OwnerKind, OwnerSelector, PodInfo, SelectingObjects, Snapshot};

#[derive(Debug)]
struct CachedPod {
    info: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

/// What a pod update did to the cache (decides which cluster event, if any, to raise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodChange {
    /// A pod the scheduler did not know appeared on a node.
    Added,
    /// A known pod changed.
    Updated,
    /// The watch confirmed a pod this scheduler assumed: nothing new for other pods.
    Confirmed,
}

/// Nodes, the pods on them, and the snapshot built from them.
#[derive(Default)]
pub struct Cache {
    nodes: HashMap<String, Arc<NodeInfo>>,
    order: Vec<String>,
    pods: HashMap<String, CachedPod>,
    /// Pods bound to nodes the cache has not seen (yet).
    orphans: HashMap<String, Vec<Arc<PodInfo>>>,
    dirty: HashSet<String>,
    structure_changed: bool,
    images_changed: bool,
    namespaces: NamespaceLabels,
    namespaces_changed: bool,
    pdbs: BTreeMap<String, PodDisruptionBudget>,
    pdbs_changed: bool,
    selecting: SelectingObjects,
    selecting_changed: bool,
    fingerprints: HashMap<String, String>,
    snapshot: Arc<Snapshot>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    fn node_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        let n = self.nodes.get_mut(name)?;
        self.dirty.insert(name.to_string());
        let info = Arc::make_mut(n);
        info.generation += 1;
        Some(info)
    }

    /// Adds or replaces a node; returns whether it is new.
    pub fn set_node(&mut self, node: Arc<Node>) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(info) = self.node_mut(&name) {
            let before = Arc::as_ptr(&info.images);
            info.set_node(node);
            if Arc::as_ptr(&info.images) != before {
                self.images_changed = true;
            }
            return false;
        }
        let mut info = NodeInfo::new(node);
        for pod in self.orphans.remove(&name).unwrap_or_default() {
            info.add_pod(pod);
        }
        if !info.images.is_empty() {
            self.images_changed = true;
        }
        self.nodes.insert(name.clone(), Arc::new(info));
        self.order.push(name);
        self.structure_changed = true;
        true
    }

    /// Removes a node; its pods wait (as upstream) until they are deleted.
    pub fn remove_node(&mut self, name: &str) {
        self.fingerprints.remove(name);
        if let Some(info) = self.nodes.remove(name) {
            self.order.retain(|n| n != name);
            self.orphans
                .entry(name.to_string())
                .or_default()
                .extend(info.pods.iter().cloned());
            self.structure_changed = true;
            self.images_changed = true;
        }
    }

    /// What the node's scheduling-relevant fields looked like when last seen.
    pub fn node_fingerprint(&self, name: &str) -> Option<String> {
        self.fingerprints.get(name).cloned()
    }

    /// Remembers the node's scheduling-relevant fields.
    pub fn set_node_fingerprint(&mut self, name: &str, fingerprint: String) {
        self.fingerprints.insert(name.to_string(), fingerprint);
    }

    /// How many nodes are known.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    fn place(&mut self, info: Arc<PodInfo>, node: &str) {
        match self.node_mut(node) {
            Some(n) => n.add_pod(info),
            None => self.orphans.entry(node.to_string()).or_default().push(info),
        }
    }

    fn unplace(&mut self, uid: &str, node: &str) {
        match self.node_mut(node) {
            Some(n) => {
                n.remove_pod(uid);
            }
            None => {
                if let Some(list) = self.orphans.get_mut(node) {
                    list.retain(|p| p.uid != uid);
                }
            }
        }
    }

    /// Places `pod` on `node` before its binding is confirmed (upstream's AssumePod).
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) {
        let uid = pod.uid.clone();
        if let Some(old) = self.pods.remove(&uid) {
            self.unplace(&uid, &old.node);
        }
        self.place(pod.clone(), node);
        self.pods.insert(
            uid,
            CachedPod {
                info: pod,
                node: node.to_string(),
                assumed: true,
            },
        );
    }

    /// Undoes [`Cache::assume`] after a failed binding (unless the watch confirmed it already).
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|p| p.assumed)
            && let Some(p) = self.pods.remove(uid)
        {
            self.unplace(uid, &p.node);
        }
    }

    /// Whether the pod with `uid` is bound or assumed.
    pub fn has_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// A pod seen bound to `node` by the watch.
    pub fn add_or_update_pod(&mut self, pod: Arc<PodInfo>, node: &str) -> PodChange {
        let uid = pod.uid.clone();
        let change = match self.pods.get(&uid) {
            Some(p) if p.assumed && p.node == node => PodChange::Confirmed,
            Some(_) => PodChange::Updated,
            None => PodChange::Added,
        };
        if let Some(old) = self.pods.remove(&uid) {
            self.unplace(&uid, &old.node);
        }
        self.place(pod.clone(), node);
        self.pods.insert(
            uid,
            CachedPod {
                info: pod,
                node: node.to_string(),
                assumed: false,
            },
        );
        change
    }

    /// A bound pod went away (deleted or finished); whether the cache had it.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        match self.pods.remove(uid) {
            Some(p) => {
                self.unplace(uid, &p.node);
                true
            }
            None => false,
        }
    }

    /// The known pods' UIDs (to drop those a re-list no longer shows).
    pub fn pod_uids(&self) -> Vec<String> {
        self.pods
            .iter()
            .filter(|(_, p)| !p.assumed)
            .map(|(uid, _)| uid.clone())
            .collect()
    }

    /// The pod with `uid` as cached.
    pub fn pod(&self, uid: &str) -> Option<&Arc<PodInfo>> {
        self.pods.get(uid).map(|p| &p.info)
    }

    /// Sets a namespace's labels (`None`: deleted); whether they changed.
    pub fn set_namespace(&mut self, name: &str, labels: Option<BTreeMap<String, String>>) -> bool {
        let changed = match labels {
            Some(l) => self.namespaces.insert(name.to_string(), l.clone()) != Some(l),
            None => self.namespaces.remove(name).is_some(),
        };
        self.namespaces_changed |= changed;
        changed
    }

    /// Sets a PodDisruptionBudget (`None`: deleted), keyed `namespace/name`.
    pub fn set_pdb(&mut self, key: &str, pdb: Option<PodDisruptionBudget>) {
        match pdb {
            Some(p) => self.pdbs.insert(key.to_string(), p),
            None => self.pdbs.remove(key),
        };
        self.pdbs_changed = true;
    }

    /// Sets (`Some`) or removes a Service's selector.
    pub fn set_service(
        &mut self,
        namespace: &str,
        name: &str,
        selector: Option<BTreeMap<String, String>>,
    ) {
        self.selecting_changed |= self.selecting.set_service(namespace, name, selector);
    }

    /// Sets (`Some`) or removes a controller's selector.
    pub fn set_owner(
        &mut self,
        kind: OwnerKind,
        namespace: &str,
        name: &str,
        selector: Option<OwnerSelector>,
    ) {
        self.selecting_changed |= self.selecting.set_owner(kind, namespace, name, selector);
    }

    /// The snapshot for the next cycle: nodes changed since the previous one are swapped in.
    pub fn snapshot(&mut self) -> Arc<Snapshot> {
        if self.dirty.is_empty()
            && !self.structure_changed
            && !self.namespaces_changed
            && !self.pdbs_changed
            && !self.selecting_changed
        {
            return self.snapshot.clone();
        }
        let snap = Arc::make_mut(&mut self.snapshot);
        if self.structure_changed {
            snap.nodes = self
                .order
                .iter()
                .filter_map(|n| self.nodes.get(n).cloned())
                .collect();
            snap.reindex();
        } else {
            let mut lists_changed = false;
            for name in &self.dirty {
                if let (Some(i), Some(n)) = (snap.position(name), self.nodes.get(name)) {
                    lists_changed |= snap.replace(i, n.clone());
                }
            }
            if lists_changed {
                snap.refresh_affinity_lists();
            }
        }
        if self.images_changed {
            snap.recount_images();
        }
        if self.namespaces_changed {
            snap.namespaces = Arc::new(self.namespaces.clone());
        }
        if self.pdbs_changed {
            snap.pdbs = Arc::new(self.pdbs.values().cloned().collect());
        }
        if self.selecting_changed {
            snap.selecting = Arc::new(self.selecting.clone());
        }
        self.dirty.clear();
        self.structure_changed = false;
        self.images_changed = false;
        self.namespaces_changed = false;
        self.pdbs_changed = false;
        self.selecting_changed = false;
        self.snapshot.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name},
                "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}))
            .unwrap(),
        )
    }

    fn pod(uid: &str, cpu: &str) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": uid, "namespace": "d", "uid": uid},
                "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}),
            )
            .unwrap(),
        )))
    }

    #[test]
    fn assume_confirm_forget_and_incremental_snapshots() {
        let mut c = Cache::new();
        assert!(c.set_node(node("n1")));
        assert!(c.set_node(node("n2")));
        let s0 = c.snapshot();
        assert_eq!(s0.nodes.len(), 2);

        c.assume(pod("a", "1"), "n1");
        let s1 = c.snapshot();
        assert_eq!(s1.get("n1").unwrap().requested.milli_cpu, 1000);
        // The earlier snapshot is immutable.
        assert_eq!(s0.get("n1").unwrap().requested.milli_cpu, 0);
        // The untouched node is shared, not copied.
        assert!(Arc::ptr_eq(s0.get("n2").unwrap(), s1.get("n2").unwrap()));

        assert_eq!(
            c.add_or_update_pod(pod("a", "1"), "n1"),
            PodChange::Confirmed
        );
        c.forget("a"); // confirmed: forgetting does nothing
        assert_eq!(c.snapshot().get("n1").unwrap().pods.len(), 1);

        c.assume(pod("b", "2"), "n2");
        c.forget("b");
        assert_eq!(c.snapshot().get("n2").unwrap().requested.milli_cpu, 0);

        assert!(c.remove_pod("a"));
        assert_eq!(c.snapshot().get("n1").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn pods_of_unknown_nodes_wait_for_the_node() {
        let mut c = Cache::new();
        assert_eq!(
            c.add_or_update_pod(pod("a", "500m"), "later"),
            PodChange::Added
        );
        assert!(c.snapshot().nodes.is_empty());
        c.set_node(node("later"));
        assert_eq!(c.snapshot().get("later").unwrap().requested.milli_cpu, 500);
        c.remove_node("later");
        assert!(c.snapshot().get("later").is_none());
        c.set_node(node("later"));
        assert_eq!(c.snapshot().get("later").unwrap().pods.len(), 1);
    }
}
