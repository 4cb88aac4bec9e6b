//! Expectations, as upstream's `UIDTrackingControllerExpectations`: what a controller is still
//! waiting to see in its cache after acting, so a stale cache never makes it create or delete
//! twice.
//!
//! Before creating N pods for a controller key the controller calls
//! [`Expectations::expect_creations`]; each pod-added event calls
//! [`Expectations::creation_observed`] (and a failed create calls it too: nothing will be
//! observed). Deletions are tracked by pod key, so a pod that is first marked for deletion and
//! then removed counts once. A key is [`Expectations::satisfied`] when nothing is pending, when
//! it was never set, or when the expectations are older than five minutes (a lost watch event
//! must not stall the controller forever). Time is tokio's clock (pausable in tests).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Upstream's `ExpectationsTimeout`.
pub const TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Record {
    adds: i64,
    deletes: HashSet<String>,
    set_at: Instant,
}

/// Pending creates and deletes per controller key (cheap to clone; shared state).
#[derive(Clone, Default, Debug)]
pub struct Expectations {
    records: Arc<Mutex<HashMap<String, Record>>>,
}

impl Expectations {
    /// No expectations.
    pub fn new() -> Expectations {
        Expectations::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `key` may act on its cache: nothing pending, never set, or expired.
    pub fn satisfied(&self, key: &str) -> bool {
        match self.lock().get(key) {
            None => true,
            Some(r) => (r.adds <= 0 && r.deletes.is_empty()) || r.set_at.elapsed() > TTL,
        }
    }

    /// Expects `n` creations for `key` (replacing what was pending).
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.lock().insert(
            key.into(),
            Record {
                adds: n as i64,
                deletes: HashSet::new(),
                set_at: Instant::now(),
            },
        );
    }

    /// Expects the deletion of each pod in `pods` (by `namespace/name`) for `key`.
    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        self.lock().insert(
            key.into(),
            Record {
                adds: 0,
                deletes: pods.into_iter().collect(),
                set_at: Instant::now(),
            },
        );
    }

    /// Expects `adds` creations and the deletion of each pod in `deletes` for `key` at once
    /// (upstream's `SetExpectations`, for a sync that both creates and deletes).
    pub fn expect(&self, key: &str, adds: usize, deletes: impl IntoIterator<Item = String>) {
        self.lock().insert(
            key.into(),
            Record {
                adds: adds as i64,
                deletes: deletes.into_iter().collect(),
                set_at: Instant::now(),
            },
        );
    }

    /// One expected creation happened (or will never happen).
    pub fn creation_observed(&self, key: &str) {
        if let Some(r) = self.lock().get_mut(key) {
            r.adds -= 1;
        }
    }

    /// `n` expected creations will never happen (their creates were skipped or failed).
    pub fn lower_creations(&self, key: &str, n: usize) {
        if let Some(r) = self.lock().get_mut(key) {
            r.adds -= n as i64;
        }
    }

    /// The deletion of `pod` (`namespace/name`) was seen, or will never happen.
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(r) = self.lock().get_mut(key) {
            r.deletes.remove(pod);
        }
    }

    /// Forgets `key` (its owner is gone).
    pub fn delete(&self, key: &str) {
        self.lock().remove(key);
    }

    /// (pending creations, pending deletions) for `key`, if set.
    pub fn pending(&self, key: &str) -> Option<(i64, usize)> {
        self.lock().get(key).map(|r| (r.adds, r.deletes.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_keys_are_satisfied() {
        assert!(Expectations::new().satisfied("ns/rs"));
    }

    #[test]
    fn creations_are_satisfied_once_all_are_observed() {
        let e = Expectations::new();
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));
    }

    #[test]
    fn a_deletion_counts_once_per_pod() {
        let e = Expectations::new();
        e.expect_deletions("ns/rs", ["ns/a".to_string(), "ns/b".to_string()]);
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/a");
        assert!(!e.satisfied("ns/rs"), "b is still pending");
        e.deletion_observed("ns/rs", "ns/b");
        assert!(e.satisfied("ns/rs"));
    }

    #[test]
    fn lowering_creations_satisfies() {
        let e = Expectations::new();
        e.expect_creations("ns/rs", 5);
        e.lower_creations("ns/rs", 5);
        assert!(e.satisfied("ns/rs"));
    }

    #[tokio::test(start_paused = true)]
    async fn expectations_expire_after_five_minutes() {
        let e = Expectations::new();
        e.expect_creations("ns/rs", 1);
        tokio::time::sleep(TTL - Duration::from_secs(1)).await;
        assert!(!e.satisfied("ns/rs"));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(e.satisfied("ns/rs"));
    }
}
