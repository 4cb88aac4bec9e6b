//! Who receives a resource's events. A watcher whose field selector pins the resource's
//! indexed field (a pod watch with `spec.nodeName=n`, what every kubelet runs) is filed under
//! that value and offered only the events whose object had or has it — upstream's watch-cache
//! "triggers": with 5000 nodes, a pod's change wakes one kubelet's watch, not 5000. The
//! others are offered every event under their key prefix.
//!
//! Each watcher has its own bounded queue; one that is full (a client not reading) is
//! dropped from here, which ends its stream once it has read what was queued — its client
//! re-watches from the last revision it saw — and never holds up the feeder or the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::mpsc;

use super::CachedEvent;

/// The value of a resource's indexed field in an object (absent fields read as `""`, as the
/// field selector compares them).
pub type IndexFn = fn(&Value) -> String;

/// One watcher's end of its queue.
struct Slot {
    /// Only keys under this prefix (the watch's namespace, or the whole resource).
    prefix: String,
    tx: mpsc::Sender<Arc<CachedEvent>>,
    /// Events queued so far (read by the watcher to tell whether it has seen them all).
    sent: Arc<AtomicU64>,
}

impl Slot {
    /// Queues `event` if it is under the prefix; `false` when the watcher must go (its queue
    /// is full, or it has hung up).
    fn offer(&self, event: &Arc<CachedEvent>) -> bool {
        if !event.key.starts_with(&self.prefix) {
            return true;
        }
        match self.tx.try_send(Arc::clone(event)) {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Release);
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(prefix = %self.prefix, "closing a watcher that fell behind");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// What a new watcher takes away: its queue and the count of what was queued for it.
pub struct Registration {
    /// Identifies the watcher to [`Watchers::remove`].
    pub id: u64,
    /// Its queue.
    pub rx: mpsc::Receiver<Arc<CachedEvent>>,
    /// How many events were queued for it.
    pub sent: Arc<AtomicU64>,
}

/// The watchers of one resource.
pub struct Watchers {
    next_id: u64,
    buffer: usize,
    /// Watchers of every object under their prefix.
    unindexed: HashMap<u64, Slot>,
    /// Watchers of the objects whose indexed field has the key's value.
    by_value: HashMap<String, HashMap<u64, Slot>>,
    /// The resource's indexed field (set by its first indexed watcher).
    index: Option<IndexFn>,
}

impl Watchers {
    /// No watchers; each will be closed `buffer` events behind.
    pub fn new(buffer: usize) -> Watchers {
        Watchers {
            next_id: 0,
            buffer: buffer.max(1),
            unindexed: HashMap::new(),
            by_value: HashMap::new(),
            index: None,
        }
    }

    /// Adds a watcher of the keys under `prefix`, limited to the objects whose indexed field
    /// (`index`) has a given value when `index` is set.
    pub fn add(&mut self, prefix: &str, index: Option<(IndexFn, String)>) -> Registration {
        let (tx, rx) = mpsc::channel(self.buffer);
        let sent = Arc::new(AtomicU64::new(0));
        let id = self.next_id;
        self.next_id += 1;
        let slot = Slot {
            prefix: prefix.to_owned(),
            tx,
            sent: Arc::clone(&sent),
        };
        match index {
            Some((value_of, value)) => {
                self.index = Some(value_of);
                self.by_value.entry(value).or_default().insert(id, slot);
            }
            None => {
                self.unindexed.insert(id, slot);
            }
        }
        Registration { id, rx, sent }
    }

    /// Forgets a watcher (its stream was dropped).
    pub fn remove(&mut self, id: u64, value: Option<&str>) {
        match value {
            Some(v) => {
                if let Some(slots) = self.by_value.get_mut(v) {
                    slots.remove(&id);
                    if slots.is_empty() {
                        self.by_value.remove(v);
                    }
                }
            }
            None => {
                self.unindexed.remove(&id);
            }
        }
    }

    /// Whether some watcher is filed under an index value (events must then be decoded to
    /// be dispatched).
    pub fn indexed(&self) -> bool {
        !self.by_value.is_empty()
    }

    /// How many watchers there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.unindexed.len() + self.by_value.values().map(HashMap::len).sum::<usize>()
    }

    /// Offers `event` to the watchers it concerns, dropping those that cannot take it.
    pub fn dispatch(&mut self, event: &Arc<CachedEvent>) {
        self.unindexed.retain(|_, slot| slot.offer(event));
        let Some(value_of) = self.index.filter(|_| !self.by_value.is_empty()) else {
            return;
        };
        let decoded = event.decoded();
        let new = match &decoded.new {
            Some(Ok(new)) => Some(value_of(new)),
            // Not JSON: every indexed watcher is told (the error ends their watches).
            Some(Err(_)) => {
                for slots in self.by_value.values_mut() {
                    slots.retain(|_, slot| slot.offer(event));
                }
                self.by_value.retain(|_, slots| !slots.is_empty());
                return;
            }
            None => None,
        };
        let old = decoded.old.as_ref().map(|o| value_of(o));
        // An object moving from one value to another concerns the watchers of both (one
        // sees it leave, the other arrive).
        let values = [
            old.as_deref(),
            new.as_deref().filter(|n| Some(*n) != old.as_deref()),
        ];
        for value in values.into_iter().flatten() {
            if let Some(slots) = self.by_value.get_mut(value) {
                slots.retain(|_, slot| slot.offer(event));
                if slots.is_empty() {
                    self.by_value.remove(value);
                }
            }
        }
    }
}
