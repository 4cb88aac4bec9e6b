//! Per-cycle scratch space: what PreFilter/PreScore computed once, read by Filter/Score for
//! every node. Cloneable so preemption can simulate removing pods without touching the original.

use std::any::Any;
use std::sync::Arc;

use super::{NominatedPods, PodInfo, Snapshot};

/// Data a plugin keeps for one scheduling cycle.
pub trait StateData: Any + Send + Sync {
    /// A deep copy (preemption mutates copies per candidate node).
    fn clone_data(&self) -> Box<dyn StateData>;
    /// Upcast for downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
    /// Mutable upcast for downcasting to the concrete type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Clone + Any + Send + Sync> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The state of one scheduling cycle for one pod.
pub struct CycleState {
    snapshot: Arc<Snapshot>,
    // A few entries, read for every node: a short list beats hashing the key each time.
    data: Vec<(&'static str, Box<dyn StateData>)>,
    /// Plugins whose PreFilter returned Skip: their Filter is not run.
    pub skip_filter: Vec<&'static str>,
    /// Plugins whose PreScore returned Skip: their Score is not run.
    pub skip_score: Vec<&'static str>,
    /// Pods nominated to nodes by earlier preemptions (none when absent).
    nominated: Option<Arc<NominatedPods>>,
}

impl CycleState {
    /// A fresh state over `snapshot`.
    pub fn new(snapshot: Arc<Snapshot>) -> CycleState {
        CycleState {
            snapshot,
            data: Vec::new(),
            skip_filter: Vec::new(),
            skip_score: Vec::new(),
            nominated: None,
        }
    }

    /// The nominations this cycle filters with (empty views are dropped: the common case
    /// then costs nothing per node).
    pub fn set_nominated(&mut self, nominated: Arc<NominatedPods>) {
        self.nominated = Some(nominated).filter(|n| !n.is_empty());
    }

    /// Whether any pod is nominated anywhere.
    pub fn has_nominations(&self) -> bool {
        self.nominated.is_some()
    }

    /// The pods nominated to `node`.
    pub fn nominated_on(&self, node: &str) -> &[Arc<PodInfo>] {
        self.nominated
            .as_ref()
            .and_then(|n| n.get(node))
            .map_or(&[], Vec::as_slice)
    }

    /// The cluster as this cycle sees it.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Drops this state's hold on the snapshot (the cache then updates the next snapshot in
    /// place instead of copying every node). For states that outlive the cycle, e.g. kept for
    /// Unreserve while a binding is in flight.
    pub fn release_snapshot(&mut self) {
        self.snapshot = Arc::default();
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn write<T: StateData>(&mut self, key: &'static str, value: T) {
        match self.data.iter_mut().find(|(k, _)| same_key(k, key)) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.data.push((key, Box::new(value))),
        }
    }

    fn entry(&self, key: &'static str) -> Option<&dyn StateData> {
        self.data
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| &**v)
    }

    /// The value under `key`, if present and of type `T`.
    pub fn read<T: 'static>(&self, key: &'static str) -> Option<&T> {
        self.entry(key)?.as_any().downcast_ref()
    }

    /// The value under `key` for modification, if present and of type `T`.
    pub fn read_mut<T: 'static>(&mut self, key: &'static str) -> Option<&mut T> {
        let (_, data) = self.data.iter_mut().find(|(k, _)| same_key(k, key))?;
        let data: &mut dyn StateData = &mut **data;
        data.as_any_mut().downcast_mut()
    }
}

impl Clone for CycleState {
    fn clone(&self) -> CycleState {
        CycleState {
            snapshot: self.snapshot.clone(),
            data: self
                .data
                .iter()
                .map(|(k, v)| {
                    let data: &dyn StateData = &**v;
                    (*k, data.clone_data())
                })
                .collect(),
            skip_filter: self.skip_filter.clone(),
            skip_score: self.skip_score.clone(),
            nominated: self.nominated.clone(),
        }
    }
}

/// Keys are `&'static str` constants: the same address is the usual, cheap match.
fn same_key(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}
