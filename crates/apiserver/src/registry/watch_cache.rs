//! The watch cache's event side: one store watch per resource, however many clients watch
//! it. Each resource's recent changes are kept in a ring (as the store's bytes; each event is
//! decoded once, when first needed, and shared while it is among the newest
//! [`DECODED_WINDOW`] events — decoded objects are several times their bytes, so the ring
//! must not keep them all), and offered to the watchers they concern ([`watchers`]: by key
//! prefix, and by the value of an indexed field such as a pod's node), each through its own
//! bounded queue: a watcher that falls behind by more than the buffer is closed — its
//! client re-watches from the last revision it saw — and never slows the others or the
//! writers.
//!
//! A watch from a revision the ring no longer covers goes to the store directly (which
//! answers with the older events or 410 Gone when compacted), as before the cache.
//!
//! The cache also keeps every object of the resource (the store's bytes, as listed once when
//! the cache starts and then as the events change them), so a `resourceVersion=0` list —
//! what informers send first — is answered from memory as upstream's watch cache does. So is
//! a consistent list (no `resourceVersion`) without paging, once the cache has caught up with
//! the store's current revision ([`sync`]); when it cannot tell or does not catch up soon, the
//! store answers.

mod sync;
mod watchers;

pub use watchers::IndexFn;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rkube_store::{Revision, Store, StoreError, WatchEventKind, WatchProgress, WatchStream};
use tokio::sync::mpsc;

use super::watch_object::WatchObject;
use sync::CacheSync;
use watchers::Watchers;

use super::decode_at;

/// Events kept per resource for watchers that start a little in the past.
const RING_CAPACITY: usize = 20_000;

/// How far a watcher may fall behind the newest event before it is closed.
const WATCHER_BUFFER: usize = 16_384;

/// The newest events whose decoded objects are kept for the watchers still to see them;
/// older events drop theirs (a watcher that far behind decodes again, once for all).
const DECODED_WINDOW: usize = 2048;

/// How long a consistent list waits for the cache to catch up before reading the store
/// (upstream's watch cache waits up to 3 s too).
const CONSISTENT_READ_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

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
    /// A put's new object straight from its stored bytes, for the watchers that filter
    /// nothing (most informers): they need its JSON, not a decoded copy. Built and dropped
    /// as `decoded` is.
    stored: Mutex<Option<WatchObject>>,
}

/// The event's objects, decoded once.
pub struct Decoded {
    /// The object before the change (for a delete: with the delete's resourceVersion).
    pub old: Option<WatchObject>,
    /// The object after a put (an error message when the stored bytes are not JSON).
    pub new: Option<Result<WatchObject, String>>,
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
            stored: Mutex::new(None),
        }
    }

    /// For a put: the new object as stored (undecoded) and whether it replaced one — all a
    /// watcher without a filter needs. `None` for a delete, or bytes that are not JSON (the
    /// decoding path then reports them).
    pub fn stored_put(&self) -> Option<(WatchObject, bool)> {
        if self.kind != WatchEventKind::Put {
            return None;
        }
        let mut slot = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = WatchObject::from_stored(&self.value, self.revision).ok();
        }
        Some((slot.clone()?, self.prev.is_some()))
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
        *self.stored.lock().unwrap_or_else(|p| p.into_inner()) = None;
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
        Decoded {
            old: old.map(WatchObject::new),
            new: new.map(|n| n.map(WatchObject::new)),
        }
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
    /// Who receives the events; dropped (closing every watcher) when the store watch fails.
    /// Locked after `ring` when both are.
    watchers: Mutex<Option<Watchers>>,
    /// How far the cache is known to be current.
    sync: Arc<CacheSync>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl ResourceCache {
    fn failed(&self) -> bool {
        self.watchers.lock().map(|w| w.is_none()).unwrap_or(true)
    }

    fn watchers(&self) -> std::sync::MutexGuard<'_, Option<Watchers>> {
        self.watchers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every change up to `covered` has been applied: the objects are as of it.
    fn caught_up(&self, covered: Revision) {
        let mut ring = self.ring.write().unwrap_or_else(|p| p.into_inner());
        ring.revision = ring.revision.max(covered);
        drop(ring);
        self.sync.mark(covered);
    }

    /// The stored bytes and mod revision of the object at `key`, if there is one.
    fn object(&self, key: &str) -> Option<(Bytes, Revision)> {
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        ring.objects.get(key).cloned()
    }

    /// The stored bytes and mod revisions of the objects under `prefix`, and the revision
    /// they are as of.
    fn objects(&self, prefix: &str) -> (Vec<(Bytes, Revision)>, Revision) {
        let ring = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let items = ring
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (items, ring.revision)
    }
}

impl Drop for ResourceCache {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().ok().and_then(|mut t| t.take()) {
            t.abort();
        }
    }
}

/// One watcher of the cache: the events it asked to replay, then those offered to it live.
/// Its stream ends when it fell behind or the cache's store watch failed (the client
/// re-watches from the last revision it saw).
pub struct CacheWatch {
    replay: VecDeque<Arc<CachedEvent>>,
    rx: mpsc::Receiver<Arc<CachedEvent>>,
    /// Live events taken from `rx`, against the count queued (`sent`).
    received: u64,
    sent: Arc<AtomicU64>,
    cache: Arc<ResourceCache>,
    id: u64,
    /// The indexed field's value the watcher is filed under.
    value: Option<String>,
}

impl CacheWatch {
    /// The next event under the watcher's prefix (and index value, if any); `None` once the
    /// watch is over.
    pub async fn next(&mut self) -> Option<Arc<CachedEvent>> {
        if let Some(e) = self.replay.pop_front() {
            return Some(e);
        }
        let e = self.rx.recv().await?;
        self.received += 1;
        Some(e)
    }

    /// The cache's newest revision when the watcher has taken every event it was offered
    /// (so it has seen all that concerns it up to there), else `None`. A watcher filed
    /// under an index value is offered few events: its bookmarks must still advance, as
    /// upstream's do, or its client would resume from a revision long gone.
    pub fn up_to_date(&self) -> Option<Revision> {
        if !self.replay.is_empty() {
            return None;
        }
        // The feeder queues under the ring's write lock, after moving its revision on.
        let ring = self.cache.ring.read().unwrap_or_else(|p| p.into_inner());
        (self.sent.load(Ordering::Acquire) == self.received).then_some(ring.revision)
    }
}

impl Drop for CacheWatch {
    fn drop(&mut self) {
        if let Some(w) = self.cache.watchers().as_mut() {
            w.remove(self.id, self.value.as_deref());
        }
    }
}

/// The caches of every watched resource.
pub struct WatchCaches {
    store: Arc<dyn Store>,
    caches: Mutex<HashMap<String, Arc<ResourceCache>>>,
    ring_capacity: usize,
    watcher_buffer: usize,
    decoded_window: usize,
    consistent_reads: Family<ConsistentReadLabels, Counter>,
}

/// Labels of upstream's `apiserver_watch_cache_consistent_read_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsistentReadLabels {
    resource: String,
    /// Whether the cache answered (it did not when it failed or did not catch up in time).
    success: String,
    /// Whether the store answered because the cache did not catch up in time.
    fallback: String,
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
            consistent_reads: Family::default(),
        }
    }

    /// Adds the count of consistent reads (served from the cache or fallen back to the store)
    /// to `registry`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "apiserver_watch_cache_consistent_read",
            "Counter of consistent reads by resource, success, and whether the store answered instead of the watch cache",
            self.consistent_reads.clone(),
        );
    }

    fn count_consistent_read(&self, resource_prefix: &str, success: bool, fallback: bool) {
        let resource = resource_prefix
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        self.consistent_reads
            .get_or_create(&ConsistentReadLabels {
                resource: resource.to_owned(),
                success: success.to_string(),
                fallback: fallback.to_string(),
            })
            .inc();
    }

    /// The stored bytes and mod revision of `key` as `resource_prefix`'s cache holds them,
    /// when that cache is running: a first guess for a read-modify-write (upstream's cached
    /// existing object), which the write's revision check corrects if the cache is behind.
    /// Starts no cache.
    pub fn current(&self, resource_prefix: &str, key: &str) -> Option<(Bytes, Revision)> {
        let cache = self
            .caches
            .lock()
            .ok()?
            .get(resource_prefix)
            .filter(|c| !c.failed())
            .cloned()?;
        cache.object(key)
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
        let (events, progress) = self
            .store
            .watch_with_progress(resource_prefix, from)
            .await?;
        let sync = Arc::new(CacheSync::new(progress.is_known(), revision));
        let cache = Arc::new(ResourceCache {
            ring: RwLock::new(Ring {
                events: VecDeque::new(),
                complete_from: from,
                objects,
                revision,
            }),
            watchers: Mutex::new(Some(Watchers::new(self.watcher_buffer))),
            sync: Arc::clone(&sync),
            task: Mutex::new(None),
        });
        let mut map = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = map.get(resource_prefix).filter(|c| !c.failed()) {
            // Another request started one meanwhile: use it, drop ours.
            return Ok(existing.clone());
        }
        let weak = Arc::downgrade(&cache);
        let feeder = Feeder {
            cache: weak,
            sync,
            capacity: self.ring_capacity,
            decoded_window: self.decoded_window,
        };
        let task = tokio::spawn(feeder.run(events, progress));
        if let Ok(mut t) = cache.task.lock() {
            *t = Some(task);
        }
        map.insert(resource_prefix.to_owned(), cache.clone());
        Ok(cache)
    }

    /// How many watchers `resource_prefix`'s cache has.
    #[cfg(test)]
    fn watchers(&self, resource_prefix: &str) -> usize {
        let caches = self.caches.lock().unwrap();
        let cache = caches.get(resource_prefix).expect("a cache");
        cache.watchers().as_ref().map_or(0, Watchers::len)
    }

    /// The revision `resource_prefix`'s cache has reached.
    #[cfg(test)]
    fn revision(&self, resource_prefix: &str) -> Revision {
        let caches = self.caches.lock().unwrap();
        let cache = caches.get(resource_prefix).expect("a cache");
        cache.ring.read().unwrap().revision
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
        Ok(Some(cache.objects(prefix)))
    }

    /// [`WatchCaches::list`] as of `at_least` or later (the store's current revision, for a
    /// consistent list), once the cache has caught up with it; `None` when it cannot tell or
    /// does not catch up within [`CONSISTENT_READ_WAIT`].
    pub async fn list_consistent(
        &self,
        resource_prefix: &str,
        prefix: &str,
        at_least: Revision,
    ) -> Result<Option<(Vec<(Bytes, Revision)>, Revision)>, StoreError> {
        let Some(cache) = self
            .caught_up(resource_prefix, at_least)
            .await
            .inspect_err(|_| self.count_consistent_read(resource_prefix, false, false))?
        else {
            // The caller reads the store instead.
            self.count_consistent_read(resource_prefix, false, true);
            return Ok(None);
        };
        self.count_consistent_read(resource_prefix, true, false);
        Ok(Some(cache.objects(prefix)))
    }

    /// `resource_prefix`'s cache once it has applied everything up to `at_least`; `None`
    /// when it has failed or does not catch up within [`CONSISTENT_READ_WAIT`].
    async fn caught_up(
        &self,
        resource_prefix: &str,
        at_least: Revision,
    ) -> Result<Option<Arc<ResourceCache>>, StoreError> {
        let cache = self.cache(resource_prefix).await?;
        let current = !cache.failed()
            && cache.sync.wait_for(at_least, CONSISTENT_READ_WAIT).await
            && !cache.failed();
        Ok(current.then_some(cache))
    }

    /// `key` (inside `resource_prefix`) as of `at_least` or later, once the cache has caught
    /// up with it, as [`WatchCaches::list_consistent`] does for lists: `Some(None)` when it
    /// does not exist then; `None` when the cache cannot tell (the caller reads the store).
    #[allow(clippy::type_complexity)]
    pub async fn get_consistent(
        &self,
        resource_prefix: &str,
        key: &str,
        at_least: Revision,
    ) -> Result<Option<Option<(Bytes, Revision)>>, StoreError> {
        let cache = self.caught_up(resource_prefix, at_least).await?;
        Ok(cache.map(|c| c.object(key)))
    }

    /// Events under `prefix` (inside `resource_prefix`) from revision `from` on — only
    /// those whose object had or has the indexed field's value, when `index` names the
    /// field and the value —, or `None` when the cache no longer holds that far back (the
    /// caller asks the store).
    pub async fn watch(
        &self,
        resource_prefix: &str,
        prefix: &str,
        from: Revision,
        index: Option<(IndexFn, String)>,
    ) -> Result<Option<CacheWatch>, StoreError> {
        let cache = self.cache(resource_prefix).await?;
        let value = index.as_ref().map(|(_, v)| v.clone());
        let ring = cache.ring.read().unwrap_or_else(|p| p.into_inner());
        if from < ring.complete_from {
            return Ok(None);
        }
        // Registered under the ring's lock: the feeder appends and queues under its write
        // lock, so nothing falls between the replay and the live events.
        let Some(registration) = cache.watchers().as_mut().map(|w| w.add(prefix, index)) else {
            return Ok(None);
        };
        let replay = ring
            .events
            .iter()
            .filter(|e| e.revision >= from && e.key.starts_with(prefix))
            .cloned()
            .collect();
        drop(ring);
        Ok(Some(CacheWatch {
            replay,
            rx: registration.rx,
            received: 0,
            sent: registration.sent,
            cache,
            id: registration.id,
            value,
        }))
    }
}

/// Moves the store's events into the ring and out to the watchers until the store watch
/// ends or the cache is dropped; events older than the newest `decoded_window` drop their
/// decoded objects. Holds the cache weakly: dropping the cache ends it.
struct Feeder {
    cache: std::sync::Weak<ResourceCache>,
    sync: Arc<CacheSync>,
    capacity: usize,
    decoded_window: usize,
}

impl Feeder {
    async fn run(self, mut events: WatchStream, mut progress: WatchProgress) {
        let mut progress_alive = progress.is_known();
        loop {
            let next = if self.sync.behind() && progress_alive {
                // A consistent list waits: what the store watch had covered before the stream
                // ran dry is all applied once it is dry.
                let covered = progress.covered();
                match events.next().now_or_never() {
                    Some(next) => next,
                    None => {
                        match self.cache.upgrade() {
                            Some(cache) => cache.caught_up(covered),
                            None => return,
                        }
                        if self.sync.behind() {
                            // etcd tells its progress only when asked.
                            progress.request();
                        }
                        tokio::select! {
                            next = events.next() => next,
                            moved = progress.changed() => {
                                progress_alive = moved;
                                continue;
                            }
                            () = self.sync.requested() => continue,
                        }
                    }
                }
            } else {
                tokio::select! {
                    next = events.next() => next,
                    () = self.sync.requested() => continue,
                }
            };
            let Some(event) = next else { return };
            let revision = event.as_ref().map_or(0, |e| e.revision());
            if !self.apply(event) {
                return;
            }
            // Events come in revision order: every change of the resource up to this one is
            // in (what a list waiting through a steady stream of events needs).
            self.sync.mark(revision);
        }
    }

    /// Applies one item of the store watch; `false` when feeding is over.
    fn apply(&self, event: Result<rkube_store::WatchEvent, StoreError>) -> bool {
        let Some(cache) = self.cache.upgrade() else {
            return false;
        };
        let Ok(event) = event else {
            // The store watch failed: close every watcher (they re-watch) and start over
            // with the next watch request.
            let mut ring = cache.ring.write().unwrap_or_else(|p| p.into_inner());
            ring.events.clear();
            ring.objects.clear();
            ring.complete_from = Revision::MAX;
            cache.watchers().take();
            return false;
        };
        let event = Arc::new(CachedEvent::from_store(event));
        if cache.watchers().as_ref().is_some_and(Watchers::indexed) {
            // Decoded before the lock: the index needs the objects, readers need the ring.
            event.decoded();
        }
        let mut ring = cache.ring.write().unwrap_or_else(|p| p.into_inner());
        if ring.events.len() >= self.capacity
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
            .checked_sub(self.decoded_window + 1)
            .and_then(|i| ring.events.get(i))
        {
            leaving.drop_decoded();
        }
        if let Some(w) = cache.watchers().as_mut() {
            w.dispatch(&event);
        }
        true
    }
}

#[cfg(test)]
mod tests;
