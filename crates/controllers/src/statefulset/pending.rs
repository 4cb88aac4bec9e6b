//! Writes a StatefulSet's sync waits to see in the pod cache before acting again. Its pods
//! have fixed names, so instead of counting (as [`crate::expectations`]) each created or
//! deleted pod is remembered by name and checked against the cache: created once the cache has
//! it, deleted once the cache shows it terminating, gone, or replaced (another UID). A stale
//! cache therefore never makes the controller create a pod twice, delete twice, or skip the
//! wait for a pod it just made. Entries expire after upstream's five minutes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

use crate::expectations::TTL;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Wait {
    Created,
    Deleted { uid: Option<String> },
}

/// Per set key: pod name → what is awaited, since when.
type Waits = HashMap<String, HashMap<String, (Wait, Instant)>>;

/// Pending pod writes per set key (cheap to clone; shared).
#[derive(Clone, Default)]
pub struct Pending {
    inner: Arc<Mutex<Waits>>,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `key` created the pod `name`.
    pub fn created(&self, key: &str, name: &str) {
        self.lock()
            .entry(key.into())
            .or_default()
            .insert(name.into(), (Wait::Created, Instant::now()));
    }

    /// `key` deleted `pod`.
    pub fn deleted(&self, key: &str, pod: &Pod) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone();
        self.lock()
            .entry(key.into())
            .or_default()
            .insert(name, (Wait::Deleted { uid }, Instant::now()));
    }

    /// Forgets `key` (its set is gone).
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Whether the cache (`lookup` by pod name) reflects every write of `key`; entries it
    /// reflects, or that expired, are dropped.
    pub fn satisfied(&self, key: &str, lookup: impl Fn(&str) -> Option<Arc<Pod>>) -> bool {
        let mut all = self.lock();
        let Some(waits) = all.get_mut(key) else {
            return true;
        };
        waits.retain(|name, (wait, at)| {
            if at.elapsed() > TTL {
                return false;
            }
            let seen = lookup(name);
            let done = match wait {
                Wait::Created => seen.is_some(),
                Wait::Deleted { uid } => seen.is_none_or(|p| {
                    p.metadata.deletion_timestamp.is_some() || p.metadata.uid != *uid
                }),
            };
            !done
        });
        let ok = waits.is_empty();
        if ok {
            all.remove(key);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, uid: &str, deleting: bool) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(uid.into());
        if deleting {
            p.metadata.deletion_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()),
            );
        }
        Arc::new(p)
    }

    #[test]
    fn creations_wait_for_the_cache() {
        let p = Pending::default();
        assert!(p.satisfied("ns/web", |_| None));
        p.created("ns/web", "web-0");
        assert!(!p.satisfied("ns/web", |_| None));
        assert!(p.satisfied("ns/web", |_| Some(pod("web-0", "u", false))));
        assert!(p.satisfied("ns/web", |_| None), "observed once is enough");
    }

    #[test]
    fn deletions_wait_for_terminating_gone_or_replaced() {
        let p = Pending::default();
        let old = pod("web-1", "u1", false);
        p.deleted("ns/web", &old);
        assert!(!p.satisfied("ns/web", |_| Some(old.clone())));
        assert!(p.satisfied("ns/web", |_| Some(pod("web-1", "u1", true))));
        p.deleted("ns/web", &old);
        assert!(p.satisfied("ns/web", |_| Some(pod("web-1", "u2", false))));
        p.deleted("ns/web", &old);
        assert!(p.satisfied("ns/web", |_| None));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_expire() {
        let p = Pending::default();
        p.created("ns/web", "web-0");
        tokio::time::sleep(TTL + std::time::Duration::from_secs(1)).await;
        assert!(p.satisfied("ns/web", |_| None));
    }
}
