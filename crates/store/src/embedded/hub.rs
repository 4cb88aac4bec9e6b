//! The recent-events ring that watchers read from without touching the database.
//!
//! The writer appends every committed event; each watcher pulls from its own position. A
//! watcher that falls behind the ring (slow consumer, or a watch from an old revision) reads the
//! gap from the database instead, so nobody ever waits for a slow watcher.

use crate::{Revision, WatchEvent};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Most events kept in memory.
const RING_EVENTS: usize = 100_000;
/// Most value bytes kept in memory.
const RING_BYTES: usize = 64 << 20;

pub(crate) struct Hub {
    ring: Mutex<Ring>,
}

struct Ring {
    events: VecDeque<WatchEvent>,
    /// Revision of `events[0]` (or of the next event when empty). Revisions are contiguous:
    /// every write produces exactly one event.
    first: Revision,
    bytes: usize,
}

fn event_bytes(e: &WatchEvent) -> usize {
    e.kv.value.len() + e.prev.as_ref().map_or(0, |p| p.value.len()) + 128
}

impl Hub {
    /// An empty ring whose next event will have revision `current + 1`.
    pub fn new(current: Revision) -> Hub {
        Hub {
            ring: Mutex::new(Ring {
                events: VecDeque::new(),
                first: current + 1,
                bytes: 0,
            }),
        }
    }

    /// Appends committed events (contiguous revisions), evicting the oldest beyond the bounds.
    pub fn publish(&self, events: Vec<WatchEvent>) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        for e in events {
            ring.bytes += event_bytes(&e);
            ring.events.push_back(e);
        }
        while ring.events.len() > RING_EVENTS || (ring.bytes > RING_BYTES && ring.events.len() > 1)
        {
            if let Some(old) = ring.events.pop_front() {
                ring.bytes -= event_bytes(&old);
                ring.first += 1;
            }
        }
    }

    /// Up to `max` events from revision `from` on, or `None` if `from` is no longer in memory.
    pub fn read_from(&self, from: Revision, max: usize) -> Option<Vec<WatchEvent>> {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if from < ring.first {
            return None;
        }
        let start = usize::try_from(from - ring.first).ok()?;
        Some(ring.events.iter().skip(start).take(max).cloned().collect())
    }
}
