//! A LIST without `resourceVersion` reflects every write acknowledged before it, whether the
//! watch cache answers it (unpaged, once caught up with the store) or the store does (pages),
//! on the embedded store and on etcd: read-your-writes after creates, updates and deletes,
//! and a list revision no older than the newest write anywhere in the cluster.

use crate::common;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use rkube_store::etcd::{EtcdConfig, EtcdStore};
use serde_json::json;
use std::sync::Arc;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"round": "0"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("a pod")
}

fn rv(resource_version: &Option<String>) -> i64 {
    resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("a numeric resourceVersion")
}

/// Each write is seen by the list right after it; a write to another resource moves the
/// list's revision (the cache caught up with the whole store, not just its resource).
async fn read_your_writes(client: kube::Client) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // The first list starts the pods' cache; the rounds then run against it.
    pods.list(&ListParams::default()).await.expect("list");
    for round in 0..30 {
        let name = format!("p{round}");
        pods.create(&PostParams::default(), &pod(&name))
            .await
            .expect("create");
        let label = json!({"metadata": {"labels": {"round": round.to_string()}}});
        pods.patch(&name, &PatchParams::default(), &Patch::Merge(&label))
            .await
            .expect("patch");
        if round > 0 {
            pods.delete(
                &format!("p{}", round - 1),
                &DeleteParams::default().grace_period(0),
            )
            .await
            .expect("delete");
        }
        let cm = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(format!("cm{round}")),
                ..Default::default()
            },
            ..Default::default()
        };
        let written = configmaps
            .create(&PostParams::default(), &cm)
            .await
            .expect("create a configmap");

        let listed = pods.list(&ListParams::default()).await.expect("list");
        let names: Vec<_> = listed
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        assert_eq!(names, vec![name.clone()], "round {round}");
        assert_eq!(
            listed.items[0].metadata.labels.as_ref().unwrap()["round"],
            round.to_string(),
            "round {round}: the patched label"
        );
        assert!(
            rv(&listed.metadata.resource_version) >= rv(&written.metadata.resource_version),
            "round {round}: the list is as of the newest write or later"
        );
        let paged = pods
            .list(&ListParams::default().limit(1))
            .await
            .expect("page");
        assert_eq!(paged.items.len(), 1, "round {round}: from the store, paged");
    }
    // Every unpaged list was the cache's, none fell back to the store.
    let metrics = scrape(&client).await;
    let served = |fallback: bool| {
        series(
            &metrics,
            &format!(
                "apiserver_watch_cache_consistent_read_total{{resource=\"pods\",success=\"{}\",fallback=\"{fallback}\"}}",
                !fallback
            ),
        )
    };
    assert!(served(false) >= Some(31.0), "{metrics}");
    assert_eq!(served(true), None, "no fallbacks: {metrics}");
}

async fn scrape(client: &kube::Client) -> String {
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    client.request_text(req).await.expect("/metrics")
}

/// One series' value in a Prometheus text exposition.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_lists_read_your_writes_on_the_embedded_store() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    read_your_writes(client.clone()).await;
    // The embedded store's own timings are served beside the apiserver's.
    let metrics = scrape(&client).await;
    for name in [
        "rkube_store_commit_duration_seconds_count",
        "rkube_store_commit_batch_jobs_count",
    ] {
        assert!(series(&metrics, name) >= Some(90.0), "{name}: {metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_lists_read_your_writes_on_etcd() {
    let etcd = rkube_testkit::EtcdCluster::start(1)
        .await
        .expect("start etcd");
    let store = EtcdStore::connect(EtcdConfig::new(etcd.endpoints()))
        .await
        .expect("connect to etcd");
    let cluster = common::cluster_on(Arc::new(store)).await;
    read_your_writes(cluster.client().await).await;
}
