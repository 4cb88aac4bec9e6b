//! The watch cache's event side: one store watch per resource, however many clients watch
//! it. Each resource's recent changes are kept in a ring (as the store's bytes; each event is
//! decoded once, when the first watcher needs it, and shared while it is among the newest
//! [`DECODED_WINDOW`] events — decoded objects are several times their bytes, so the ring
//! must not keep them all), and fanned out to watchers
//! through a bounded broadcast: a watcher that falls behind by more than the buffer is
//! closed — its client re-watches from the last revision it saw — and never slows the
//! others or the writers.
//!
//! A watch from a revision the ring no longer covers goes to the store directly (which
//! answers with the older events or 410 Gone when compacted), as before the cache.
//!
//! The cache also keeps every object of the resource (the store's bytes, as listed once when
//! the cache starts and then as the events change them), so a `resourceVersion=0` list —
//! what informers send first — is answered from memory as upstream's watch cache does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use rkube_store::{Revision, Store, StoreError, WatchEventKind};
use serde_json::Value;
use tokio::sync::broadcast;

use super::decode_at;

/// Events kept per resource for watchers that start a little in the past.
const RING_CAPACITY: usize = 20_000;

/// How far a watcher may fall behind the newest event before it is closed.
const WATCHER_BUFFER: usize = 16_384;

/// The newest events whose decoded objects are kept for the watchers still to see them;
/// older events drop theirs (a watcher that far behind decodes again, once for all).
const DECODED_WINDOW: usize = 2048;

/// One change of a resource, shared by every watcher.
pub struct CachedEvent {
    /// The revision of the change.
    pub revision: Revision,
    /// Put or delete.
    pub kind: WatchEventKind,
    /// The object's key.
    pub key: String,
    value: Bytes,
    prev: Option<(Bytes, Revision)>,
    /// The decoded objects, shared by the watchers that see the event; `None` until first
    /// needed, and again once the event leaves the decoded window.
    decoded: Mutex<Option<Arc<Decoded>>>,
}

/// The event's objects, decoded once.
pub struct Decoded {
    /// The object before the change (for a delete: with the delete's resourceVersion).
    pub old: Option<Value>,
    /// The object after a put (an error message when the stored bytes are not JSON).
    pub new: Option<Result<Value, String>>,
}

impl CachedEvent {
    fn from_store(e: rkube_store::WatchEvent) -> CachedEvent {
        CachedEvent {
            revision: e.revision(),
            kind: e.kind,
            key: e.kv.key,
            value: e.kv.value,
            prev: e.prev.map(|p| (p.value, p.mod_revision)),
            decoded: Mutex::new(None),
        }
    }

    /// The objects of the change, decoded on first use (or first use after they were
    /// dropped: whoever is that far behind shares one decoding again).
    pub fn decoded(&self) -> Arc<Decoded> {
        // Decoding under the lock: the watchers that would decode the same event meanwhile
        // wait for this one instead.
        let mut slot = self.decoded.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slot.get_or_insert_with(|| Arc::new(self.decode())))
    }

    /// Drops the decoded objects (the event left the decoded window).
    fn drop_decoded(&self) {
        *self.decoded.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether the decoded objects are held.
    #[cfg(test)]
    fn holds_decoded(&self) -> bool {
        self.decoded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn decode(&self) -> Decoded {
        let mut old = self
            .prev
            .as_ref()
            .and_then(|(bytes, rev)| decode_at(bytes, *rev).ok());
        let new = match self.kind {
            WatchEventKind::Put => {
                Some(decode_at(&self.value, self.revision).map_err(|e| e.to_string()))
            }
            WatchEventKind::Delete => {
                if let Some(o) = old.as_mut() {
                    super::meta::set_meta(
                        o,
                        "resourceVersion",
                        Some(self.revision.to_string().into()),
                    );
                }
                None
            }
        };
        Decoded { old, new }
    }
}

struct Ring {
    events: VecDeque<Arc<CachedEvent>>,
    /// Every event with a revision at or above this one is in `events`.
    complete_from: Revision,
    /// Every object of the resource as of `revision`: its bytes and mod revision.
    objects: BTreeMap<String, (Bytes, Revision)>,
    /// The revision the objects reflect.
    revision: Revision,
}

/// The cache of one resource.
struct ResourceCache {
    ring: RwLock<Ring>,
    /// Dropped (closing every watcher) when the store watch fails.
    live: Mutex<Option<broadcast::Sender<Arc<CachedEvent>>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ResourceCache {
    fn failed(&self) -> bool {
        self.live.lock().map(|l| l.is_none()).unwrap_or(true)
    }
}

impl Drop for ResourceCache {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().ok().and_then(|mut t| t.take()) {
            t.abort();
        }
    }
}

/// What a watch of the cache yields: shared events, or the store error that ended the
/// cache's own watch.
pub type CachedStream = BoxStream<'static, Result<Arc<CachedEvent>, StoreError>>;

/// The caches of every watched resource.
pub struct WatchCaches {
    store: Arc<dyn Store>,
    caches: Mutex<HashMap<String, Arc<ResourceCache>>>,
    ring_capacity: usize,
    watcher_buffer: usize,
    decoded_window: usize,
}

impl WatchCaches {
    /// No cache yet; each starts with the first watch of its resource.
    pub fn new(store: Arc<dyn Store>) -> WatchCaches {
        Self::with_limits(store, RING_CAPACITY, WATCHER_BUFFER)
    }

    /// With `ring_capacity` events kept per resource and watchers closed `watcher_buffer`
    /// events behind.
    pub fn with_limits(
        store: Arc<dyn Store>,
        ring_capacity: usize,
        watcher_buffer: usize,
    ) -> WatchCaches {
        WatchCaches {
            store,
            caches: Mutex::new(HashMap::new()),
            ring_capacity: ring_capacity.max(1),
            watcher_buffer: watcher_buffer.max(1),
            decoded_window: DECODED_WINDOW,
        }
    }

    /// Keeps the decoded objects of only the newest `events` events.
    pub fn with_decoded_window(mut self, events: usize) -> WatchCaches {
        self.decoded_window = events;
        self
    }

    /// How many resources have a cache (each one store watch).
    pub fn len(&self) -> usize {
        self.caches.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Whether no resource has a cache.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn cache(&self, resource_prefix: &str) -> Result<Arc<ResourceCache>, StoreError> {
        if let Some(c) = self
            .caches
            .lock()
            .ok()
            .and_then(|m| m.get(resource_prefix).cloned())
            .filter(|c| !c.failed())
        {
            return Ok(c);
        }
        // Everything as of one revision, then the changes after it.
        let mut objects = BTreeMap::new();
        let mut page = rkube_store::RangeRequest {
            prefix: resource_prefix.to_owned(),
            limit: 10_000,
            ..Default::default()
        };
        let revision = loop {
            let resp = self.store.range(page.clone()).await?;
            for kv in &resp.kvs {
                objects.insert(kv.key.clone(), (kv.value.clone(), kv.mod_revision));
            }
            match (resp.more, resp.kvs.last()) {
                (true, Some(last)) => {
                    page.start_after = Some(last.key.clone());
                    page.revision = resp.revision;
                }
                _ => break resp.revision,
            }
        };
        let from = revision + 1;
        let events = self.store.watch(resource_prefix, from).await?;
        let (live, _) = broadcast::channel(self.watcher_buffer);
        let cache = Arc::new(ResourceCache {
            ring: RwLock::new(Ring {
                events: VecDeque::new(),
                complete_from: from,
                objects,
                revision,
            }),
            live: Mutex::new(Some(live)),
            task: Mutex::new(None),
        });
        let mut map = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = map.get(resource_prefix).filter(|c| !c.failed()) {
            // Another request started one meanwhile: use it, drop ours.
            return Ok(existing.clone());
        }
        let weak = Arc::downgrade(&cache);
        let task = tokio::spawn(feed(weak, events, self.ring_capacity, self.decoded_window));
        if let Ok(mut t) = cache.task.lock() {
            *t = Some(task);
        }
        map.insert(resource_prefix.to_owned(), cache.clone());
        Ok(cache)
    }

    /// The stored bytes (with their mod revisions) of every object under `prefix` (inside
    /// `resource_prefix`) as of the cache's revision, which is returned too; `None` when the
    /// cache has failed (the caller reads the store).
    pub async fn list(
        &self,
        resource_prefix: &str,
        prefix: &str,
    ) -> Result<Option<(Vec<(Bytes, Revision)>, Revision)>, StoreError> {
        let cache = self.cache(resource_prefix).await?;
        if cache.failed() {
            return Ok(None);
        }
        let ring = cache.ring.read().unwrap_or_else(|p| p.into_inner());
        let items = ring
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok(Some((items, ring.revision)))
    }

    /// Events under `prefix` (inside `resource_prefix`) from revision `from` on, or `None`
    /// when the cache no longer holds that far back (the caller asks the store).
    pub async fn watch(
        &self,
        resource_prefix: &str,
        prefix: &str,
        from: Revision,
    ) -> Result<Option<CachedStream>, StoreError> {
        let cache = self.cache(resource_prefix).await?;
        let (replay, rx) = {
            let ring = cache.ring.read().unwrap_or_else(|p| p.into_inner());
            if from < ring.complete_from {
                return Ok(None);
            }
            let Some(rx) = cache
                .live
                .lock()
                .ok()
                .and_then(|l| l.as_ref().map(|s| s.subscribe()))
            else {
                return Ok(None);
            };
            let replay: Vec<Arc<CachedEvent>> = ring
                .events
                .iter()
                .filter(|e| e.revision >= from)
                .cloned()
                .collect();
            // Subscribed under the lock: the feeder appends and sends under the write lock,
            // so nothing falls between the replay and the live events.
            (replay, rx)
        };
        let prefix = prefix.to_owned();
        let keep = {
            let prefix = prefix.clone();
            move |e: &Arc<CachedEvent>| e.key.starts_with(&prefix)
        };
        let replay = futures::stream::iter(replay.into_iter().filter(keep.clone()).map(Ok));
        let live = futures::stream::unfold(rx_state(rx, cache), |mut st| async move {
            match st.rx.recv().await {
                Ok(e) => Some((Ok(e), st)),
                // Too slow: the watch ends; its client re-watches from what it saw.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::info!(missed = n, "closing a watcher that fell behind");
                    None
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .filter(move |e| std::future::ready(e.as_ref().map_or(true, &keep)));
        Ok(Some(replay.chain(live).boxed()))
    }
}

struct RxState {
    rx: broadcast::Receiver<Arc<CachedEvent>>,
    // Keeps the cache (and its store watch) alive while someone watches.
    _cache: Arc<ResourceCache>,
}

fn rx_state(rx: broadcast::Receiver<Arc<CachedEvent>>, cache: Arc<ResourceCache>) -> RxState {
    RxState { rx, _cache: cache }
}

/// Moves the store's events into the ring and out to the watchers until the store watch
/// ends or the cache is dropped; events older than the newest `decoded_window` drop their
/// decoded objects.
async fn feed(
    cache: std::sync::Weak<ResourceCache>,
    mut events: rkube_store::WatchStream,
    capacity: usize,
    decoded_window: usize,
) {
    while let Some(event) = events.next().await {
        let Some(cache) = cache.upgrade() else {
            return;
        };
        let Ok(event) = event else {
            // The store watch failed: close every watcher (they re-watch) and start over
            // with the next watch request.
            let mut ring = cache.ring.write().unwrap_or_else(|p| p.into_inner());
            ring.events.clear();
            ring.objects.clear();
            ring.complete_from = Revision::MAX;
            if let Ok(mut live) = cache.live.lock() {
                live.take();
            }
            return;
        };
        let event = Arc::new(CachedEvent::from_store(event));
        let mut ring = cache.ring.write().unwrap_or_else(|p| p.into_inner());
        if ring.events.len() >= capacity
            && let Some(old) = ring.events.pop_front()
        {
            ring.complete_from = old.revision + 1;
        }
        match event.kind {
            WatchEventKind::Put => {
                ring.objects
                    .insert(event.key.clone(), (event.value.clone(), event.revision));
            }
            WatchEventKind::Delete => {
                ring.objects.remove(&event.key);
            }
        }
        ring.revision = ring.revision.max(event.revision);
        ring.events.push_back(event.clone());
        if let Some(leaving) = ring
            .events
            .len()
            .checked_sub(decoded_window + 1)
            .and_then(|i| ring.events.get(i))
        {
            leaving.drop_decoded();
        }
        if let Ok(live) = cache.live.lock()
            && let Some(tx) = live.as_ref()
        {
            let _ = tx.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::registry::test_store as store;

    async fn put(store: &Arc<dyn Store>, key: &str) -> Revision {
        match store
            .create(key, Bytes::from_static(b"{\"metadata\":{}}"), None)
            .await
            .unwrap()
        {
            rkube_store::CreateOutcome::Created(rev) => rev,
            other => panic!("{other:?}"),
        }
    }

    async fn next_key(s: &mut CachedStream) -> String {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), s.next())
            .await
            .expect("an event")
            .expect("stream open")
            .unwrap();
        e.key.clone()
    }

    #[tokio::test]
    async fn watchers_of_one_resource_share_one_store_watch_and_see_their_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let caches = WatchCaches::new(store.clone());
        let from = store.current_revision().await.unwrap() + 1;
        let mut per_ns = Vec::new();
        for i in 0..50 {
            let prefix = format!("/registry/pods/ns{i}/");
            let s = caches
                .watch("/registry/pods/", &prefix, from)
                .await
                .unwrap()
                .expect("served by the cache");
            per_ns.push(s);
        }
        let mut all = caches
            .watch("/registry/pods/", "/registry/pods/", from)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(caches.len(), 1, "one store watch for 51 watchers");
        for i in (0..50).rev() {
            put(&store, &format!("/registry/pods/ns{i}/p")).await;
        }
        for (i, s) in per_ns.iter_mut().enumerate() {
            assert_eq!(next_key(s).await, format!("/registry/pods/ns{i}/p"));
        }
        for i in (0..50).rev() {
            assert_eq!(next_key(&mut all).await, format!("/registry/pods/ns{i}/p"));
        }
    }

    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_closed_and_the_others_keep_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let caches = WatchCaches::with_limits(store.clone(), 100, 8);
        let from = store.current_revision().await.unwrap() + 1;
        let mut slow = caches
            .watch("/registry/pods/", "/registry/pods/", from)
            .await
            .unwrap()
            .unwrap();
        let mut fast = caches
            .watch("/registry/pods/", "/registry/pods/", from)
            .await
            .unwrap()
            .unwrap();
        let reader = tokio::spawn(async move {
            let mut n = 0;
            while n < 40 {
                next_key(&mut fast).await;
                n += 1;
            }
            n
        });
        for i in 0..40 {
            put(&store, &format!("/registry/pods/default/p{i}")).await;
        }
        assert_eq!(reader.await.unwrap(), 40, "the fast watcher saw everything");
        // The slow one never read: it is closed rather than buffering without bound.
        let mut got = 0;
        while let Ok(Some(item)) =
            tokio::time::timeout(std::time::Duration::from_secs(2), slow.next()).await
        {
            item.unwrap();
            got += 1;
        }
        assert!(got < 40, "the slow watcher was cut off (got {got})");
        // Writers were never held up, and a new watcher is served.
        put(&store, "/registry/pods/default/after").await;
    }

    #[tokio::test]
    async fn lists_come_from_memory_and_follow_the_events() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        put(&store, "/registry/pods/a/before").await;
        put(&store, "/registry/pods/b/other").await;
        let caches = WatchCaches::new(store.clone());
        let (items, rev) = caches
            .list("/registry/pods/", "/registry/pods/a/")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(rev, store.current_revision().await.unwrap());
        // A watch from the list's revision sees what follows, and so does the next list.
        let mut w = caches
            .watch("/registry/pods/", "/registry/pods/a/", rev + 1)
            .await
            .unwrap()
            .unwrap();
        let added = put(&store, "/registry/pods/a/after").await;
        assert_eq!(next_key(&mut w).await, "/registry/pods/a/after");
        store.delete("/registry/pods/a/before", None).await.unwrap();
        assert_eq!(next_key(&mut w).await, "/registry/pods/a/before");
        let (items, rev) = caches
            .list("/registry/pods/", "/registry/pods/a/")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            items.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
            vec![added]
        );
        assert!(rev > added);
    }

    #[tokio::test]
    async fn a_watch_from_the_recent_past_is_replayed_and_an_older_one_goes_to_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let caches = WatchCaches::with_limits(store.clone(), 3, 100);
        let start = store.current_revision().await.unwrap() + 1;
        // The first watch starts the cache.
        let _keep = caches
            .watch("/registry/pods/", "/registry/pods/", start)
            .await
            .unwrap()
            .unwrap();
        let mut revs = Vec::new();
        for i in 0..5 {
            revs.push(put(&store, &format!("/registry/pods/default/p{i}")).await);
        }
        // Let the feeder take them in.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut replay = caches
            .watch("/registry/pods/", "/registry/pods/", revs[3])
            .await
            .unwrap()
            .expect("still in the ring");
        assert_eq!(next_key(&mut replay).await, "/registry/pods/default/p3");
        assert_eq!(next_key(&mut replay).await, "/registry/pods/default/p4");
        // Only the last three are kept: p0 must come from the store.
        assert!(
            caches
                .watch("/registry/pods/", "/registry/pods/", revs[0])
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn only_the_newest_events_keep_their_decoded_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let caches = WatchCaches::with_limits(store.clone(), 100, 100).with_decoded_window(3);
        let from = store.current_revision().await.unwrap() + 1;
        let mut w = caches
            .watch("/registry/pods/", "/registry/pods/", from)
            .await
            .unwrap()
            .unwrap();
        let mut seen = Vec::new();
        for i in 0..6 {
            put(&store, &format!("/registry/pods/default/p{i}")).await;
            let e = tokio::time::timeout(std::time::Duration::from_secs(5), w.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            // Every watcher decodes (and so the cache would keep) each event.
            assert!(e.decoded().new.as_ref().unwrap().is_ok());
            seen.push(e);
        }
        put(&store, "/registry/pods/default/last").await;
        w.next().await.unwrap().unwrap().decoded();
        let held: Vec<bool> = seen.iter().map(|e| e.holds_decoded()).collect();
        // p4, p5 and `last` are the newest three (the window); p0..p3 dropped theirs.
        assert_eq!(held, [false, false, false, false, true, true]);
        // One far behind decodes again, and the same objects come out.
        let again = seen[0].decoded();
        assert_eq!(
            again.new.as_ref().unwrap().as_ref().unwrap()["metadata"]["resourceVersion"],
            seen[0].revision.to_string()
        );
    }
}
