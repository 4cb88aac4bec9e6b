//! Per-cycle scratch space: what PreFilter/PreScore computed once, read by Filter/Score for
//! every node. Cloneable so preemption can simulate removing pods without touching the original.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use super::Snapshot;

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
    data: HashMap<&'static str, Box<dyn StateData>>,
    /// Plugins whose PreFilter returned Skip: their Filter is not run.
    pub skip_filter: Vec<&'static str>,
    /// Plugins whose PreScore returned Skip: their Score is not run.
    pub skip_score: Vec<&'static str>,
}

impl CycleState {
    /// A fresh state over `snapshot`.
    pub fn new(snapshot: Arc<Snapshot>) -> CycleState {
        CycleState {
            snapshot,
            data: HashMap::new(),
            skip_filter: Vec::new(),
            skip_score: Vec::new(),
        }
    }

    /// The cluster as this cycle sees it.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn write<T: StateData>(&mut self, key: &'static str, value: T) {
        self.data.insert(key, Box::new(value));
    }

    /// The value under `key`, if present and of type `T`.
    pub fn read<T: 'static>(&self, key: &'static str) -> Option<&T> {
        let data: &dyn StateData = &**self.data.get(key)?;
        data.as_any().downcast_ref()
    }

    /// The value under `key` for modification, if present and of type `T`.
    pub fn read_mut<T: 'static>(&mut self, key: &'static str) -> Option<&mut T> {
        let data: &mut dyn StateData = &mut **self.data.get_mut(key)?;
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
        }
    }
}
