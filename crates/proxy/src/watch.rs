//! Service and EndpointSlice reflectors. Events only mark the state dirty and wake the sync
//! loop (level-triggered: each sync re-reads the whole cache). EndpointSlice updates also
//! record their `endpoints.kubernetes.io/last-change-trigger-time` for the network
//! programming latency metric.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::Store;
use kube::runtime::watcher::Event;
use kube::runtime::{reflector, watcher};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// The annotation the EndpointSlice controller sets to when the change behind a slice update
/// happened.
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// Objects a proxy must ignore (as upstream: Services handled by another proxy, headless).
const PROXY_LABEL_SELECTOR: &str =
    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";

/// What the watchers share with the sync loop.
pub struct Shared {
    /// Wakes the sync loop.
    pub notify: Notify,
    /// The Service list has been received.
    pub services_synced: AtomicBool,
    /// The EndpointSlice list has been received.
    pub slices_synced: AtomicBool,
    /// Trigger times of slice changes not yet programmed.
    pub triggers: Mutex<Vec<SystemTime>>,
    last_trigger: Mutex<HashMap<(String, String), String>>,
    /// Metrics (change counters).
    pub metrics: Arc<Metrics>,
}

impl Shared {
    /// Fresh shared state.
    pub fn new(metrics: Arc<Metrics>) -> Shared {
        Shared {
            notify: Notify::new(),
            services_synced: AtomicBool::new(false),
            slices_synced: AtomicBool::new(false),
            triggers: Mutex::new(Vec::new()),
            last_trigger: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Both lists are in.
    pub fn initialized(&self) -> bool {
        self.services_synced.load(Ordering::Acquire) && self.slices_synced.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.metrics.queued();
        self.notify.notify_one();
    }

    fn record_trigger(&self, slice: &EndpointSlice) {
        let Some(value) = slice
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(TRIGGER_TIME_ANNOTATION))
        else {
            return;
        };
        let key = (
            slice.metadata.namespace.clone().unwrap_or_default(),
            slice.metadata.name.clone().unwrap_or_default(),
        );
        let mut last = self.last_trigger.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(&key) == Some(value) {
            return;
        }
        last.insert(key, value.clone());
        if let Ok(ts) = value.parse::<jiff::Timestamp>() {
            self.triggers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(SystemTime::from(ts));
        }
    }
}

/// Starts the Service reflector; its store.
pub fn services(client: kube::Client, shared: Arc<Shared>) -> (Store<Service>, JoinHandle<()>) {
    let (reader, writer) = reflector::store();
    let api: Api<Service> = Api::all(client);
    let stream = reflector(
        writer,
        watcher(api, watcher::Config::default().labels(PROXY_LABEL_SELECTOR)),
    )
    .default_backoff();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::InitDone) => {
                    shared.services_synced.store(true, Ordering::Release);
                    shared.changed();
                }
                Ok(Event::Apply(_) | Event::Delete(_)) => {
                    shared.metrics.service_changes.inc();
                    shared.metrics.service_changes_pending.inc();
                    shared.changed();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Service watch failed; retrying"),
            }
        }
    });
    (reader, task)
}

/// Starts the EndpointSlice reflector; its store.
pub fn slices(client: kube::Client, shared: Arc<Shared>) -> (Store<EndpointSlice>, JoinHandle<()>) {
    let (reader, writer) = reflector::store();
    let api: Api<EndpointSlice> = Api::all(client);
    let stream = reflector(
        writer,
        watcher(api, watcher::Config::default().labels(PROXY_LABEL_SELECTOR)),
    )
    .default_backoff();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::InitDone) => {
                    shared.slices_synced.store(true, Ordering::Release);
                    shared.changed();
                }
                Ok(Event::InitApply(s)) => {
                    // Remember the trigger time so a relist does not count it again.
                    let _ = shared.last_trigger.lock().map(|mut m| {
                        if let Some(v) = s
                            .metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(TRIGGER_TIME_ANNOTATION))
                        {
                            m.insert(
                                (
                                    s.metadata.namespace.clone().unwrap_or_default(),
                                    s.metadata.name.clone().unwrap_or_default(),
                                ),
                                v.clone(),
                            );
                        }
                    });
                }
                Ok(Event::Apply(s)) => {
                    if shared.slices_synced.load(Ordering::Acquire) {
                        shared.record_trigger(&s);
                    }
                    shared.metrics.endpoint_changes.inc();
                    shared.metrics.endpoint_changes_pending.inc();
                    shared.changed();
                }
                Ok(Event::Delete(s)) => {
                    let _ = shared.last_trigger.lock().map(|mut m| {
                        m.remove(&(
                            s.metadata.namespace.clone().unwrap_or_default(),
                            s.metadata.name.clone().unwrap_or_default(),
                        ))
                    });
                    shared.metrics.endpoint_changes.inc();
                    shared.metrics.endpoint_changes_pending.inc();
                    shared.changed();
                }
                Ok(Event::Init) => {}
                Err(e) => tracing::warn!(error = %e, "EndpointSlice watch failed; retrying"),
            }
        }
    });
    (reader, task)
}
