//! Pods nominated to a node by an earlier preemption (upstream's nominator). While its victims
//! terminate, a nominated pod holds its place: pods of lower or equal priority are filtered
//! as if it already ran there, so they do not take the room it preempted for.
//!
//! A nomination comes from two places: the pod's `status.nominatedNodeName` (as observed
//! through the watch) and the scheduler itself, which records a preemption's nomination in
//! memory before its status patch comes back.

use std::collections::HashMap;
use std::sync::Arc;

use super::PodInfo;

/// Pending pods nominated to each node, by node name.
pub type NominatedPods = HashMap<String, Vec<Arc<PodInfo>>>;

#[derive(Debug)]
struct Nomination {
    node: String,
    pod: Arc<PodInfo>,
}

/// Every pending pod's nomination, with a shared view rebuilt only after a change.
#[derive(Debug, Default)]
pub struct Nominator {
    by_uid: HashMap<String, Nomination>,
    view: Option<Arc<NominatedPods>>,
}

fn status_nomination(pod: &PodInfo) -> Option<&str> {
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty())
}

impl Nominator {
    /// A pending pod as the watch shows it now. Its status's nomination wins; a status that
    /// drops a nomination it had clears it; a pod whose status never had one keeps the
    /// nomination the scheduler made in memory (its patch may not have come back yet).
    pub fn observe(&mut self, pod: &Arc<PodInfo>) {
        let node = match (status_nomination(pod), self.by_uid.get(&pod.uid)) {
            (Some(n), _) => n.to_string(),
            (None, Some(old)) if status_nomination(&old.pod).is_none() => old.node.clone(),
            (None, Some(_)) => {
                self.remove(&pod.uid);
                return;
            }
            (None, None) => return,
        };
        self.nominate(pod.clone(), node);
    }

    /// Records that `pod` is nominated to `node`.
    pub fn nominate(&mut self, pod: Arc<PodInfo>, node: String) {
        self.by_uid
            .insert(pod.uid.clone(), Nomination { node, pod });
        self.view = None;
    }

    /// Forgets `uid`'s nomination (it was bound, deleted or its nomination cleared).
    pub fn remove(&mut self, uid: &str) {
        if self.by_uid.remove(uid).is_some() {
            self.view = None;
        }
    }

    /// The node `uid` is nominated to.
    pub fn node_of(&self, uid: &str) -> Option<&str> {
        self.by_uid.get(uid).map(|n| n.node.as_str())
    }

    /// Nominations by node, shared until the next change.
    pub fn view(&mut self) -> Arc<NominatedPods> {
        if let Some(v) = &self.view {
            return v.clone();
        }
        let mut by_node = NominatedPods::new();
        for n in self.by_uid.values() {
            by_node
                .entry(n.node.clone())
                .or_default()
                .push(n.pod.clone());
        }
        let view = Arc::new(by_node);
        self.view = Some(view.clone());
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(uid: &str, nominated: Option<&str>) -> Arc<PodInfo> {
        let mut v = json!({
            "metadata": {"name": uid, "namespace": "default", "uid": uid},
            "spec": {"containers": [{"name": "c", "image": "i"}]}
        });
        if let Some(n) = nominated {
            v["status"] = json!({"nominatedNodeName": n});
        }
        Arc::new(PodInfo::new(Arc::new(serde_json::from_value(v).unwrap())))
    }

    fn nodes(n: &mut Nominator) -> Vec<(String, Vec<String>)> {
        let mut v: Vec<_> = n
            .view()
            .iter()
            .map(|(node, pods)| {
                let mut uids: Vec<String> = pods.iter().map(|p| p.uid.clone()).collect();
                uids.sort();
                (node.clone(), uids)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn status_nominations_are_tracked_and_cleared() {
        let mut n = Nominator::default();
        n.observe(&pod("a", Some("n1")));
        n.observe(&pod("b", Some("n1")));
        n.observe(&pod("c", None));
        assert_eq!(
            nodes(&mut n),
            vec![("n1".into(), vec!["a".into(), "b".into()])]
        );
        n.observe(&pod("a", Some("n2")));
        assert_eq!(n.node_of("a"), Some("n2"));
        // The status dropped its nomination: gone.
        n.observe(&pod("b", None));
        assert_eq!(n.node_of("b"), None);
        n.remove("a");
        assert!(nodes(&mut n).is_empty());
    }

    #[test]
    fn an_in_memory_nomination_survives_updates_until_the_status_carries_one() {
        let mut n = Nominator::default();
        n.nominate(pod("a", None), "n1".into());
        // An unrelated update arrives before the nomination's own patch.
        n.observe(&pod("a", None));
        assert_eq!(n.node_of("a"), Some("n1"));
        n.observe(&pod("a", Some("n1")));
        assert_eq!(n.node_of("a"), Some("n1"));
        // Once the status had it, a status without it clears it.
        n.observe(&pod("a", None));
        assert_eq!(n.node_of("a"), None);
    }

    #[test]
    fn the_view_is_shared_until_a_change() {
        let mut n = Nominator::default();
        n.observe(&pod("a", Some("n1")));
        let v1 = n.view();
        assert!(Arc::ptr_eq(&v1, &n.view()));
        n.remove("a");
        assert!(!Arc::ptr_eq(&v1, &n.view()));
    }
}
