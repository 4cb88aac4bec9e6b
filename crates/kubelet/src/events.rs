//! Kubernetes Events the kubelet records about pods (`Pulled`, `Created`, `Started`, `Killing`,
//! `BackOff`, `Failed`, `FailedMount`, …), as core/v1 Events from component `kubelet`. A
//! repeat of the same event within a pod bumps the count of the existing one.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};

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
    client: Client,
    node: String,
    /// Event identity → (event name, count).
    seen: Mutex<HashMap<EventKey, (String, i32)>>,
}

/// (namespace, pod uid, field path, reason, message).
type EventKey = (String, String, String, String, String);

impl Recorder {
    /// A recorder writing as the kubelet of `node`.
    pub fn new(client: Client, node: &str) -> Self {
        Self {
            client,
            node: node.into(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records an event about `pod` (optionally one of its containers). Failures are logged,
    /// never returned: an event must not stop the pod's sync.
    pub async fn pod_event(
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
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
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
        let now = Time(jiff::Timestamp::now());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let key = (
            ns.clone(),
            uid.clone(),
            field_path.clone().unwrap_or_default(),
            reason.to_string(),
            message.to_string(),
        );
        let existing = self
            .seen
            .lock()
            .map(|m| m.get(&key).cloned())
            .unwrap_or(None);
        if let Some((event_name, count)) = existing {
            let patch = serde_json::json!({"count": count + 1, "lastTimestamp": now});
            if api
                .patch(&event_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                if let Ok(mut m) = self.seen.lock() {
                    m.insert(key, (event_name, count + 1));
                }
                return;
            }
        }
        let event_name = format!("{name}.{:x}", jiff::Timestamp::now().as_nanosecond());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(event_name.clone()),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(name),
                namespace: Some(ns),
                uid: Some(uid),
                field_path,
                resource_version: pod.metadata.resource_version.clone(),
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some(match kind {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some(self.node.clone()),
            }),
            reporting_component: Some("kubelet".into()),
            reporting_instance: Some(self.node.clone()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                if let Ok(mut m) = self.seen.lock() {
                    m.insert(key, (event_name, 1));
                }
            }
            Err(e) => tracing::debug!(error = %e, reason, "event not recorded"),
        }
    }

    /// Forgets the events of a pod that is gone.
    pub fn forget_pod(&self, uid: &str) {
        if let Ok(mut m) = self.seen.lock() {
            m.retain(|k, _| k.1 != uid);
        }
    }
}
