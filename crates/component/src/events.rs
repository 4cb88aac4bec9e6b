//! Events users debug with, written in the background: the caller never waits for an Event
//! write, and when the apiserver falls behind, events are dropped (counted) rather than slowing
//! the component down — as upstream's broadcaster does.
//!
//! Two wire shapes, as upstream uses both:
//! - [`EventApi::EventsV1`]: `events.k8s.io/v1` Events through kube-runtime's `Recorder`
//!   (series by reason), what upstream's scheduler writes.
//! - [`EventApi::CoreV1`]: `core/v1` Events as client-go's `record.EventRecorder` writes them
//!   (what kube-controller-manager's controllers use): `source.component` is the reporter, one
//!   Event per distinct message, and a repeat of the same message patches `count` and
//!   `lastTimestamp` instead of creating another.
//!
//! One sink can report for several components: [`EventSink::for_component`] shares the writers
//! and the backlog but reports under another name (each controller has its own, e.g.
//! `replicaset-controller`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event as CoreEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;

/// How many events may wait to be written.
const BACKLOG: usize = 10_000;
/// How many writers run at once.
const WRITERS: usize = 4;
/// How many distinct core/v1 events each writer remembers for count aggregation.
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
    event: Event,
    regarding: ObjectReference,
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
        let seen = Arc::new(Mutex::new(HashMap::new()));
        for _ in 0..WRITERS {
            let rx = rx.clone();
            let mut writer = Writer {
                client: client.clone(),
                api,
                instance: instance.clone(),
                recorders: HashMap::new(),
                seen: seen.clone(),
            };
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some(item) = next else {
                        return;
                    };
                    if let Err(e) = writer.write(&item).await {
                        tracing::debug!(error = %e, reason = %item.event.reason, "event not recorded");
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
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        let item = Item {
            component: self.component.clone(),
            event,
            regarding,
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

/// What identifies "the same event" for core/v1 aggregation (client-go's correlator key,
/// without the similar-message aggregation).
#[derive(Clone, PartialEq, Eq, Hash)]
struct CoreKey {
    component: Arc<str>,
    uid: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    warning: bool,
    reason: String,
    message: String,
}

/// One background writer's state.
struct Writer {
    client: Client,
    api: EventApi,
    instance: String,
    recorders: HashMap<Arc<str>, Recorder>,
    /// core/v1, shared by the writers: key → (event name, count written).
    seen: Arc<Mutex<HashMap<CoreKey, (String, i32)>>>,
}

impl Writer {
    async fn write(&mut self, item: &Item) -> Result<(), kube::Error> {
        match self.api {
            EventApi::EventsV1 => {
                let recorder = self
                    .recorders
                    .entry(item.component.clone())
                    .or_insert_with(|| {
                        Recorder::new(
                            self.client.clone(),
                            Reporter {
                                controller: item.component.to_string(),
                                instance: Some(self.instance.clone()),
                            },
                        )
                    });
                recorder.publish(&item.event, &item.regarding).await
            }
            EventApi::CoreV1 => self.write_core(item).await,
        }
    }

    async fn write_core(&mut self, item: &Item) -> Result<(), kube::Error> {
        let now = jiff::Timestamp::now();
        let r = &item.regarding;
        let namespace = r.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<CoreEvent> = Api::namespaced(self.client.clone(), &namespace);
        let warning = item.event.type_ == EventType::Warning;
        let message = item.event.note.clone().unwrap_or_default();
        let key = CoreKey {
            component: item.component.clone(),
            uid: r.uid.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            warning,
            reason: item.event.reason.clone(),
            message: message.clone(),
        };
        let known = self.seen.lock().ok().and_then(|s| s.get(&key).cloned());
        if let Some((name, count)) = known {
            let patch = serde_json::json!({
                "count": count + 1,
                "lastTimestamp": Time(now),
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    if let Ok(mut seen) = self.seen.lock() {
                        seen.insert(key, (name, count + 1));
                    }
                    return Ok(());
                }
                // Gone (TTL'd away): write a new one below.
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    if let Ok(mut seen) = self.seen.lock() {
                        seen.remove(&key);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            r.name.as_deref().unwrap_or(&item.component),
            now.as_nanosecond()
        );
        let event = CoreEvent {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: r.clone(),
            reason: Some(item.event.reason.clone()),
            message: Some(message),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            source: Some(EventSource {
                component: Some(item.component.to_string()),
                host: None,
            }),
            reporting_component: Some(item.component.to_string()),
            reporting_instance: Some(self.instance.clone()),
            ..CoreEvent::default()
        };
        api.create(&PostParams::default(), &event).await?;
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= CORRELATOR_SIZE {
                seen.clear();
            }
            seen.insert(key, (name, 1));
        }
        Ok(())
    }
}
