//! `events.k8s.io/v1` Events as client-go's `tools/events` broadcaster writes them: the first
//! occurrence is created; a repeat of the same action and reason about the same object, by
//! the same reporter, within [`SERIES_WINDOW`] of the last one patches the Event's `series`
//! (count and last observed time) instead of creating another.

use std::sync::Arc;

use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

use super::{Item, Writer, event_name, patch_event};

/// How long after its last occurrence a repeat still joins an event's series (upstream
/// finishes series that saw nothing for six minutes).
const SERIES_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(6);

/// What makes two events one series (upstream's event key; the note is not part of it).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    component: Arc<str>,
    warning: bool,
    action: String,
    reason: String,
    kind: Option<String>,
    api_version: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    uid: Option<String>,
    field_path: Option<String>,
}

/// An event already written: its name, how many times it happened, and when last.
#[derive(Clone)]
pub(super) struct Seen {
    name: String,
    count: i32,
    last: jiff::Timestamp,
}

pub(super) async fn write(writer: &Writer, item: &Item) -> Result<(), kube::Error> {
    let now = jiff::Timestamp::now();
    let r = &item.regarding;
    let namespace = r.namespace.as_deref().unwrap_or("default");
    let api: Api<Event> = Api::namespaced(writer.client.clone(), namespace);
    let key = Key {
        component: item.component.clone(),
        warning: item.warning,
        action: item.action.clone(),
        reason: item.reason.clone(),
        kind: r.kind.clone(),
        api_version: r.api_version.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
        uid: r.uid.clone(),
        field_path: r.field_path.clone(),
    };
    let seen = &writer.series_seen;
    if let Some(earlier) = seen
        .get(&key)
        .filter(|s| now.duration_since(s.last) < SERIES_WINDOW)
    {
        let count = earlier.count + 1;
        let patch = serde_json::json!({
            "series": EventSeries { count, last_observed_time: MicroTime(now) },
        });
        if patch_event(&api, &earlier.name, &patch).await? {
            let repeated = Seen {
                name: earlier.name,
                count,
                last: now,
            };
            seen.insert(key, repeated);
            return Ok(());
        }
        seen.remove(&key);
    }
    let name = event_name(item, now);
    let event = Event {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: r.namespace.clone(),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(now)),
        regarding: Some(r.clone()),
        action: Some(item.action.clone()),
        reason: Some(item.reason.clone()),
        note: Some(item.note.clone()),
        type_: Some(item.type_name().into()),
        reporting_controller: Some(item.component.to_string()),
        reporting_instance: Some(writer.instance.to_string()),
        ..Event::default()
    };
    api.create(&PostParams::default(), &event).await?;
    seen.insert(
        key,
        Seen {
            name,
            count: 1,
            last: now,
        },
    );
    Ok(())
}
