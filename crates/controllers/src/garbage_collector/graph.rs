//! The ownership graph (upstream's `GraphBuilder` state): one node per object uid seen by a
//! monitor, plus "virtual" nodes for owners that are referenced but not (yet) seen. Pure: the
//! changes it is told of return the uids the workers must look at, and the workers verify
//! everything against the apiserver before acting.

use std::collections::{HashMap, HashSet};

/// An object's coordinates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// `apiVersion` (as seen, or as an owner reference names it).
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (`None` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: String,
}

/// One owner reference of a dependent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
    /// `uid`.
    pub uid: String,
    /// `blockOwnerDeletion`.
    pub block_owner_deletion: bool,
}

/// What the graph needs of an object's metadata.
#[derive(Clone, Debug)]
pub struct Meta {
    /// Coordinates.
    pub id: Identity,
    /// Its owner references.
    pub owners: Vec<Owner>,
    /// `deletionTimestamp` is set.
    pub being_deleted: bool,
    /// Its finalizers.
    pub finalizers: Vec<String>,
}

impl Meta {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Deleted with `orphan`: its dependents lose their references to it first.
    fn orphaning(&self) -> bool {
        self.being_deleted && self.has(super::ORPHAN)
    }

    /// Deleted with `foregroundDeletion`: its dependents go first.
    fn deleting_dependents(&self) -> bool {
        self.being_deleted && self.has(super::FOREGROUND)
    }
}

/// A node of the graph.
#[derive(Clone, Debug)]
pub struct Node {
    /// Coordinates (for a virtual node, as the first dependent's reference named them).
    pub id: Identity,
    /// The monitor that saw it (`None`: virtual).
    pub monitor: Option<usize>,
    /// Its owner references.
    pub owners: Vec<Owner>,
    /// Uids of the nodes that reference it.
    pub dependents: HashSet<String>,
    /// `deletionTimestamp` is set.
    pub being_deleted: bool,
    /// Being deleted in the foreground: waiting for its blocking dependents.
    pub deleting_dependents: bool,
    /// Being deleted with `orphan`: its dependents are being released.
    pub orphaning: bool,
}

/// Uids the workers must process after a change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// For the attempt-to-delete workers.
    pub delete: Vec<String>,
    /// For the orphan workers.
    pub orphan: Vec<String>,
}

/// The graph.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    /// The node of `uid`.
    pub fn get(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// How many nodes (virtual ones included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Uids of the observed nodes `monitor` saw.
    pub fn seen_by(&self, monitor: usize) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.monitor == Some(monitor))
            .map(|n| n.id.uid.clone())
            .collect()
    }

    /// The dependents of `uid` whose reference to it has `blockOwnerDeletion`.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<&Node> {
        let Some(node) = self.nodes.get(uid) else {
            return Vec::new();
        };
        node.dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .filter(|d| {
                d.owners
                    .iter()
                    .any(|o| o.uid == uid && o.block_owner_deletion)
            })
            .collect()
    }

    /// The dependents of `uid`.
    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        self.nodes
            .get(uid)
            .map(|n| {
                n.dependents
                    .iter()
                    .filter_map(|d| self.nodes.get(d))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Links `dependent` under each of `owners`, making virtual nodes for unknown owners (queued
    /// so a worker checks whether they exist).
    fn link(&mut self, dependent: &Identity, owners: &[Owner], work: &mut Work) {
        for o in owners {
            let owner = self.nodes.entry(o.uid.clone()).or_insert_with(|| {
                work.delete.push(o.uid.clone());
                Node {
                    id: Identity {
                        api_version: o.api_version.clone(),
                        kind: o.kind.clone(),
                        namespace: dependent.namespace.clone(),
                        name: o.name.clone(),
                        uid: o.uid.clone(),
                    },
                    monitor: None,
                    owners: Vec::new(),
                    dependents: HashSet::new(),
                    being_deleted: false,
                    deleting_dependents: false,
                    orphaning: false,
                }
            });
            owner.dependents.insert(dependent.uid.clone());
        }
    }

    fn unlink(&mut self, dependent: &str, owners: &[Owner]) {
        for o in owners {
            if let Some(owner) = self.nodes.get_mut(&o.uid) {
                owner.dependents.remove(dependent);
            }
        }
    }

    /// An object `monitor` saw added or changed.
    pub fn upsert(&mut self, monitor: usize, meta: Meta) -> Work {
        let mut work = Work::default();
        let uid = meta.id.uid.clone();
        let (was_orphaning, was_deleting_dependents, old_owners) = match self.nodes.get(&uid) {
            Some(n) if n.monitor.is_some() => {
                (n.orphaning, n.deleting_dependents, n.owners.clone())
            }
            _ => (false, false, Vec::new()),
        };
        // Owners whose reference went away or stopped blocking: an owner waiting for its
        // blocking dependents may now be done.
        for old in &old_owners {
            let still_blocks = meta
                .owners
                .iter()
                .any(|o| o.uid == old.uid && o.block_owner_deletion);
            if old.block_owner_deletion
                && !still_blocks
                && self
                    .nodes
                    .get(&old.uid)
                    .is_some_and(|n| n.deleting_dependents)
            {
                work.delete.push(old.uid.clone());
            }
        }
        let removed: Vec<Owner> = old_owners
            .iter()
            .filter(|o| !meta.owners.iter().any(|n| n.uid == o.uid))
            .cloned()
            .collect();
        self.unlink(&uid, &removed);
        let added: Vec<Owner> = meta
            .owners
            .iter()
            .filter(|o| !old_owners.iter().any(|n| n.uid == o.uid))
            .cloned()
            .collect();
        self.link(&meta.id, &added, &mut work);
        let deleting_dependents = meta.deleting_dependents();
        let node = self.nodes.entry(uid.clone()).or_insert_with(|| Node {
            id: meta.id.clone(),
            monitor: Some(monitor),
            owners: Vec::new(),
            dependents: HashSet::new(),
            being_deleted: false,
            deleting_dependents: false,
            orphaning: false,
        });
        node.id = meta.id.clone();
        node.monitor = Some(monitor);
        node.owners = meta.owners.clone();
        node.being_deleted = meta.being_deleted;
        node.deleting_dependents = deleting_dependents;
        node.orphaning = meta.orphaning();
        if meta.orphaning() && !was_orphaning {
            work.orphan.push(uid.clone());
        }
        if deleting_dependents && !was_deleting_dependents {
            work.delete.extend(node.dependents.iter().cloned());
            work.delete.push(uid.clone());
        }
        work
    }

    /// An object `monitor` saw deleted (or a worker verified absent): its dependents must be
    /// checked, and so must owners waiting for it in the foreground. Returns whether the node
    /// had dependents (its uid is then known to be absent).
    pub fn remove(&mut self, uid: &str) -> (Work, bool) {
        let mut work = Work::default();
        let Some(node) = self.nodes.remove(uid) else {
            return (work, false);
        };
        self.unlink(uid, &node.owners);
        for o in &node.owners {
            if self
                .nodes
                .get(&o.uid)
                .is_some_and(|n| n.deleting_dependents)
            {
                work.delete.push(o.uid.clone());
            }
        }
        let had_dependents = !node.dependents.is_empty();
        work.delete.extend(node.dependents);
        (work, had_dependents)
    }

    /// A worker found `id` absent from the apiserver: the node goes unless a monitor has seen
    /// the object under other coordinates (the reference that named it was wrong, not the
    /// object gone).
    pub fn remove_verified_absent(&mut self, id: &Identity) -> (Work, bool) {
        match self.nodes.get(&id.uid) {
            Some(n) if n.monitor.is_none() || same_object(&n.id, id) => self.remove(&id.uid),
            _ => (Work::default(), false),
        }
    }
}

fn same_object(a: &Identity, b: &Identity) -> bool {
    a.uid == b.uid
        && a.kind == b.kind
        && a.name == b.name
        && a.namespace == b.namespace
        && group_of(&a.api_version) == group_of(&b.api_version)
}

/// The group of an `apiVersion` (`""` for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, name: &str, uid: &str) -> Identity {
        Identity {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("default".into()),
            name: name.into(),
            uid: uid.into(),
        }
    }

    fn owner(name: &str, uid: &str, block: bool) -> Owner {
        Owner {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: name.into(),
            uid: uid.into(),
            block_owner_deletion: block,
        }
    }

    fn meta(name: &str, uid: &str, owners: Vec<Owner>) -> Meta {
        Meta {
            id: id("ConfigMap", name, uid),
            owners,
            being_deleted: false,
            finalizers: Vec::new(),
        }
    }

    #[test]
    fn unknown_owners_become_virtual_and_are_checked() {
        let mut g = Graph::default();
        let w = g.upsert(0, meta("dep", "d", vec![owner("own", "o", false)]));
        assert_eq!(w.delete, vec!["o".to_string()]);
        assert!(g.get("o").unwrap().monitor.is_none());
        // Seen later: observed, no new work.
        let w = g.upsert(0, meta("own", "o", vec![]));
        assert_eq!(w, Work::default());
        assert_eq!(g.get("o").unwrap().monitor, Some(0));
        assert_eq!(g.dependents("o").len(), 1);
    }

    #[test]
    fn owner_deleted_queues_its_dependents() {
        let mut g = Graph::default();
        g.upsert(0, meta("own", "o", vec![]));
        g.upsert(0, meta("dep", "d", vec![owner("own", "o", false)]));
        let (w, had) = g.remove("o");
        assert!(had);
        assert_eq!(w.delete, vec!["d".to_string()]);
    }

    #[test]
    fn foreground_and_orphan_transitions() {
        let mut g = Graph::default();
        g.upsert(0, meta("own", "o", vec![]));
        g.upsert(0, meta("dep", "d", vec![owner("own", "o", true)]));
        let mut deleting = meta("own", "o", vec![]);
        deleting.being_deleted = true;
        deleting.finalizers = vec!["foregroundDeletion".into()];
        let w = g.upsert(0, deleting.clone());
        assert_eq!(w.delete, vec!["d".to_string(), "o".to_string()]);
        assert_eq!(g.blocking_dependents("o").len(), 1);
        // Seen again unchanged: nothing new.
        assert_eq!(g.upsert(0, deleting), Work::default());
        // The dependent stops blocking: the owner is looked at again.
        let w = g.upsert(0, meta("dep", "d", vec![owner("own", "o", false)]));
        assert_eq!(w.delete, vec!["o".to_string()]);
        assert!(g.blocking_dependents("o").is_empty());

        let mut orphaning = meta("own2", "o2", vec![]);
        orphaning.being_deleted = true;
        orphaning.finalizers = vec!["orphan".into()];
        let w = g.upsert(0, orphaning.clone());
        assert_eq!(w.orphan, vec!["o2".to_string()]);
        assert_eq!(g.upsert(0, orphaning), Work::default());
    }

    #[test]
    fn a_dependent_gone_requeues_its_foreground_owner() {
        let mut g = Graph::default();
        let mut deleting = meta("own", "o", vec![]);
        deleting.being_deleted = true;
        deleting.finalizers = vec!["foregroundDeletion".into()];
        g.upsert(0, deleting);
        g.upsert(0, meta("dep", "d", vec![owner("own", "o", true)]));
        let (w, had) = g.remove("d");
        assert!(!had);
        assert_eq!(w.delete, vec!["o".to_string()]);
        assert!(g.dependents("o").is_empty());
    }

    #[test]
    fn verified_absence_keeps_an_object_seen_under_other_coordinates() {
        let mut g = Graph::default();
        g.upsert(0, meta("own", "o", vec![]));
        let mut wrong = id("Secret", "own", "o");
        wrong.api_version = "v1".into();
        assert!(!g.remove_verified_absent(&wrong).1);
        assert!(g.get("o").is_some());
        let (_, _) = g.remove_verified_absent(&id("ConfigMap", "own", "o"));
        assert!(g.get("o").is_none());
    }
}
