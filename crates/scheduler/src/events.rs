//! Events users debug scheduling with (`Scheduled`, `FailedScheduling`, `Preempted`), written
//! in the background by `rkube_component::events` as `events.k8s.io/v1` Events reported by
//! `default-scheduler`: the scheduling loop never waits for an Event write.

use std::ops::Deref;

use kube::Client;
use rkube_component::events::{EventApi, EventSink as Sink};

/// The reporting controller name upstream's scheduler uses.
pub const REPORTER: &str = "default-scheduler";

/// The scheduler's event sink (the shared background writer, reporting as [`REPORTER`]).
#[derive(Clone)]
pub struct EventSink(Sink);

impl EventSink {
    /// Starts writers on `client`, reporting as `instance`.
    pub fn start(client: Client, instance: String) -> EventSink {
        EventSink(Sink::start(client, EventApi::EventsV1, REPORTER, instance))
    }
}

impl Deref for EventSink {
    type Target = Sink;
    fn deref(&self) -> &Sink {
        &self.0
    }
}
