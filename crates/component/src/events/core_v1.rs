//! `core/v1` Events as client-go's `record.EventRecorder` writes them: one Event per distinct
//! message about an object, and a repeat patches its `count` and `lastTimestamp`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};

use super::{Item, Writer, event_name, patch_event};

/// What identifies "the same event" (client-go's correlator key, without the
/// similar-message aggregation).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    component: Arc<str>,
    uid: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    warning: bool,
    reason: String,
    message: String,
}

/// An event already written: its name and the count it has.
pub(super) type Seen = (String, i32);

pub(super) async fn write(writer: &Writer, item: &Item) -> Result<(), kube::Error> {
    let now = jiff::Timestamp::now();
    let r = &item.regarding;
    let namespace = r.namespace.clone().unwrap_or_else(|| "default".into());
    let api: Api<Event> = Api::namespaced(writer.client.clone(), &namespace);
    let key = Key {
        component: item.component.clone(),
        uid: r.uid.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        kind: r.kind.clone(),
        warning: item.warning,
        reason: item.reason.clone(),
        message: item.note.clone(),
    };
    let seen = &writer.core_seen;
    if let Some((name, count)) = seen.get(&key) {
        let patch = serde_json::json!({
            "count": count + 1,
            "lastTimestamp": Time(now),
        });
        if patch_event(&api, &name, &patch).await? {
            seen.insert(key, (name, count + 1));
            return Ok(());
        }
        seen.remove(&key);
    }
    let name = event_name(item, now);
    let event = Event {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        involved_object: r.clone(),
        reason: Some(item.reason.clone()),
        message: Some(item.note.clone()),
        type_: Some(item.type_name().into()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        source: Some(EventSource {
            component: Some(item.component.to_string()),
            host: None,
        }),
        reporting_component: Some(item.component.to_string()),
        reporting_instance: Some(writer.instance.to_string()),
        ..Event::default()
    };
    api.create(&PostParams::default(), &event).await?;
    seen.insert(key, (name, 1));
    Ok(())
}
