//! The kubelet's memory of the runtime (upstream's pod cache): the latest state of each pod as
//! the PLEG's relist or a sync last read it, so that a sync woken by the PLEG, a probe or its
//! timer starts from the relist it shares instead of reading the runtime again.
//!
//! A cached state is used only when it was read after this kubelet last changed the pod in
//! the runtime ([`PodCache::changed`], called after every mutating CRI call): a state from
//! before the kubelet's own action would make the sync redo it. Changes the kubelet did not
//! make (a container exiting) are the PLEG's to notice, within one relist, as before.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::runtime_state::{self, Memo, PodRuntime};
use crate::cri::Cri;

/// Per-pod runtime states with the time each was read.
#[derive(Default)]
pub struct PodCache {
    inner: Mutex<Inner>,
    /// Details that reads reuse (shared by the relist and the syncs).
    pub(crate) memo: Mutex<Memo>,
}

#[derive(Default)]
struct Inner {
    /// A pod's state and when the read that produced it started.
    pods: HashMap<String, (PodRuntime, Instant)>,
    /// When the latest full relist started: a pod it did not find had nothing in the runtime.
    relisted_at: Option<Instant>,
    /// When this kubelet last changed each pod in the runtime.
    changed_at: HashMap<String, Instant>,
}

impl PodCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that the kubelet just changed pod `uid` in the runtime (after the call
    /// returned): cached states read before now are stale for it.
    pub fn changed(&self, uid: &str) {
        self.lock()
            .changed_at
            .insert(uid.to_string(), Instant::now());
    }

    /// The cached state of pod `uid` if it was read after the kubelet's last change to it.
    pub fn fresh(&self, uid: &str) -> Option<PodRuntime> {
        let inner = self.lock();
        let (rt, at) = match inner.pods.get(uid) {
            Some((rt, at)) => (rt.clone(), *at),
            // Not in the runtime at the last relist.
            None => (PodRuntime::default(), inner.relisted_at?),
        };
        match inner.changed_at.get(uid) {
            Some(changed) if at < *changed => None,
            _ => Some(rt),
        }
    }

    /// The state of pod `uid`: the cached one if fresh, else read from the runtime (and
    /// cached).
    pub async fn get(&self, cri: &Cri, uid: &str) -> Result<PodRuntime, tonic::Status> {
        if let Some(rt) = self.fresh(uid) {
            return Ok(rt);
        }
        self.read(cri, uid).await
    }

    /// Reads pod `uid`'s state from the runtime and caches it.
    pub async fn read(&self, cri: &Cri, uid: &str) -> Result<PodRuntime, tonic::Status> {
        let at = Instant::now();
        let mut listed = runtime_state::list(cri, Some(uid), &self.memo).await?;
        let rt = listed.pods.remove(uid).unwrap_or_default();
        let mut inner = self.lock();
        if inner.pods.get(uid).is_none_or(|(_, old)| *old <= at) {
            inner.pods.insert(uid.to_string(), (rt.clone(), at));
        }
        Ok(rt)
    }

    /// Takes a full relist that started at `at`: it replaces every older cached state (a pod
    /// it did not find has nothing in the runtime), and the details of instances that are
    /// gone are dropped.
    pub fn relisted(&self, pods: &HashMap<String, PodRuntime>, at: Instant) {
        let mut inner = self.lock();
        inner
            .pods
            .retain(|uid, (_, old)| *old > at || pods.contains_key(uid));
        for (uid, rt) in pods {
            if inner.pods.get(uid).is_none_or(|(_, old)| *old <= at) {
                inner.pods.insert(uid.clone(), (rt.clone(), at));
            }
        }
        inner.relisted_at = Some(at);
        let mut keep: HashSet<&str> = HashSet::new();
        for (rt, _) in inner.pods.values() {
            keep.extend(rt.sandboxes.iter().map(|s| s.id.as_str()));
            keep.extend(rt.containers.iter().map(|c| c.id.as_str()));
        }
        self.memo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(&keep);
    }

    /// Forgets pod `uid` (removed from the node).
    pub fn forget(&self, uid: &str) {
        let mut inner = self.lock();
        inner.pods.remove(uid);
        inner.changed_at.remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::runtime_state::Sandbox;

    fn with_sandbox(id: &str) -> PodRuntime {
        PodRuntime {
            sandboxes: vec![Sandbox {
                id: id.into(),
                attempt: 0,
                ready: true,
                created_at: 1,
                ip: None,
            }],
            containers: vec![],
        }
    }

    #[test]
    fn nothing_is_fresh_before_the_first_relist() {
        let c = PodCache::default();
        assert_eq!(c.fresh("a"), None);
    }

    #[test]
    fn a_relist_answers_for_pods_it_did_not_find() {
        let c = PodCache::default();
        let at = Instant::now();
        c.relisted(&HashMap::from([("a".into(), with_sandbox("s1"))]), at);
        assert_eq!(c.fresh("a"), Some(with_sandbox("s1")));
        assert_eq!(c.fresh("b"), Some(PodRuntime::default()));
    }

    #[test]
    fn a_state_read_before_the_kubelets_own_change_is_stale() {
        let c = PodCache::default();
        c.relisted(
            &HashMap::from([("a".into(), with_sandbox("s1"))]),
            Instant::now(),
        );
        c.changed("a");
        assert_eq!(c.fresh("a"), None, "read before the change");
        assert_eq!(
            c.fresh("b"),
            Some(PodRuntime::default()),
            "other pods unaffected"
        );
        c.relisted(
            &HashMap::from([("a".into(), with_sandbox("s2"))]),
            Instant::now(),
        );
        assert_eq!(
            c.fresh("a"),
            Some(with_sandbox("s2")),
            "a later relist is fresh"
        );
    }

    #[test]
    fn an_older_relist_does_not_replace_a_newer_read() {
        let c = PodCache::default();
        let old = Instant::now();
        let newer = old + std::time::Duration::from_millis(5);
        c.lock()
            .pods
            .insert("a".into(), (with_sandbox("new"), newer));
        c.relisted(&HashMap::new(), old);
        assert_eq!(c.fresh("a"), Some(with_sandbox("new")));
        c.relisted(&HashMap::new(), newer + std::time::Duration::from_millis(1));
        assert_eq!(
            c.fresh("a"),
            Some(PodRuntime::default()),
            "gone at the later relist"
        );
    }

    #[test]
    fn forgetting_a_pod_drops_its_state() {
        let c = PodCache::default();
        c.lock()
            .pods
            .insert("a".into(), (with_sandbox("s1"), Instant::now()));
        c.changed("a");
        c.forget("a");
        assert_eq!(c.fresh("a"), None);
    }
}
