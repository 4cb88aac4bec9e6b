//! Kubernetes Events the kubelet records about pods (`Pulled`, `Created`, `Started`, `Killing`,
//! `BackOff`, `Failed`, `FailedMount`, …), as core/v1 Events from component `kubelet`. A
//! repeat of the same event within a pod bumps the count of the existing one.
//!
//! Recording never waits for the apiserver: an event goes into a bounded queue that one
//! background writer drains (as upstream's event broadcaster), so a pod's start does not pay
//! for its events. When the queue is full the event is dropped, counted and logged: events are
//! best effort, a pod's sync is not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::sync::mpsc;

/// How many events may wait for the writer (upstream's broadcaster queues 1000).
pub const QUEUE: usize = 1000;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something went wrong.
    Warning,
}

/// Records Events for one node's kubelet.
pub struct Recorder {
    queue: Option<mpsc::Sender<Message>>,
    dropped: AtomicU64,
    /// Pods to forget that did not fit in the queue; the writer takes them before its next
    /// message, so a full queue cannot leak their dedupe entries.
    forgets: Arc<Mutex<Vec<String>>>,
}

/// (namespace, pod uid, field path, reason, message).
type EventKey = (String, String, String, String, String);

enum Message {
    Record(Box<Record>),
    Forget(String),
}

/// One event as recorded (its time is the recording's, not the write's).
struct Record {
    key: EventKey,
    pod_name: String,
    pod_resource_version: Option<String>,
    kind: EventType,
    at: Time,
}

impl Recorder {
    /// A recorder writing as the kubelet of `node`; its writer runs on the current tokio
    /// runtime until the recorder is dropped (without a runtime, events are only logged).
    pub fn new(client: Client, node: &str) -> Self {
        let forgets = Arc::new(Mutex::new(Vec::new()));
        let queue = match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let (tx, rx) = mpsc::channel(QUEUE);
                handle.spawn(write(client, node.to_string(), rx, forgets.clone()));
                Some(tx)
            }
            Err(_) => {
                tracing::warn!("no tokio runtime: events will not be recorded");
                None
            }
        };
        Self {
            queue,
            dropped: AtomicU64::new(0),
            forgets,
        }
    }

    /// Records an event about `pod` (optionally one of its containers) without waiting for
    /// the apiserver. Failures are logged, never returned: an event must not stop a sync.
    pub fn pod_event(
        &self,
        pod: &Pod,
        container: Option<&str>,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let field_path = container.map(|c| {
            let init = pod
                .spec
                .iter()
                .flat_map(|s| s.init_containers.iter().flatten())
                .any(|x| x.name == c);
            if init {
                format!("spec.initContainers{{{c}}}")
            } else {
                format!("spec.containers{{{c}}}")
            }
        });
        let record = Record {
            key: (
                ns,
                pod.metadata.uid.clone().unwrap_or_default(),
                field_path.unwrap_or_default(),
                reason.to_string(),
                message.to_string(),
            ),
            pod_name: pod.metadata.name.clone().unwrap_or_default(),
            pod_resource_version: pod.metadata.resource_version.clone(),
            kind,
            at: Time(jiff::Timestamp::now()),
        };
        let Some(queue) = &self.queue else { return };
        if queue.try_send(Message::Record(Box::new(record))).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // The first drop, then every hundredth: a flood of drops must not flood the log.
            if n == 1 || n.is_multiple_of(100) {
                tracing::warn!(dropped = n, reason, "event queue full; event dropped");
            }
        }
    }

    /// How many events were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Forgets the events of a pod that is gone (after the events already queued for it).
    pub fn forget_pod(&self, uid: &str) {
        let Some(queue) = &self.queue else { return };
        if queue.try_send(Message::Forget(uid.to_string())).is_err()
            && let Ok(mut f) = self.forgets.lock()
        {
            f.push(uid.to_string());
        }
    }
}

/// The writer: creates each event, or bumps the count of the same event recorded before.
async fn write(
    client: Client,
    node: String,
    mut rx: mpsc::Receiver<Message>,
    forgets: Arc<Mutex<Vec<String>>>,
) {
    // Event identity → (event name, count).
    let mut seen: HashMap<EventKey, (String, i32)> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        let late: Vec<String> = forgets
            .lock()
            .map(|mut f| std::mem::take(&mut *f))
            .unwrap_or_default();
        for uid in late {
            seen.retain(|k, _| k.1 != uid);
        }
        match msg {
            Message::Forget(uid) => seen.retain(|k, _| k.1 != uid),
            Message::Record(r) => write_one(&client, &node, &mut seen, *r).await,
        }
    }
}

async fn write_one(
    client: &Client,
    node: &str,
    seen: &mut HashMap<EventKey, (String, i32)>,
    r: Record,
) {
    let (ns, uid, field_path, reason, message) = r.key.clone();
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    if let Some((event_name, count)) = seen.get(&r.key).cloned() {
        let patch = serde_json::json!({"count": count + 1, "lastTimestamp": r.at});
        if api
            .patch(&event_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .is_ok()
        {
            seen.insert(r.key, (event_name, count + 1));
            return;
        }
    }
    let event_name = format!(
        "{}.{:x}",
        r.pod_name,
        jiff::Timestamp::now().as_nanosecond()
    );
    let event = Event {
        metadata: ObjectMeta {
            name: Some(event_name.clone()),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(r.pod_name),
            namespace: Some(ns),
            uid: Some(uid),
            field_path: (!field_path.is_empty()).then_some(field_path),
            resource_version: r.pod_resource_version,
        },
        reason: Some(reason.clone()),
        message: Some(message),
        type_: Some(match r.kind {
            EventType::Normal => "Normal".into(),
            EventType::Warning => "Warning".into(),
        }),
        source: Some(EventSource {
            component: Some("kubelet".into()),
            host: Some(node.to_string()),
        }),
        reporting_component: Some("kubelet".into()),
        reporting_instance: Some(node.to_string()),
        count: Some(1),
        first_timestamp: Some(r.at.clone()),
        last_timestamp: Some(r.at),
        ..Default::default()
    };
    match api.create(&PostParams::default(), &event).await {
        Ok(_) => {
            seen.insert(r.key, (event_name, 1));
        }
        Err(e) => tracing::debug!(error = %e, reason, "event not recorded"),
    }
}
