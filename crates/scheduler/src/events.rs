//! Events users debug scheduling with (`Scheduled`, `FailedScheduling`, `Preempted`), written
//! in the background: the scheduling loop never waits for an Event write, and when the apiserver
//! falls behind, events are dropped (counted) rather than slowing scheduling down — as
//! upstream's broadcaster does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;

/// The reporting controller name upstream's scheduler uses.
pub const REPORTER: &str = "default-scheduler";
/// How many events may wait to be written.
const BACKLOG: usize = 10_000;
/// How many writers run at once.
const WRITERS: usize = 4;

/// Queues events for background writing.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::Sender<(Event, ObjectReference)>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// Starts writers on `client`, reporting as `instance`.
    pub fn start(client: Client, instance: String) -> EventSink {
        let (tx, rx) = mpsc::channel::<(Event, ObjectReference)>(BACKLOG);
        let recorder = Recorder::new(
            client,
            Reporter {
                controller: REPORTER.into(),
                instance: Some(instance),
            },
        );
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..WRITERS {
            let rx = rx.clone();
            let recorder = recorder.clone();
            tokio::spawn(async move {
                loop {
                    let next = rx.lock().await.recv().await;
                    let Some((event, reference)) = next else {
                        return;
                    };
                    if let Err(e) = recorder.publish(&event, &reference).await {
                        tracing::debug!(error = %e, reason = %event.reason, "event not recorded");
                    }
                }
            });
        }
        EventSink {
            tx,
            dropped: Arc::default(),
        }
    }

    /// Queues an event about `regarding`.
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
        if self.tx.try_send((event, regarding)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many events were dropped because the backlog was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
