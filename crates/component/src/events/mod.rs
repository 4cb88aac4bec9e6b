//! Events users debug with, written in the background: the caller never waits for an Event
//! write, and when the apiserver falls behind, events are dropped (counted) rather than slowing
//! the component down — as upstream's broadcaster does.
//!
//! Two wire shapes, as upstream uses both:
//! - [`EventApi::EventsV1`] ([`events_v1`]): `events.k8s.io/v1` Events as client-go's
//!   `tools/events` broadcaster writes them (what upstream's scheduler uses): a repeat of the
//!   same action and reason about the same object within six minutes becomes a `series`.
//! - [`EventApi::CoreV1`] ([`core_v1`]): `core/v1` Events as client-go's `record.EventRecorder`
//!   writes them (what kube-controller-manager's controllers use): `source.component` is the
//!   reporter, one Event per distinct message, and a repeat of the same message patches `count`
//!   and `lastTimestamp` instead of creating another.
//!
//! One sink can report for several components: [`EventSink::for_component`] shares the writers
//! and the backlog but reports under another name (each controller has its own, e.g.
//! `replicaset-controller`).

mod core_v1;
mod events_v1;

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;
use tokio::sync::mpsc;

/// How many events may wait to be written.
const BACKLOG: usize = 10_000;
/// How many writers run at once.
const WRITERS: usize = 4;
/// How many distinct events the writers remember for aggregation (counts, series).
const CORRELATOR_SIZE: usize = 4096;

/// Which Event API the sink writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventApi {
    /// `events.k8s.io/v1` (reportingController / reportingInstance), as upstream's scheduler.
    EventsV1,
    /// `core/v1` (source.component / source.host), as upstream's controller manager.
    CoreV1,
}

/// One queued event.
struct Item {
    component: Arc<str>,
    regarding: ObjectReference,
    warning: bool,
    reason: String,
    /// Written by [`EventApi::EventsV1`] only.
    action: String,
    note: String,
}

impl Item {
    fn type_name(&self) -> &'static str {
        if self.warning { "Warning" } else { "Normal" }
    }
}

/// Queues events for background writing.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Item>,
    dropped: Arc<AtomicU64>,
    component: Arc<str>,
}

impl EventSink {
    /// Starts writers on `client`, reporting as `component` (reportingController /
    /// source.component) from `instance` (reportingInstance / source.host).
    pub fn start(client: Client, api: EventApi, component: &str, instance: String) -> EventSink {
        let (tx, rx) = mpsc::channel::<Item>(BACKLOG);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writer = Writer {
            client,
            api,
            instance: instance.into(),
            core_seen: Arc::default(),
            series_seen: Arc::default(),
        };
        for _ in 0..WRITERS {
            let rx = rx.clone();
            let writer = writer.clone();
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(item) = next else {
                        return;
                    };
                    if let Err(e) = writer.write(&item).await {
                        tracing::debug!(error = %e, reason = %item.reason, "event not recorded");
                    }
                }
            });
        }
        EventSink {
            tx,
            dropped: Arc::default(),
            component: component.into(),
        }
    }

    /// The same writers, reporting as `component`.
    pub fn for_component(&self, component: &str) -> EventSink {
        EventSink {
            tx: self.tx.clone(),
            dropped: self.dropped.clone(),
            component: component.into(),
        }
    }

    /// The component this handle reports as.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Queues an event about `regarding`. `action` is only written by [`EventApi::EventsV1`].
    pub fn record(
        &self,
        regarding: ObjectReference,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let item = Item {
            component: self.component.clone(),
            regarding,
            warning,
            reason: reason.into(),
            action: action.into(),
            note,
        };
        if self.tx.try_send(item).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many events were dropped because the backlog was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What the writers share: the client and what they remember of events already written.
#[derive(Clone)]
struct Writer {
    client: Client,
    api: EventApi,
    instance: Arc<str>,
    core_seen: Arc<Correlator<core_v1::Key, core_v1::Seen>>,
    series_seen: Arc<Correlator<events_v1::Key, events_v1::Seen>>,
}

impl Writer {
    async fn write(&self, item: &Item) -> Result<(), kube::Error> {
        match self.api {
            EventApi::EventsV1 => events_v1::write(self, item).await,
            EventApi::CoreV1 => core_v1::write(self, item).await,
        }
    }
}

/// Events already written, by what makes two events "the same": at most
/// [`CORRELATOR_SIZE`] of them, forgotten all at once when full (a forgotten event is written
/// anew, which is what a restarted component does too). Every operation is O(1): a lookup
/// per event must not grow with the number of events written.
struct Correlator<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Correlator<K, V> {
    fn default() -> Self {
        Correlator(Mutex::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> Correlator<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        self.0.lock().ok()?.get(key).cloned()
    }

    fn insert(&self, key: K, value: V) {
        if let Ok(mut seen) = self.0.lock() {
            if seen.len() >= CORRELATOR_SIZE && !seen.contains_key(&key) {
                seen.clear();
            }
            seen.insert(key, value);
        }
    }

    fn remove(&self, key: &K) {
        if let Ok(mut seen) = self.0.lock() {
            seen.remove(key);
        }
    }
}

/// Merge-patches the Event `name` (a repeat of one already written); `false` when it is gone
/// (its TTL ran out), and the caller writes a new one.
async fn patch_event<K>(api: &Api<K>, name: &str, patch: &Value) -> Result<bool, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// An Event's name as client-go makes it: the regarding object's name (else the reporter's)
/// and the time in nanoseconds, in hex.
fn event_name(item: &Item, now: jiff::Timestamp) -> String {
    format!(
        "{}.{:x}",
        item.regarding.name.as_deref().unwrap_or(&item.component),
        now.as_nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correlator_forgets_everything_when_full_and_keeps_updating_known_keys() {
        let c: Correlator<usize, usize> = Correlator::default();
        for i in 0..CORRELATOR_SIZE {
            c.insert(i, i);
        }
        // A known key is updated in place, even when full.
        c.insert(7, 70);
        assert_eq!(c.get(&7), Some(70));
        assert_eq!(c.get(&0), Some(0));
        // A new key when full: everything else is forgotten.
        c.insert(CORRELATOR_SIZE, 1);
        assert_eq!(c.get(&CORRELATOR_SIZE), Some(1));
        assert_eq!(c.get(&7), None);
        assert_eq!(c.0.lock().unwrap().len(), 1);
        c.remove(&CORRELATOR_SIZE);
        assert_eq!(c.get(&CORRELATOR_SIZE), None);
    }
}
