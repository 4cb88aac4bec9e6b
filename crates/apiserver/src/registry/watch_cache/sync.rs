//! Whether a resource's cache holds every change up to a revision: what lets it answer
//! consistent (`resourceVersion=""`) lists from memory, as upstream's consistent reads from
//! the watch cache do. The store reports how far its watch has got ([`WatchProgress`]); a
//! list asks for the store's current revision and waits, briefly, until the cache's feeder has
//! applied everything up to it.
//!
//! [`WatchProgress`]: rkube_store::WatchProgress

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rkube_store::Revision;
use tokio::sync::{Notify, watch};

/// Shared by the cache's feeder (which advances it) and the lists waiting on it.
pub(super) struct CacheSync {
    /// The store reports progress; without it the cache cannot tell and never claims to be
    /// current.
    known: bool,
    /// Every change up to this revision is in the cache.
    synced: watch::Sender<Revision>,
    /// The newest revision a list is waiting for.
    wanted: AtomicI64,
    /// Wakes the feeder when a list starts waiting.
    requested: Notify,
}

impl CacheSync {
    /// A cache that holds everything up to `synced` (its first listing's revision).
    pub fn new(known: bool, synced: Revision) -> CacheSync {
        CacheSync {
            known,
            synced: watch::channel(synced).0,
            wanted: AtomicI64::new(0),
            requested: Notify::new(),
        }
    }

    /// Whether a list waits for a revision the cache has not reached.
    pub fn behind(&self) -> bool {
        self.known && self.wanted.load(Ordering::Acquire) > *self.synced.borrow()
    }

    /// Records that the cache holds every change up to `covered`.
    pub fn mark(&self, covered: Revision) {
        self.synced.send_if_modified(|synced| {
            let moved = covered > *synced;
            *synced = (*synced).max(covered);
            moved
        });
    }

    /// Resolves when a list starts waiting.
    pub async fn requested(&self) {
        self.requested.notified().await;
    }

    /// Waits until the cache holds every change up to `revision`: `false` when the store does
    /// not report progress or `within` passed first (the caller reads the store instead).
    pub async fn wait_for(&self, revision: Revision, within: Duration) -> bool {
        if !self.known {
            return false;
        }
        let mut synced = self.synced.subscribe();
        if *synced.borrow() >= revision {
            return true;
        }
        self.wanted.fetch_max(revision, Ordering::AcqRel);
        self.requested.notify_one();
        matches!(
            tokio::time::timeout(within, synced.wait_for(|s| *s >= revision)).await,
            Ok(Ok(_))
        )
    }
}
