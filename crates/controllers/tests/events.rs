//! The shared background Event writer (`rkube_component::events`) against a real apiserver:
//! both wire shapes, and how each folds repeats into the Event already written.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Event, ObjectReference};
use k8s_openapi::api::events::v1::Event as EventV1;
use kube::api::Api;
use rkube_component::events::{EventApi, EventSink};

fn pod(name: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some("default".into()),
        name: Some(name.into()),
        uid: Some(format!("uid-{name}")),
        ..ObjectReference::default()
    }
}

/// A writer of `api` Events reporting as `tester` on `host-1`.
fn sink(c: &Cluster, api: EventApi) -> EventSink {
    EventSink::start(c.client.clone(), api, "tester", "host-1".into())
}

/// The Events about `name` once there are `n`, each waited for until `done` holds for it.
async fn events_about<K>(c: &Cluster, name: &str, n: usize, done: impl Fn(&K) -> bool) -> Vec<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(c.client.clone(), "default");
    eventually(Duration::from_secs(20), "the events", || {
        let api = api.clone();
        let done = &done;
        async move {
            let found: Vec<K> = api
                .list(&Default::default())
                .await
                .ok()?
                .items
                .into_iter()
                .filter(|e| {
                    e.meta()
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with(name))
                })
                .collect();
            (found.len() == n && found.iter().all(done)).then_some(found)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_v1_repeats_of_a_message_count_up_one_event() {
    let c = Cluster::start().await;
    let sink = sink(&c, EventApi::CoreV1);
    for count in 1..=3 {
        sink.record(pod("a"), false, "Pulled", "", "pulled the image".into());
        // One at a time: the writers run concurrently, and a repeat folds into the Event
        // only once the write before it is done.
        events_about::<Event>(&c, "a.", 1, |e| e.count == Some(count)).await;
    }
    sink.record(pod("a"), true, "Failed", "", "something else".into());
    let events = events_about::<Event>(&c, "a.", 2, |e| {
        e.reason.as_deref() != Some("Pulled") || e.count == Some(3)
    })
    .await;
    let pulled = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Pulled"))
        .unwrap();
    assert_eq!(pulled.message.as_deref(), Some("pulled the image"));
    assert_eq!(
        pulled.source.as_ref().unwrap().component.as_deref(),
        Some("tester")
    );
    assert_eq!(pulled.type_.as_deref(), Some("Normal"));
    let failed = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Failed"))
        .unwrap();
    assert_eq!(
        (failed.count, failed.type_.as_deref()),
        (Some(1), Some("Warning"))
    );
    assert_eq!(sink.dropped(), 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_v1_repeats_of_an_action_become_a_series() {
    let c = Cluster::start().await;
    let sink = sink(&c, EventApi::EventsV1);
    let failed = |note: &str| {
        sink.record(
            pod("b"),
            true,
            "FailedScheduling",
            "Scheduling",
            note.into(),
        )
    };
    failed("0/1 nodes");
    events_about::<EventV1>(&c, "b.", 1, |_| true).await;
    // The note is not part of what makes a repeat: a changed one still joins the series.
    failed("0/2 nodes");
    events_about::<EventV1>(&c, "b.", 1, |e| e.series.is_some()).await;
    failed("0/2 nodes");
    let events = events_about::<EventV1>(&c, "b.", 1, |e| {
        e.series.as_ref().is_some_and(|s| s.count == 3)
    })
    .await;
    let e = &events[0];
    assert_eq!(e.note.as_deref(), Some("0/1 nodes"));
    assert_eq!(e.reporting_controller.as_deref(), Some("tester"));
    assert_eq!(e.reporting_instance.as_deref(), Some("host-1"));
    // Another object: an Event of its own.
    sink.record(pod("c"), false, "Scheduled", "Binding", "assigned".into());
    let other = events_about::<EventV1>(&c, "c.", 1, |_| true).await;
    assert!(other[0].series.is_none());
    c.stop().await;
}
