//! PATCH end to end: kube-rs's JSON and strategic merge patches, and the kubectl flows that
//! send them (`patch` of every type, `set image`, `label`/`annotate --overwrite`,
//! `rollout pause|resume|restart`, client-side `apply` twice, `edit`), against an in-process
//! apiserver. No deployment controller runs: the tests check the stored Deployment.

use crate::common;

use common::{Cluster, cluster};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::process::Stdio;

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1",
                     "env": [{"name": "A", "value": "1"}],
                     "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "busybox:1"}
                ]}
            }
        }
    })
}

async fn create(c: &Cluster, name: &str) -> Api<Deployment> {
    let api: Api<Deployment> = Api::namespaced(c.client().await, "default");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(deployment(name)).unwrap(),
    )
    .await
    .unwrap();
    api
}

/// The stored Deployment as JSON.
async fn get(api: &Api<Deployment>, name: &str) -> Value {
    serde_json::to_value(api.get(name).await.unwrap()).unwrap()
}

fn containers(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"]
}

fn status_of(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("not a Status: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_strategic_and_json_patches() {
    let c = cluster().await;
    let api = create(&c, "d").await;
    let pp = PatchParams::default();

    // Strategic: containers merge by name, env by name, ports by containerPort.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "web", "image": "nginx:2",
        "env": [{"name": "B", "value": "2"}],
        "ports": [{"containerPort": 80, "name": "http"}]
    }]}}}});
    api.patch("d", &pp, &Patch::Strategic(patch)).await.unwrap();
    let d = get(&api, "d").await;
    let web = &containers(&d)[0];
    assert_eq!(web["image"], "nginx:2");
    assert_eq!(
        web["env"],
        json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])
    );
    assert_eq!(web["ports"][0]["name"], "http");
    assert_eq!(web["ports"][0]["containerPort"], 80);
    assert_eq!(containers(&d)[1]["name"], "side");

    // Strategic `$patch: delete` removes one container.
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "side", "$patch": "delete"}]}}}});
    api.patch("d", &pp, &Patch::Strategic(patch)).await.unwrap();
    let d = get(&api, "d").await;
    assert_eq!(containers(&d).as_array().unwrap().len(), 1);

    // JSON patch: test, then add with an escaped key, then replace.
    let ops = json!([
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "add", "path": "/metadata/labels/example.com~1tier", "value": "front"},
        {"op": "replace", "path": "/spec/replicas", "value": 3}
    ]);
    let patched = api
        .patch(
            "d",
            &pp,
            &Patch::Json::<()>(serde_json::from_value(ops).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(
        patched.metadata.labels.as_ref().unwrap()["example.com/tier"],
        "front"
    );

    // A failing test: 422 with the reason, nothing changed.
    let before = get(&api, "d").await;
    let ops = json!([
        {"op": "replace", "path": "/spec/replicas", "value": 7},
        {"op": "test", "path": "/spec/replicas", "value": 1}
    ]);
    let err = api
        .patch(
            "d",
            &pp,
            &Patch::Json::<()>(serde_json::from_value(ops).unwrap()),
        )
        .await
        .unwrap_err();
    let (code, message) = status_of(err);
    assert_eq!(code, 422);
    assert!(
        message.contains("testing value /spec/replicas failed"),
        "{message}"
    );
    assert_eq!(get(&api, "d").await, before);

    // A strategic patch whose list item lacks the merge key: 422.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
    let (code, message) = status_of(
        api.patch("d", &pp, &Patch::Strategic(patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(
        message.contains("does not contain declared merge key: name"),
        "{message}"
    );

    // A patch making the object invalid: 422 from validation, nothing changed.
    let patch = json!({"spec": {"replicas": -1}});
    let (code, _) = status_of(
        api.patch("d", &pp, &Patch::Strategic(patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert_eq!(get(&api, "d").await, before);

    // Server-side apply is served (tests/server_side_apply.rs): an empty configuration
    // changes nothing and records the applier.
    let applied = api
        .patch(
            "d",
            &PatchParams::apply("test"),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment"})),
        )
        .await
        .unwrap();
    assert_eq!(
        applied.spec,
        serde_json::from_value(before["spec"].clone()).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_patches_and_status_subresource() {
    let c = cluster().await;
    let api = create(&c, "s").await;
    let pp = PatchParams::default();
    let client = c.client().await;
    let url = "/apis/apps/v1/namespaces/default/deployments/s";
    let send = |content_type: &'static str, body: String| {
        let client = client.clone();
        async move {
            let req = http::Request::patch(url)
                .header("Content-Type", content_type)
                .body(body.into_bytes())
                .unwrap();
            client.request::<Value>(req).await
        }
    };
    // Not a list of operations; not JSON; too many operations.
    let (code, _) = status_of(
        send("application/json-patch+json", r#"{"op":"add"}"#.into())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400);
    let (code, _) = status_of(
        send("application/strategic-merge-patch+json", "{".into())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400);
    let ops = vec![json!({"op": "test", "path": "/kind", "value": "Deployment"}); 10_001];
    let (code, _) = status_of(
        send("application/json-patch+json", Value::Array(ops).to_string())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 413);
    let (code, _) = status_of(
        send(
            "application/strategic-merge-patch+json",
            r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":"x"}}"#.into(),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 400);

    // The status subresource takes status (conditions merged by type) and ignores spec.
    let patch = json!({
        "spec": {"replicas": 5},
        "status": {"conditions": [{"type": "Available", "status": "True"}]}
    });
    api.patch_status("s", &pp, &Patch::Strategic(patch))
        .await
        .unwrap();
    let patch = json!({"status": {"conditions": [{"type": "Progressing", "status": "True"}]}});
    api.patch_status("s", &pp, &Patch::Strategic(patch))
        .await
        .unwrap();
    let d = get(&api, "s").await;
    assert_eq!(d["spec"]["replicas"], 1);
    let types: Vec<&str> = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Progressing", "Available"]);

    // The scale subresource takes strategic and JSON patches too.
    let req = http::Request::patch(format!("{url}/scale"))
        .header("Content-Type", "application/json-patch+json")
        .body(br#"[{"op":"replace","path":"/spec/replicas","value":4}]"#.to_vec())
        .unwrap();
    let scale: Value = client.request(req).await.unwrap();
    assert_eq!(scale["spec"]["replicas"], 4);
    assert_eq!(get(&api, "s").await["spec"]["replicas"], 4);
    let req = http::Request::patch(format!("{url}/scale"))
        .header("Content-Type", "application/strategic-merge-patch+json")
        .body(br#"{"spec":{"replicas":6}}"#.to_vec())
        .unwrap();
    let scale: Value = client.request(req).await.unwrap();
    assert_eq!(scale["spec"]["replicas"], 6);
    assert_eq!(get(&api, "s").await["spec"]["replicas"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_retry_instead_of_conflicting() {
    let c = cluster().await;
    let api = create(&c, "r").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let patch = json!({"metadata": {"labels": {format!("l{i}"): "x"}}});
            api.patch("r", &PatchParams::default(), &Patch::Strategic(patch))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let labels = &get(&api, "r").await["metadata"]["labels"];
    for i in 0..8 {
        assert_eq!(labels[format!("l{i}")], "x", "{labels}");
    }
    // A patch pinning a stale resourceVersion is a conflict.
    let patch = json!({"metadata": {"resourceVersion": "1", "labels": {"z": "z"}}});
    let (code, _) = status_of(
        api.patch("r", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_patch_set_label_annotate_rollout() {
    let c = cluster().await;
    let api = create(&c, "k").await;

    // kubectl patch: strategic by default, then JSON, then merge.
    c.ok(&[
        "patch",
        "deployment/k",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:2"}]}}}}"#,
    ])
    .await;
    let d = get(&api, "k").await;
    assert_eq!(containers(&d)[0]["image"], "nginx:1");
    assert_eq!(containers(&d)[1]["image"], "busybox:2");
    c.ok(&[
        "patch",
        "deployment/k",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
    ])
    .await;
    c.ok(&[
        "patch",
        "deployment/k",
        "--type=merge",
        "-p",
        r#"{"metadata":{"annotations":{"m":"1"}}}"#,
    ])
    .await;
    let d = get(&api, "k").await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["annotations"]["m"], "1");
    let bad = c
        .kubectl(&[
            "patch",
            "deployment/k",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/spec/nope"}]"#,
        ])
        .await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("nonexistent key"), "{}", bad.stderr);

    // set image, label and annotate --overwrite.
    c.ok(&["set", "image", "deployment/k", "web=nginx:3"]).await;
    c.ok(&["label", "deployment/k", "app=changed", "--overwrite"])
        .await;
    c.ok(&["label", "deployment/k", "extra=1"]).await;
    c.ok(&["annotate", "deployment/k", "m=2", "--overwrite"])
        .await;
    let d = get(&api, "k").await;
    assert_eq!(containers(&d)[0]["image"], "nginx:3");
    assert_eq!(containers(&d)[1]["image"], "busybox:2");
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "changed", "extra": "1"})
    );
    assert_eq!(d["metadata"]["annotations"]["m"], "2");
    c.ok(&["label", "deployment/k", "extra-"]).await;
    let d = get(&api, "k").await;
    assert_eq!(d["metadata"]["labels"], json!({"app": "changed"}));

    // rollout pause, resume, restart.
    c.ok(&["rollout", "pause", "deployment/k"]).await;
    assert_eq!(get(&api, "k").await["spec"]["paused"], true);
    c.ok(&["rollout", "resume", "deployment/k"]).await;
    let d = get(&api, "k").await;
    assert!(
        d["spec"]["paused"].is_null() || d["spec"]["paused"] == false,
        "{d}"
    );
    c.ok(&["rollout", "restart", "deployment/k"]).await;
    let d = get(&api, "k").await;
    let restarted =
        &d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(restarted.is_string(), "{d}");
}

const APPLY_1: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: a
  labels: {app: a, tier: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
      - name: web
        image: nginx:1
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
      - name: side
        image: busybox:1
      tolerations: [{key: k1, operator: Exists}]
"#;

const APPLY_2: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: a
  labels: {app: a}
spec:
  replicas: 2
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: a}}
    spec:
      containers:
      - name: web
        image: nginx:2
        env: [{name: B, value: "3"}]
      tolerations: [{key: k2, operator: Exists}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_twice_and_edit() {
    let c = cluster().await;
    let api: Api<Deployment> = Api::namespaced(c.client().await, "default");
    let out = c.kubectl_stdin(&["apply", "-f", "-"], Some(APPLY_1)).await;
    assert!(out.ok, "{}", out.stderr);
    // Another writer's change, which the second apply must keep.
    c.ok(&["annotate", "deployment/a", "owner=someone"]).await;
    let out = c.kubectl_stdin(&["apply", "-f", "-"], Some(APPLY_2)).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("configured"), "{}", out.stdout);
    let d = get(&api, "a").await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["labels"], json!({"app": "a"}));
    assert_eq!(d["metadata"]["annotations"]["owner"], "someone");
    let cs = containers(&d).as_array().unwrap();
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(cs[0]["image"], "nginx:2");
    assert_eq!(cs[0]["env"], json!([{"name": "B", "value": "3"}]));
    assert_eq!(
        d["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );
    // Applying the same again changes nothing.
    let out = c.kubectl_stdin(&["apply", "-f", "-"], Some(APPLY_2)).await;
    assert!(out.stdout.contains("unchanged"), "{}", out.stdout);

    // kubectl edit with a sed script as the editor sends a strategic merge patch.
    let mut cmd = tokio::process::Command::new("/usr/bin/kubectl");
    cmd.arg("--kubeconfig")
        .arg(&c.server.kubeconfig)
        .args(["edit", "deployment/a"])
        .env("HOME", c.dir.path())
        .env("KUBE_EDITOR", "sed -i -e s/nginx:2/nginx:9/")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = cmd.output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = get(&api, "a").await;
    assert_eq!(containers(&d)[0]["image"], "nginx:9");
    assert_eq!(d["spec"]["replicas"], 2);
}
