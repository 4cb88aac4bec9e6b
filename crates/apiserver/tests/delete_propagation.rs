//! The delete path as upstream's generic store: garbage-collection finalizers from
//! `propagationPolicy`, the deprecated `orphanDependents` and each kind's default policy;
//! changing the policy of an object already being deleted; DeleteOptions validation; an
//! update removing the last finalizer of a deleted object deletes it; pods' graceful
//! deletion only ever shortens.

use crate::common;

use http::Request;
use serde_json::{Value, json};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// (status, body, Warning headers).
async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value, Vec<String>) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        warnings,
    )
}

async fn call(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let (s, v, _) = send(client, method, path, body).await;
    (s, v)
}

async fn create(client: &kube::Client, path: &str, obj: Value) {
    let (code, out) = call(client, "POST", path, Some(&obj)).await;
    assert_eq!(code, 201, "{out}");
}

fn cm(name: &str, finalizers: &[&str]) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "finalizers": finalizers}})
}

fn finalizers(obj: &Value) -> Vec<String> {
    let mut f: Vec<String> = obj["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    f.sort();
    f
}

#[tokio::test]
async fn propagation_policy_sets_and_changes_gc_finalizers() {
    let c = common::cluster().await;
    let client = c.client().await;
    create(&client, CONFIGMAPS, cm("fg", &["example.com/hold"])).await;
    let path = format!("{CONFIGMAPS}/fg");

    // Foreground: marked, with the finalizer, not deleted.
    let opts =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"});
    let (code, out) = call(&client, "DELETE", &path, Some(&opts)).await;
    assert_eq!(code, 200, "{out}");
    assert!(out["metadata"]["deletionTimestamp"].is_string(), "{out}");
    assert_eq!(out["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(finalizers(&out), ["example.com/hold", "foregroundDeletion"]);
    let stamp = out["metadata"]["deletionTimestamp"].clone();

    // Deleted again with another policy: the finalizers follow it, the timestamp stays.
    let (code, out) = call(
        &client,
        "DELETE",
        &format!("{path}?propagationPolicy=Orphan"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(finalizers(&out), ["example.com/hold", "orphan"]);
    assert_eq!(out["metadata"]["deletionTimestamp"], stamp);
    // No policy: the existing finalizer stands.
    let (_, out) = call(&client, "DELETE", &path, None).await;
    assert_eq!(finalizers(&out), ["example.com/hold", "orphan"]);
    // Background: both GC finalizers go; the other keeps it.
    let (_, out) = call(
        &client,
        "DELETE",
        &format!("{path}?propagationPolicy=Background"),
        None,
    )
    .await;
    assert_eq!(finalizers(&out), ["example.com/hold"]);

    // The update that removes the last finalizer deletes it.
    let (code, mut obj) = call(&client, "GET", &path, None).await;
    assert_eq!(code, 200);
    obj["metadata"]["finalizers"] = json!([]);
    let (code, out) = call(&client, "PUT", &path, Some(&obj)).await;
    assert_eq!(code, 200, "{out}");
    let (code, _) = call(&client, "GET", &path, None).await;
    assert_eq!(code, 404, "the object went with its last finalizer");

    // A foreground-pending object deleted in the background goes at once.
    create(&client, CONFIGMAPS, cm("fg2", &[])).await;
    let path2 = format!("{CONFIGMAPS}/fg2");
    let (_, out) = call(
        &client,
        "DELETE",
        &format!("{path2}?propagationPolicy=Foreground"),
        None,
    )
    .await;
    assert_eq!(finalizers(&out), ["foregroundDeletion"]);
    let (code, _) = call(
        &client,
        "DELETE",
        &format!("{path2}?propagationPolicy=Background"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = call(&client, "GET", &path2, None).await;
    assert_eq!(code, 404);

    // The deprecated orphanDependents, in the body and in the query.
    create(&client, CONFIGMAPS, cm("old1", &[])).await;
    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1", "orphanDependents": true});
    let (_, out) = call(
        &client,
        "DELETE",
        &format!("{CONFIGMAPS}/old1"),
        Some(&opts),
    )
    .await;
    assert_eq!(finalizers(&out), ["orphan"]);
    let (_, out) = call(
        &client,
        "DELETE",
        &format!("{CONFIGMAPS}/old1?orphanDependents=false"),
        None,
    )
    .await;
    assert!(finalizers(&out).is_empty(), "{out}");
    let (code, _) = call(&client, "GET", &format!("{CONFIGMAPS}/old1"), None).await;
    assert_eq!(
        code, 404,
        "orphanDependents=false dropped the orphan finalizer: deleted"
    );
    c.server.shutdown().await;
}

#[tokio::test]
async fn delete_options_are_validated() {
    let c = common::cluster().await;
    let client = c.client().await;
    create(&client, CONFIGMAPS, cm("v", &[])).await;
    let path = format!("{CONFIGMAPS}/v");
    let both = json!({"kind": "DeleteOptions", "apiVersion": "v1", "orphanDependents": true, "propagationPolicy": "Orphan"});
    let (code, out) = call(&client, "DELETE", &path, Some(&both)).await;
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        out["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"
    );
    let (code, out) = call(
        &client,
        "DELETE",
        &format!("{path}?propagationPolicy=Sideways"),
        None,
    )
    .await;
    assert_eq!(code, 422, "{out}");
    assert_eq!(
        out["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    let (code, _) = call(&client, "GET", &path, None).await;
    assert_eq!(code, 200, "a refused delete changes nothing");
    c.server.shutdown().await;
}

#[tokio::test]
async fn kinds_default_policies() {
    let c = common::cluster().await;
    let client = c.client().await;
    let pod_template = json!({"metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Always"}});
    let mut job_template = pod_template.clone();
    job_template["spec"]["restartPolicy"] = "Never".into();
    // ReplicationController (v1): orphans by default.
    create(
        &client,
        "/api/v1/namespaces/default/replicationcontrollers",
        json!({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
        "spec": {"replicas": 1, "selector": {"app": "x"}, "template": pod_template}}),
    )
    .await;
    let (_, out, warnings) = send(
        &client,
        "DELETE",
        "/api/v1/namespaces/default/replicationcontrollers/rc",
        None,
    )
    .await;
    assert_eq!(finalizers(&out), ["orphan"], "{out}");
    assert!(warnings.is_empty(), "{warnings:?}");
    // Job (batch/v1): orphans by default, with upstream's warning.
    create(
        &client,
        "/apis/batch/v1/namespaces/default/jobs",
        json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
        "spec": {"template": job_template}}),
    )
    .await;
    let (code, out, warnings) = send(
        &client,
        "DELETE",
        "/apis/batch/v1/namespaces/default/jobs/j",
        None,
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(finalizers(&out), ["orphan"], "{out}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("child pods are preserved by default when jobs are deleted")),
        "{warnings:?}"
    );
    // ReplicaSet (apps/v1): deletes dependents in the background: gone at once.
    create(&client, "/apis/apps/v1/namespaces/default/replicasets", json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": pod_template}})).await;
    let (code, _) = call(
        &client,
        "DELETE",
        "/apis/apps/v1/namespaces/default/replicasets/rs",
        None,
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = call(
        &client,
        "GET",
        "/apis/apps/v1/namespaces/default/replicasets/rs",
        None,
    )
    .await;
    assert_eq!(code, 404);
    c.server.shutdown().await;
}

#[tokio::test]
async fn pod_grace_period_only_shortens() {
    let c = common::cluster().await;
    let client = c.client().await;
    let pods = "/api/v1/namespaces/default/pods";
    create(
        &client,
        pods,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "terminationGracePeriodSeconds": 60,
                 "containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .await;
    let path = format!("{pods}/p");
    let (_, out) = call(&client, "DELETE", &path, None).await;
    assert_eq!(out["metadata"]["deletionGracePeriodSeconds"], 60, "{out}");
    // Pending graceful deletion: a longer period or a new policy changes nothing.
    let (_, again) = call(
        &client,
        "DELETE",
        &format!("{path}?gracePeriodSeconds=90&propagationPolicy=Orphan"),
        None,
    )
    .await;
    assert_eq!(again["metadata"]["deletionGracePeriodSeconds"], 60);
    assert!(finalizers(&again).is_empty(), "{again}");
    let (_, shorter) = call(
        &client,
        "DELETE",
        &format!("{path}?gracePeriodSeconds=10"),
        None,
    )
    .await;
    assert_eq!(shorter["metadata"]["deletionGracePeriodSeconds"], 10);
    let before: jiff::Timestamp = out["metadata"]["deletionTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after: jiff::Timestamp = shorter["metadata"]["deletionTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        before.duration_since(after).as_secs(),
        50,
        "moved 50 s earlier"
    );
    let (code, _) = call(
        &client,
        "DELETE",
        &format!("{path}?gracePeriodSeconds=0"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = call(&client, "GET", &path, None).await;
    assert_eq!(code, 404);
    c.server.shutdown().await;
}
