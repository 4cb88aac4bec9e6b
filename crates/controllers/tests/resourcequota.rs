//! The resource quota controller: `status.hard` mirrors `spec.hard`, and `status.used`
//! follows creates and deletes of pods (terminal pods no longer count) and of counted
//! objects, including a quota created after the objects and a hand-corrupted status.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ResourceQuota};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rkube_controllers::Context;
use serde_json::{Value, json};

fn pod(name: &str, cpu: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"cpu": cpu, "memory": "64Mi"}}}]}
    }))
    .unwrap()
}

/// Waits until the quota's `status.used` has `expected` (a JSON object of canonical strings).
async fn used_becomes(quotas: &Api<ResourceQuota>, name: &str, expected: Value) {
    eventually(
        Duration::from_secs(10),
        &format!("status.used of {name} to be {expected}"),
        || async {
            let q = quotas.get(name).await.ok()?;
            let v = serde_json::to_value(&q).ok()?;
            (v["status"]["used"] == expected).then_some(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_follows_creates_and_deletes() {
    let c = Cluster::start().await;
    let client = c.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let quotas: Api<ResourceQuota> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();

    // Objects that exist before the quota count as soon as the controller sees it.
    pods.create(&pp, &pod("early", "100m")).await.unwrap();
    let _controller = tokio::spawn(rkube_controllers::resourcequota::run(Context::new(
        client.clone(),
        "test".into(),
    )));
    let quota: ResourceQuota = serde_json::from_value(json!({
        "metadata": {"name": "q"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "4", "count/configmaps": "5"}}
    }))
    .unwrap();
    quotas.create(&pp, &quota).await.unwrap();
    used_becomes(
        &quotas,
        "q",
        json!({"count/configmaps": "0", "pods": "1", "requests.cpu": "100m"}),
    )
    .await;
    let q = quotas.get("q").await.unwrap();
    let hard = serde_json::to_value(q.status.unwrap().hard).unwrap();
    assert_eq!(
        hard,
        json!({"count/configmaps": "5", "pods": "10", "requests.cpu": "4"})
    );

    pods.create(&pp, &pod("late", "250m")).await.unwrap();
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "cm"}})).unwrap();
    cms.create(&pp, &cm).await.unwrap();
    used_becomes(
        &quotas,
        "q",
        json!({"count/configmaps": "1", "pods": "2", "requests.cpu": "350m"}),
    )
    .await;

    // Deletes are given back by the controller (admission only charges).
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    pods.delete("early", &now).await.unwrap();
    cms.delete("cm", &DeleteParams::default()).await.unwrap();
    used_becomes(
        &quotas,
        "q",
        json!({"count/configmaps": "0", "pods": "1", "requests.cpu": "250m"}),
    )
    .await;

    // A terminal pod no longer uses its resources.
    pods.patch_status(
        "late",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
    )
    .await
    .unwrap();
    used_becomes(
        &quotas,
        "q",
        json!({"count/configmaps": "0", "pods": "0", "requests.cpu": "0"}),
    )
    .await;

    // A hand-edited status is put right; a dropped limit leaves status.hard and used.
    quotas
        .patch_status(
            "q",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"used": {"pods": "7"}}})),
        )
        .await
        .unwrap();
    quotas
        .patch(
            "q",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"hard": {"count/configmaps": null}}})),
        )
        .await
        .unwrap();
    used_becomes(&quotas, "q", json!({"pods": "0", "requests.cpu": "0"})).await;
    c.stop().await;
}
