//! CustomResourceDefinitions end to end on an in-process apiserver: the CRD kind and its
//! validation, establishing and serving within a second, custom objects (CRUD, validation,
//! defaulting, pruning, subresources, printer columns, several versions), deletion with the
//! cleanup finalizer — driven by the real kubectl and kube-rs.

use crate::common;
use crate::common::raw::ok;

use http::Request;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One request; (200 for any success or the error code, body or error Status as JSON).
async fn call(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
    content_type: &str,
) -> (u16, Value) {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let reply = common::raw::send(client, method, path, content_type, bytes).await;
    let code = if (200..300).contains(&reply.code) {
        200
    } else {
        reply.code
    };
    (code, reply.body)
}

const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/// A namespaced `Widget` CRD in `group` with status and scale subresources and printer columns.
fn widget_crd(group: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Secret", "type": "string", "jsonPath": ".spec.secret", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["color"], "properties": {
                        "replicas": {"type": "integer", "minimum": 0, "default": 1},
                        "color": {"type": "string", "enum": ["red", "blue"]},
                        "secret": {"type": "string"},
                        "size": {"type": "string", "default": "M", "maxLength": 2},
                        "port": {"x-kubernetes-int-or-string": true},
                        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                    "status": {"type": "object", "properties": {
                        "replicas": {"type": "integer"}, "selector": {"type": "string"}}}}}}}]}
    })
}

/// Creates a CRD and waits until its resource answers; returns how long that took.
async fn establish(client: &kube::Client, crd: &Value) -> Duration {
    let group = crd["spec"]["group"].as_str().unwrap().to_string();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap().to_string();
    let version = crd["spec"]["versions"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    ok(client, "POST", CRDS, Some(crd)).await;
    let list = format!("/apis/{group}/{version}/{plural}");
    loop {
        let (code, _) = call(client, "GET", &list, None, "application/json").await;
        if code == 200 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{list} never served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn crd_lifecycle_with_kubectl() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    let crd = widget_crd("life.example.com");
    let yaml = serde_json::to_string(&crd).unwrap();
    let start = Instant::now();
    cluster
        .kubectl_stdin(&["create", "-f", "-"], Some(&yaml))
        .await;
    // Established and served within a second.
    let crd_path = format!("{CRDS}/widgets.life.example.com");
    let established = loop {
        let c = ok(&client, "GET", &crd_path, None).await;
        let est = c["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["type"] == "Established" && x["status"] == "True");
        if est {
            break c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "not established: {c}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(established["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(
        established["status"]["acceptedNames"]["listKind"],
        "WidgetList"
    );
    assert_eq!(established["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(established["metadata"]["generation"], 1);
    // Client-side apply of a CRD (a strategic merge patch) changes it.
    let mut more = crd.clone();
    more["spec"]["names"]["categories"] = json!(["gadgets"]);
    let out = cluster
        .kubectl_stdin(&["apply", "-f", "-"], Some(&more.to_string()))
        .await;
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let out = cluster
        .ok(&[
            "get",
            "crd",
            "widgets.life.example.com",
            "-o",
            "jsonpath={.spec.names.categories}",
        ])
        .await;
    assert_eq!(out, r#"["gadgets"]"#);
    let names = cluster.ok(&["get", "crd"]).await;
    assert!(names.contains("widgets.life.example.com"), "{names}");

    let cr = "apiVersion: life.example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  color: red\n  secret: s3\n";
    let out = cluster
        .kubectl_stdin(&["create", "-f", "-"], Some(cr))
        .await;
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    // Printer columns, the default-filled replicas, and the wide-only column.
    let table = cluster.ok(&["get", "widgets"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "REPLICAS", "COLOR", "AGE"], "{table}");
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["w1", "1", "red"], "{table}");
    let wide = cluster.ok(&["get", "wd", "-o", "wide"]).await;
    assert!(wide.lines().next().unwrap().contains("SECRET"), "{wide}");
    assert!(wide.contains("s3"), "{wide}");
    let got = cluster
        .ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.size}"])
        .await;
    assert_eq!(got, "M");

    let root = ok(&client, "GET", "/openapi/v3", None).await;
    assert!(
        root["paths"].get("apis/life.example.com/v1").is_some(),
        "{root}"
    );
    // Delete the CRD: its objects go, then it, then its endpoint.
    cluster
        .ok(&["delete", "crd", "widgets.life.example.com", "--wait=false"])
        .await;
    let start = Instant::now();
    loop {
        let (crd_code, crd_now) = call(&client, "GET", &crd_path, None, "application/json").await;
        let (list_code, _) = call(
            &client,
            "GET",
            "/apis/life.example.com/v1/widgets",
            None,
            "application/json",
        )
        .await;
        if crd_code == 404 && list_code == 404 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "CRD still there ({crd_code}/{list_code}): {crd_now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Discovery and OpenAPI forget it.
    let groups = ok(&client, "GET", "/apis", None).await;
    assert!(!groups.to_string().contains("life.example.com"), "{groups}");
    let root = ok(&client, "GET", "/openapi/v3", None).await;
    assert!(root["paths"].get("apis/life.example.com/v1").is_none());
    // Re-created, it starts empty: the objects were deleted, not just hidden.
    establish(&client, &widget_crd("life.example.com")).await;
    let list = ok(
        &client,
        "GET",
        "/apis/life.example.com/v1/namespaces/default/widgets",
        None,
    )
    .await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn invalid_crds_are_refused_with_upstreams_causes() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    let mut crd = widget_crd("bad.example.com");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("type");
    crd["metadata"]["name"] = "wrong.bad.example.com".into();
    let (code, status) = call(&client, "POST", CRDS, Some(&crd), "application/json").await;
    assert_eq!(code, 422, "{status}");
    let causes: Vec<String> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c["field"].as_str().unwrap(),
                c["message"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        causes.contains(&"spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields".to_string()),
        "{causes:#?}"
    );
    assert!(
        causes.contains(&"metadata.name: Invalid value: \"wrong.bad.example.com\": must be spec.names.plural+\".\"+spec.group".to_string()),
        "{causes:#?}"
    );
    // Two storage versions, none served.
    let mut crd = widget_crd("bad.example.com");
    let mut v2 = crd["spec"]["versions"][0].clone();
    v2["name"] = "v2".into();
    crd["spec"]["versions"].as_array_mut().unwrap().push(v2);
    for v in crd["spec"]["versions"].as_array_mut().unwrap() {
        v["served"] = false.into();
    }
    let (code, status) = call(&client, "POST", CRDS, Some(&crd), "application/json").await;
    assert_eq!(code, 422);
    let msg = status["message"].as_str().unwrap();
    assert!(
        msg.contains("must have exactly one version marked as storage version"),
        "{msg}"
    );
    assert!(
        msg.contains("must have at least one version marked as served"),
        "{msg}"
    );
    // kubectl shows the same.
    let mut crd = widget_crd("bad.example.com");
    crd["spec"]["scope"] = "Galaxy".into();
    let out = cluster
        .kubectl_stdin(&["create", "-f", "-"], Some(&crd.to_string()))
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("spec.scope: Unsupported value: \"Galaxy\""),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn custom_objects_are_validated_defaulted_and_pruned() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    let took = establish(&client, &widget_crd("val.example.com")).await;
    assert!(took < Duration::from_secs(1), "served after {took:?}");
    let base = "/apis/val.example.com/v1/namespaces/default/widgets";
    // Types, enums, bounds, required.
    let bad = json!({"apiVersion": "val.example.com/v1", "kind": "Widget", "metadata": {"name": "bad"},
        "spec": {"replicas": "three", "color": "pink", "size": "XXL"}});
    let (code, status) = call(&client, "POST", base, Some(&bad), "application/json").await;
    assert_eq!(code, 422, "{status}");
    let msg = status["message"].as_str().unwrap();
    for want in [
        "spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
        "spec.color: Unsupported value: \"pink\": supported values: \"red\", \"blue\"",
        "spec.size: Too long: may not be more than 2 bytes",
    ] {
        assert!(msg.contains(want), "{want} not in {msg}");
    }
    assert!(
        msg.starts_with("Widget.val.example.com \"bad\" is invalid"),
        "{msg}"
    );
    assert_eq!(status["details"]["group"], "val.example.com");
    let missing = json!({"apiVersion": "val.example.com/v1", "kind": "Widget", "metadata": {"name": "m"}, "spec": {}});
    let (code, status) = call(&client, "POST", base, Some(&missing), "application/json").await;
    assert_eq!(code, 422);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("spec.color: Required value")
    );
    let bad_name = json!({"apiVersion": "val.example.com/v1", "kind": "Widget", "metadata": {"name": "Bad_Name"}, "spec": {"color": "red"}});
    let (code, _) = call(&client, "POST", base, Some(&bad_name), "application/json").await;
    assert_eq!(code, 422);

    // Defaults and pruning; preserved unknown fields stay.
    let good = json!({"apiVersion": "val.example.com/v1", "kind": "Widget", "metadata": {"name": "good"},
        "spec": {"color": "blue", "port": "http", "unknown": 1, "extra": {"any": {"thing": true}}}, "junk": 1});
    let created = ok(&client, "POST", base, Some(&good)).await;
    assert_eq!(created["spec"]["replicas"], 1);
    assert_eq!(created["spec"]["size"], "M");
    assert_eq!(created["spec"].get("unknown"), None);
    assert_eq!(created.get("junk"), None);
    assert_eq!(created["spec"]["extra"]["any"]["thing"], true);
    assert_eq!(created["metadata"]["generation"], 1);
    // Strict field validation refuses unknown fields.
    let strict = json!({"apiVersion": "val.example.com/v1", "kind": "Widget", "metadata": {"name": "strict"},
        "spec": {"color": "red", "foo": 1}});
    let (code, status) = call(
        &client,
        "POST",
        &format!("{base}?fieldValidation=Strict"),
        Some(&strict),
        "application/json",
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("strict decoding error: unknown field \"spec.foo\""),
        "{status}"
    );
    // kubectl (which sends Strict) reports it too.
    let out = cluster
        .kubectl_stdin(&["create", "-f", "-"], Some(&strict.to_string()))
        .await;
    assert!(
        !out.ok && out.stderr.contains("unknown field \"spec.foo\""),
        "{}",
        out.stderr
    );

    // Merge patch, JSON patch; strategic merge patch is not for custom resources.
    let patched = ok(
        &client,
        "PATCH",
        &format!("{base}/good"),
        Some(&json!({"spec": {"replicas": 4}})),
    )
    .await;
    assert_eq!(patched["spec"]["replicas"], 4);
    assert_eq!(patched["metadata"]["generation"], 2);
    let (code, v) = call(
        &client,
        "PATCH",
        &format!("{base}/good"),
        Some(&json!([{"op": "replace", "path": "/spec/color", "value": "red"}])),
        "application/json-patch+json",
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["spec"]["color"], "red");
    let (code, v) = call(
        &client,
        "PATCH",
        &format!("{base}/good"),
        Some(&json!({"spec": {"replicas": 2}})),
        "application/strategic-merge-patch+json",
    )
    .await;
    assert_eq!(code, 415, "{v}");
    assert_eq!(v["reason"], "UnsupportedMediaType");
    // An invalid patch is refused as a create would be.
    let (code, _) = call(
        &client,
        "PATCH",
        &format!("{base}/good"),
        Some(&json!({"spec": {"replicas": -1}})),
        "application/merge-patch+json",
    )
    .await;
    assert_eq!(code, 422);

    // Selectors: labels and metadata.name.
    ok(
        &client,
        "PATCH",
        &format!("{base}/good"),
        Some(&json!({"metadata": {"labels": {"tier": "x"}}})),
    )
    .await;
    let other = json!({"apiVersion": "val.example.com/v1", "kind": "Widget", "metadata": {"name": "other"}, "spec": {"color": "red"}});
    ok(&client, "POST", base, Some(&other)).await;
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(
            &ok(
                &client,
                "GET",
                &format!("{base}?labelSelector=tier%3Dx"),
                None
            )
            .await
        ),
        ["good"]
    );
    assert_eq!(
        names(
            &ok(
                &client,
                "GET",
                &format!("{base}?fieldSelector=metadata.name%3Dother"),
                None
            )
            .await
        ),
        ["other"]
    );
    // Deletecollection.
    ok(&client, "DELETE", base, None).await;
    assert_eq!(
        names(&ok(&client, "GET", base, None).await),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn status_and_scale_subresources() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    establish(&client, &widget_crd("sub.example.com")).await;
    let base = "/apis/sub.example.com/v1/namespaces/default/widgets";
    let w = json!({"apiVersion": "sub.example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"color": "red", "replicas": 2}, "status": {"replicas": 9}});
    let created = ok(&client, "POST", base, Some(&w)).await;
    assert_eq!(created.get("status"), None, "status is the subresource's");
    // The main resource ignores status; /status changes only status.
    let patched = ok(
        &client,
        "PATCH",
        &format!("{base}/w"),
        Some(&json!({"status": {"replicas": 5}})),
    )
    .await;
    assert_eq!(patched.get("status"), None);
    assert_eq!(patched["metadata"]["generation"], 1);
    let st = ok(
        &client,
        "PATCH",
        &format!("{base}/w/status"),
        Some(&json!({"spec": {"replicas": 7}, "status": {"replicas": 2, "selector": "app=w"}})),
    )
    .await;
    assert_eq!(st["status"]["replicas"], 2);
    assert_eq!(st["spec"]["replicas"], 2);
    assert_eq!(
        st["metadata"]["generation"], 1,
        "status writes keep the generation"
    );
    // Scale through the CRD's paths, with kubectl.
    let scale = ok(&client, "GET", &format!("{base}/w/scale"), None).await;
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=w");
    cluster.ok(&["scale", "widget", "w", "--replicas=5"]).await;
    // The CRD's schema is published: kubectl explain reads it.
    let explained = cluster.ok(&["explain", "widgets.spec"]).await;
    assert!(explained.contains("KIND:       Widget"), "{explained}");
    for field in ["color", "replicas", "extra"] {
        assert!(
            explained.contains(field),
            "{field} missing from {explained}"
        );
    }
    let now = ok(&client, "GET", &format!("{base}/w"), None).await;
    assert_eq!(now["spec"]["replicas"], 5);
    assert_eq!(now["metadata"]["generation"], 2);
}

#[tokio::test]
async fn two_versions_without_conversion() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    let mut crd = widget_crd("ver.example.com");
    let mut beta = crd["spec"]["versions"][0].clone();
    beta["name"] = "v1beta1".into();
    beta["storage"] = false.into();
    crd["spec"]["versions"].as_array_mut().unwrap().push(beta);
    establish(&client, &crd).await;
    let beta_path = "/apis/ver.example.com/v1beta1/namespaces/default/widgets";
    let w = json!({"apiVersion": "ver.example.com/v1beta1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"color": "red"}});
    let created = ok(&client, "POST", beta_path, Some(&w)).await;
    assert_eq!(created["apiVersion"], "ver.example.com/v1beta1");
    let v1 = ok(
        &client,
        "GET",
        "/apis/ver.example.com/v1/namespaces/default/widgets/w",
        None,
    )
    .await;
    assert_eq!(v1["apiVersion"], "ver.example.com/v1");
    let list = ok(&client, "GET", beta_path, None).await;
    assert_eq!(list["apiVersion"], "ver.example.com/v1beta1");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Discovery lists both, v1 preferred.
    let group = ok(&client, "GET", "/apis/ver.example.com", None).await;
    assert_eq!(group["preferredVersion"]["version"], "v1");
    assert_eq!(group["versions"].as_array().unwrap().len(), 2);
    let resources = ok(&client, "GET", "/apis/ver.example.com/v1beta1", None).await;
    let names: Vec<&str> = resources["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["widgets", "widgets/status", "widgets/scale"]);
    let crd = ok(
        &client,
        "GET",
        &format!("{CRDS}/widgets.ver.example.com"),
        None,
    )
    .await;
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    // kubectl finds the resource through (aggregated) discovery.
    let out = cluster
        .ok(&["get", "widgets.v1beta1.ver.example.com", "-o", "name"])
        .await;
    assert_eq!(out.trim(), "widget.ver.example.com/w");
}

#[tokio::test]
async fn kube_rs_dynamic_client_and_watch() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    establish(&client, &widget_crd("dyn.example.com")).await;
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("dyn.example.com", "v1", "Widget"),
        "widgets",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut obj = DynamicObject::new("k", &ar);
    obj.data = json!({"spec": {"color": "blue"}});
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(created.data["spec"]["replicas"], 1);
    let listed = api.list(&Default::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    // A watch sees a change.
    use futures::{StreamExt, TryStreamExt};
    let mut events = api
        .watch(
            &Default::default(),
            &listed.metadata.resource_version.clone().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    api.patch(
        "k",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match event {
        kube::core::WatchEvent::Modified(o) => assert_eq!(o.data["spec"]["replicas"], 3),
        other => panic!("unexpected {other:?}"),
    }
    api.delete("k", &Default::default()).await.unwrap();
    assert!(api.get_opt("k").await.unwrap().is_none());
}

#[tokio::test]
async fn apply_client_and_server_side_and_name_conflicts() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    establish(&client, &widget_crd("apply.example.com")).await;
    let cr = "apiVersion: apply.example.com/v1\nkind: Widget\nmetadata:\n  name: a\n  namespace: default\nspec:\n  color: red\n  replicas: 2\n";
    let out = cluster.kubectl_stdin(&["apply", "-f", "-"], Some(cr)).await;
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let out = cluster
        .kubectl_stdin(&["apply", "-f", "-"], Some(&cr.replace("red", "blue")))
        .await;
    assert!(
        out.ok && out.stdout.contains("configured"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let color = cluster
        .ok(&["get", "widget", "a", "-o", "jsonpath={.spec.color}"])
        .await;
    assert_eq!(color, "blue");
    // Server-side apply by two managers: a conflict, then forced.
    let ssa = "apiVersion: apply.example.com/v1\nkind: Widget\nmetadata:\n  name: s\n  namespace: default\nspec:\n  color: red\n  secret: one\n";
    let out = cluster
        .kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(ssa))
        .await;
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let other = ssa.replace("red", "blue");
    let out = cluster
        .kubectl_stdin(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(&other),
        )
        .await;
    assert!(
        !out.ok && out.stderr.contains("conflict"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = cluster
        .kubectl_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=other",
                "--force-conflicts",
                "-f",
                "-",
            ],
            Some(&other),
        )
        .await;
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let got = ok(
        &client,
        "GET",
        "/apis/apply.example.com/v1/namespaces/default/widgets/s",
        None,
    )
    .await;
    assert_eq!(got["spec"]["color"], "blue");
    assert_eq!(
        got["spec"]["replicas"], 1,
        "defaults apply to applied objects"
    );
    // Invalid applied objects are refused like any write.
    let out = cluster
        .kubectl_stdin(
            &["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(&ssa.replace("red", "pink")),
        )
        .await;
    assert!(
        !out.ok && out.stderr.contains("Unsupported value: \"pink\""),
        "{}",
        out.stderr
    );

    // A second CRD wanting the same kind in the group is not established.
    let mut rival = widget_crd("apply.example.com");
    rival["metadata"]["name"] = "gadgets.apply.example.com".into();
    rival["spec"]["names"] = json!({"plural": "gadgets", "singular": "gadget", "kind": "Widget"});
    ok(&client, "POST", CRDS, Some(&rival)).await;
    let start = Instant::now();
    let status = loop {
        let c = ok(
            &client,
            "GET",
            &format!("{CRDS}/gadgets.apply.example.com"),
            None,
        )
        .await;
        if c["status"]["conditions"].is_array() {
            break c["status"].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "no conditions: {c}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let cond = |t: &str| {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap()
    };
    assert_eq!(cond("NamesAccepted")["status"], "False");
    assert_eq!(cond("NamesAccepted")["reason"], "KindConflict");
    assert_eq!(cond("Established")["status"], "False");
    let (code, _) = call(
        &client,
        "GET",
        "/apis/apply.example.com/v1/gadgets",
        None,
        "application/json",
    )
    .await;
    assert_eq!(code, 404);
    // Protobuf is not offered for custom resources.
    let req = Request::builder()
        .method("GET")
        .uri("/apis/apply.example.com/v1/namespaces/default/widgets")
        .header("Accept", "application/vnd.kubernetes.protobuf")
        .body(Vec::new())
        .unwrap();
    match client.request_text(req).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 406, "{s:?}"),
        other => panic!("protobuf answered: {other:?}"),
    }
}

/// A kube-rs `#[derive(CustomResource)]` type, as operators define theirs.
mod gizmo {
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// The spec of a `Gizmo`.
    #[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
    #[kube(
        group = "derive.example.com",
        version = "v1",
        kind = "Gizmo",
        namespaced,
        status = "GizmoStatus",
        shortname = "gz",
        printcolumn = r#"{"name":"Size","type":"integer","jsonPath":".spec.size"}"#
    )]
    pub struct GizmoSpec {
        /// How big.
        pub size: i32,
        /// An optional label.
        pub label: Option<String>,
    }

    /// The status of a `Gizmo`.
    #[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema)]
    pub struct GizmoStatus {
        /// Whether it is ready.
        pub ready: bool,
    }
}

#[tokio::test]
async fn kube_rs_derived_custom_resource_end_to_end() {
    use gizmo::{Gizmo, GizmoSpec, GizmoStatus};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::CustomResourceExt;
    use kube::api::{Patch, PatchParams};
    use kube::runtime::wait::{await_condition, conditions};

    let cluster = common::cluster().await;
    let client = cluster.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = Gizmo::crd();
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    // As upstream starts it: nothing accepted yet, the storage version stored.
    let status = created.status.expect("a new CRD has a status");
    assert_eq!(status.stored_versions, Some(vec!["v1".to_string()]));
    assert_eq!(status.accepted_names.map(|n| n.plural), Some(String::new()));
    let established = await_condition(
        crds.clone(),
        "gizmos.derive.example.com",
        conditions::is_crd_established(),
    );
    tokio::time::timeout(Duration::from_secs(1), established)
        .await
        .expect("established within a second")
        .unwrap();

    let gizmos: Api<Gizmo> = Api::namespaced(client.clone(), "default");
    let g = Gizmo::new(
        "g1",
        GizmoSpec {
            size: 3,
            label: None,
        },
    );
    let created = gizmos.create(&PostParams::default(), &g).await.unwrap();
    assert_eq!(created.spec.size, 3);
    assert!(created.status.is_none());
    let status = json!({"status": GizmoStatus { ready: true }});
    let with_status = gizmos
        .patch_status("g1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert!(with_status.status.unwrap().ready);
    let applied = gizmos
        .patch(
            "g1",
            &PatchParams::apply("gizmo-test").force(),
            &Patch::Apply(
                json!({"apiVersion": "derive.example.com/v1", "kind": "Gizmo",
                "spec": {"size": 5, "label": "big"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(applied.spec.size, 5);
    assert_eq!(applied.spec.label.as_deref(), Some("big"));
    assert_eq!(
        gizmos.list(&Default::default()).await.unwrap().items.len(),
        1
    );
    // The schema kube-rs generated is enforced (size is an int32).
    let bad = json!({"apiVersion": "derive.example.com/v1", "kind": "Gizmo",
        "metadata": {"name": "bad"}, "spec": {"size": "huge"}});
    let (code, status) = call(
        &client,
        "POST",
        "/apis/derive.example.com/v1/namespaces/default/gizmos",
        Some(&bad),
        "application/json",
    )
    .await;
    assert_eq!(code, 422, "{status}");
    // kubectl sees it by its short name, with its printer column.
    let table = cluster.ok(&["get", "gz"]).await;
    assert!(table.lines().next().unwrap().contains("SIZE"), "{table}");
    assert!(table.contains("g1"), "{table}");
    gizmos.delete("g1", &Default::default()).await.unwrap();
    assert!(gizmos.get_opt("g1").await.unwrap().is_none());
}

#[tokio::test]
async fn schema_updates_and_terminating_crds() {
    let cluster = common::cluster().await;
    let client = cluster.client().await;
    let mut crd = widget_crd("term.example.com");
    establish(&client, &crd).await;
    let base = "/apis/term.example.com/v1/namespaces/default/widgets";
    // A schema change takes effect: a new field is kept instead of pruned.
    let path = format!("{CRDS}/widgets.term.example.com");
    let current = ok(&client, "GET", &path, None).await;
    crd["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["shape"] =
        json!({"type": "string"});
    let updated = ok(&client, "PUT", &path, Some(&crd)).await;
    assert_eq!(updated["metadata"]["generation"], 2);
    let obj = json!({"apiVersion": "term.example.com/v1", "kind": "Widget",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
        "spec": {"color": "red", "shape": "round"}});
    let start = Instant::now();
    let created = loop {
        let created = ok(&client, "POST", base, Some(&obj)).await;
        if created["spec"]["shape"] == "round" {
            break created;
        }
        ok(&client, "DELETE", &format!("{base}/held"), None).await;
        ok(
            &client,
            "PATCH",
            &format!("{base}/held"),
            Some(&json!({"metadata": {"finalizers": null}})),
        )
        .await;
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "schema change not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        created["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );
    // Deleting the CRD waits for its objects; meanwhile no new ones are taken.
    ok(&client, "DELETE", &path, None).await;
    let start = Instant::now();
    loop {
        let c = ok(&client, "GET", &path, None).await;
        let terminating = c["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["type"] == "Terminating" && x["reason"] == "InstanceDeletionInProgress");
        let held = ok(&client, "GET", &format!("{base}/held"), None).await;
        if terminating && held["metadata"]["deletionTimestamp"].is_string() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "{c}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut another = obj.clone();
    another["metadata"] = json!({"name": "late"});
    let (code, status) = call(&client, "POST", base, Some(&another), "application/json").await;
    assert_eq!(code, 405, "{status}");
    // Releasing the object lets the CRD go.
    ok(
        &client,
        "PATCH",
        &format!("{base}/held"),
        Some(&json!({"metadata": {"finalizers": null}})),
    )
    .await;
    let start = Instant::now();
    loop {
        let (code, _) = call(&client, "GET", &path, None, "application/json").await;
        if code == 404 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "CRD still there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn crds_are_served_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn rkube_store::Store> = std::sync::Arc::new(
        rkube_store::embedded::EmbeddedStore::open(rkube_store::embedded::EmbeddedOptions::new(
            dir.path(),
        ))
        .await
        .unwrap(),
    );
    let first = common::cluster_on(store.clone()).await;
    let client = first.client().await;
    establish(&client, &widget_crd("restart.example.com")).await;
    let base = "/apis/restart.example.com/v1/namespaces/default/widgets";
    let w = json!({"apiVersion": "restart.example.com/v1", "kind": "Widget",
        "metadata": {"name": "kept"}, "spec": {"color": "blue"}});
    ok(&client, "POST", base, Some(&w)).await;
    first.server.shutdown().await;
    let second = common::cluster_on(store).await;
    let client = second.client().await;
    // Served as soon as the server is ready, with the stored object.
    let got = ok(&client, "GET", &format!("{base}/kept"), None).await;
    assert_eq!(got["spec"]["color"], "blue");
}
