//! Server-side apply end to end: `kubectl apply --server-side` (create, change, drop a field,
//! conflicts and `--force-conflicts`), kube-rs `Patch::Apply`, and the `managedFields` that
//! creates, updates and applies record, against an in-process apiserver.

use crate::common;

use common::{Cluster, cluster};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn deployment_yaml(replicas: u32, extra_label: bool) -> String {
    let label = if extra_label { "\n    tier: front" } else { "" };
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web{label}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1
"
    )
}

async fn get_json(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
    serde_json::from_str(&c.ok(&all).await).unwrap()
}

fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .unwrap_or_else(|| panic!("no managedFields in {obj}"))
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .unwrap_or_else(|| panic!("no {operation} entry of {manager} in {obj}"))
}

/// Sends a raw request and returns (status code, JSON body).
async fn raw(c: &Cluster, req: http::Request<Vec<u8>>) -> (u16, Value) {
    let client = c.client().await;
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn kubectl_server_side_apply_creates_updates_and_removes_fields() {
    let c = cluster().await;
    let out = c
        .kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            Some(&deployment_yaml(1, true)),
        )
        .await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("deployment.apps/web serverside-applied"),
        "{}",
        out.stdout
    );
    let d = get_json(&c, &["deployment", "web"]).await;
    assert_eq!(d["metadata"]["labels"]["tier"], "front");
    let applied = entry(&d, "kubectl", "Apply");
    assert_eq!(applied["apiVersion"], "apps/v1");
    assert_eq!(applied["fieldsType"], "FieldsV1");
    assert_eq!(
        applied["fieldsV1"]["f:metadata"],
        json!({"f:labels": {"f:app": {}, "f:tier": {}}})
    );
    assert_eq!(
        applied["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"],
        json!({".": {}, "f:image": {}, "f:name": {}})
    );
    // Again with the label dropped and replicas changed: the label goes.
    let out = c
        .kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            Some(&deployment_yaml(2, false)),
        )
        .await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    let d = get_json(&c, &["deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web"}));
    let applied = entry(&d, "kubectl", "Apply");
    assert_eq!(
        applied["fieldsV1"]["f:metadata"],
        json!({"f:labels": {"f:app": {}}})
    );
    assert_eq!(d["metadata"]["managedFields"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn conflicts_list_the_fields_and_force_takes_them() {
    let c = cluster().await;
    c.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        Some(&deployment_yaml(1, false)),
    )
    .await;
    c.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":5},"metadata":{"labels":{"app":"other"}}}"#,
    ])
    .await;
    let out = c
        .kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            Some(&deployment_yaml(1, false)),
        )
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Apply failed with 2 conflicts: conflicts with \"kubectl-patch\" using apps/v1:\n- .metadata.labels.app\n- .spec.replicas"),
        "{}",
        out.stderr
    );
    // The Status lists each conflict as a cause.
    let body = serde_json::to_vec(&serde_yaml_body(&deployment_yaml(1, false))).unwrap();
    let req = http::Request::patch(
        "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=kubectl",
    )
    .header("Content-Type", "application/apply-patch+yaml")
    .body(body)
    .unwrap();
    let (code, status) = raw(&c, req).await;
    assert_eq!(code, 409);
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(
        status["details"]["causes"],
        json!([
            {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-patch\" using apps/v1", "field": ".metadata.labels.app"},
            {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-patch\" using apps/v1", "field": ".spec.replicas"},
        ])
    );
    let d = get_json(&c, &["deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 5, "a refused apply changes nothing");
    let out = c
        .kubectl_stdin(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(&deployment_yaml(1, false)),
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    let d = get_json(&c, &["deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(d["metadata"]["labels"]["app"], "web");
    // kubectl-patch owned nothing else: its entry is gone.
    assert!(
        d["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["manager"] != "kubectl-patch"),
        "{d}"
    );
}

fn serde_yaml_body(yaml: &str) -> Value {
    serde_saphyr::from_str(yaml).unwrap()
}

#[tokio::test]
async fn managed_fields_of_creates_and_updates() {
    let c = cluster().await;
    let api: Api<ConfigMap> = Api::namespaced(c.client().await, "default");
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "cm", "labels": {"a": "1"}}, "data": {"x": "1"}}))
    .unwrap();
    api.create(
        &PostParams {
            field_manager: Some("creator".into()),
            ..Default::default()
        },
        &cm,
    )
    .await
    .unwrap();
    api.patch(
        "cm",
        &PatchParams {
            field_manager: Some("editor".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"data": {"y": "2", "x": "1"}})),
    )
    .await
    .unwrap();
    let got = serde_json::to_value(api.get("cm").await.unwrap()).unwrap();
    let mut entries = got["metadata"]["managedFields"].as_array().unwrap().clone();
    for e in &mut entries {
        let time = e["time"].as_str().unwrap().to_string();
        assert!(time.ends_with('Z') && time.len() == 20, "{time}");
        e.as_object_mut().unwrap().remove("time");
    }
    assert_eq!(
        entries,
        [
            json!({"manager": "creator", "operation": "Update", "apiVersion": "v1",
                   "fieldsType": "FieldsV1",
                   "fieldsV1": {"f:data": {".": {}, "f:x": {}},
                                "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}}),
            json!({"manager": "editor", "operation": "Update", "apiVersion": "v1",
                   "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}}),
        ]
    );
    // Without ?fieldManager the manager comes from the User-Agent (kubectl's own name
    // for `label` is its --field-manager default).
    c.ok(&["label", "configmap", "cm", "b=2"]).await;
    let got = get_json(&c, &["configmap", "cm"]).await;
    assert_eq!(
        entry(&got, "kubectl-label", "Update")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:b": {}}}})
    );
    // An update sending `managedFields: []` clears them.
    let mut current = api.get("cm").await.unwrap();
    current.metadata.managed_fields = Some(vec![]);
    api.replace("cm", &PostParams::default(), &current)
        .await
        .unwrap();
    let got = api.get("cm").await.unwrap();
    assert_eq!(got.metadata.managed_fields, None);
}

#[tokio::test]
async fn kube_rs_apply_merges_containers_by_name_and_creates() {
    let c = cluster().await;
    let api: Api<Deployment> = Api::namespaced(c.client().await, "default");
    let base: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                 "template": {"metadata": {"labels": {"app": "a"}},
                              "spec": {"containers": [{"name": "main", "image": "nginx:1"}]}}}
    }))
    .unwrap();
    // The object does not exist: apply creates it.
    let created = api
        .patch("app", &PatchParams::apply("owner"), &Patch::Apply(&base))
        .await
        .unwrap();
    assert_eq!(created.spec.as_ref().unwrap().replicas, Some(1));
    let sidecar: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app"},
        "spec": {"selector": {"matchLabels": {"app": "a"}},
                 "template": {"spec": {"containers": [{"name": "side", "image": "busybox:1"}]}}}
    }))
    .unwrap();
    let merged = api
        .patch(
            "app",
            &PatchParams::apply("sidecar"),
            &Patch::Apply(&sidecar),
        )
        .await
        .unwrap();
    let names: Vec<String> = merged
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["main", "side"]);
    // Another manager's different replicas conflict; force takes them.
    let mut scaled = base.clone();
    scaled.spec.as_mut().unwrap().replicas = Some(3);
    let err = api
        .patch("app", &PatchParams::apply("scaler"), &Patch::Apply(&scaled))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409);
            assert!(s.message.starts_with("Apply failed with"), "{}", s.message);
            assert!(
                s.message.contains("conflict with \"owner\""),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    let forced = api
        .patch(
            "app",
            &PatchParams::apply("scaler").force(),
            &Patch::Apply(&scaled),
        )
        .await
        .unwrap();
    assert_eq!(forced.spec.unwrap().replicas, Some(3));
}

#[tokio::test]
async fn apply_requires_a_field_manager_and_valid_yaml() {
    let c = cluster().await;
    let url = "/api/v1/namespaces/default/configmaps/cm";
    let body =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#;
    let req = |query: &str, body: &[u8]| {
        http::Request::patch(format!("{url}{query}"))
            .header("Content-Type", "application/apply-patch+yaml")
            .body(body.to_vec())
            .unwrap()
    };
    let (code, status) = raw(&c, req("", body)).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    let (code, _) = raw(&c, req("?fieldManager=m", body)).await;
    assert_eq!(code, 201, "apply creates a missing object");
    let (code, status) = raw(&c, req("?fieldManager=m", b"data: [a: b\n  - :")).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    let (code, got) = raw(&c, http::Request::get(url).body(Vec::new()).unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(
        got["data"],
        json!({"a": "1"}),
        "a bad apply changes nothing"
    );
    // `force` belongs to apply only.
    let req = http::Request::patch(format!("{url}?force=true"))
        .header("Content-Type", "application/merge-patch+json")
        .body(br#"{"data":{"a":"2"}}"#.to_vec())
        .unwrap();
    let (code, status) = raw(&c, req).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );
}
