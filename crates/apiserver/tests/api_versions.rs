//! Resources served in two versions over one stored object, as upstream serves them:
//! `events.k8s.io/v1` Events are core `v1` Events, `autoscaling/v1` HorizontalPodAutoscalers are
//! `autoscaling/v2` ones. Conversion on read, write, list and watch; discovery; OpenAPI;
//! Tables; the real kubectl and kube-rs.

use crate::common;

use futures::{AsyncBufReadExt, StreamExt};
use http::Request;
use k8s_openapi::api::autoscaling::v1 as autoscaling_v1;
use k8s_openapi::api::events::v1 as events_v1;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const CORE_EVENTS: &str = "/api/v1/namespaces/default/events";
const EVENTS_V1: &str = "/apis/events.k8s.io/v1/namespaces/default/events";
const HPA_V1: &str = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
const HPA_V2: &str = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";

/// One request; (HTTP status class as 200 or the error code, body or error Status).
async fn call(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(path);
    let content_type = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    req = req.header("Content-Type", content_type);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    match client.request_text(req.body(body).unwrap()).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(s)) => (
            s.code,
            json!({"reason": s.reason, "message": s.message, "details": s.details}),
        ),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

async fn ok(client: &kube::Client, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (code, v) = call(client, method, path, body, &[]).await;
    assert_eq!(code, 200, "{method} {path}: {v}");
    v
}

/// The events of a watch, one JSON value per line.
async fn watch(
    client: &kube::Client,
    path: &str,
) -> impl futures::Stream<Item = Value> + Unpin + use<> {
    let req = Request::get(path).body(Vec::new()).unwrap();
    let reader = client.request_stream(req).await.unwrap();
    reader
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .boxed()
}

async fn next_event(events: &mut (impl futures::Stream<Item = Value> + Unpin)) -> Value {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("a watch event within 10 s")
        .expect("the watch goes on")
}

fn annotation(obj: &Value, key: &str) -> Value {
    let text = obj["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} annotation in {obj}"));
    serde_json::from_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_k8s_io_v1_is_a_view_of_core_events() {
    let c = common::cluster().await;
    let client = c.client().await;
    let core_event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "default"},
        "reason": "Started", "message": "Started container web", "type": "Normal",
        "source": {"component": "kubelet", "host": "n1"}, "count": 3,
        "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:05:00Z"});
    let created = ok(&client, "POST", CORE_EVENTS, Some(&core_event)).await;

    // Read: the same object, renamed fields.
    let v1 = ok(&client, "GET", &format!("{EVENTS_V1}/web.1"), None).await;
    assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
    assert_eq!(v1["kind"], "Event");
    assert_eq!(v1["note"], "Started container web");
    assert_eq!(v1["regarding"]["name"], "web");
    assert_eq!(v1["deprecatedCount"], 3);
    assert_eq!(v1["deprecatedSource"]["host"], "n1");
    assert_eq!(v1["deprecatedLastTimestamp"], "2024-01-01T00:05:00Z");
    assert!(
        v1.get("message").is_none() && v1.get("involvedObject").is_none(),
        "{v1}"
    );
    assert_eq!(
        v1["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let (code, missing) = call(&client, "GET", &format!("{EVENTS_V1}/nope"), None, &[]).await;
    assert_eq!(code, 404);
    assert_eq!(
        missing["message"],
        "events.events.k8s.io \"nope\" not found"
    );

    // List, typed (kube-rs), with a field selector in the events.k8s.io names.
    let api: Api<events_v1::Event> = Api::namespaced(client.clone(), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].note.as_deref(), Some("Started container web"));
    let regarding_web = ListParams::default().fields("regarding.name=web");
    assert_eq!(api.list(&regarding_web).await.unwrap().items.len(), 1);
    let regarding_other = ListParams::default().fields("regarding.name=other");
    assert!(api.list(&regarding_other).await.unwrap().items.is_empty());

    // Watch through events.k8s.io/v1 while writing through core v1.
    let rv = list.metadata.resource_version.unwrap();
    let mut events = watch(
        &client,
        &format!("{EVENTS_V1}?watch=true&resourceVersion={rv}"),
    )
    .await;
    let mut second = core_event.clone();
    second["metadata"]["name"] = "web.2".into();
    second["message"] = "Pulled image".into();
    ok(&client, "POST", CORE_EVENTS, Some(&second)).await;
    let added = next_event(&mut events).await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(added["object"]["note"], "Pulled image");

    // Write through events.k8s.io/v1 (kube-rs typed): stored as a core event.
    let new_style: events_v1::Event = serde_json::from_value(json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "web.3"},
        "eventTime": "2024-01-01T00:10:00.000000Z", "reportingController": "rkube.io/tests",
        "reportingInstance": "tests-1", "action": "Testing", "reason": "Tested", "type": "Normal",
        "note": "written through events.k8s.io", "regarding": {"kind": "Pod", "name": "web",
        "namespace": "default"}}))
    .unwrap();
    api.create(&PostParams::default(), &new_style)
        .await
        .unwrap();
    let core = ok(&client, "GET", &format!("{CORE_EVENTS}/web.3"), None).await;
    assert_eq!(core["apiVersion"], "v1");
    assert_eq!(core["message"], "written through events.k8s.io");
    assert_eq!(core["involvedObject"]["name"], "web");
    assert_eq!(core["reportingComponent"], "rkube.io/tests");
    let added = next_event(&mut events).await;
    assert_eq!(added["object"]["reportingController"], "rkube.io/tests");

    // events.k8s.io/v1 validates strictly (upstream's new-style checks) ...
    let legacy = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.4"}, "reason": "Old", "note": "old style",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
        "deprecatedCount": 2, "type": "Normal"});
    let (code, status) = call(&client, "POST", EVENTS_V1, Some(&legacy), &[]).await;
    assert_eq!(code, 422, "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("eventTime: Required value"), "{message}");
    assert!(
        message.contains("count: Invalid value: \"\": needs to be unset"),
        "{message}"
    );
    // ... and keeps an event immutable.
    let mut changed = ok(&client, "GET", &format!("{EVENTS_V1}/web.3"), None).await;
    changed["note"] = "rewritten".into();
    let (code, status) = call(
        &client,
        "PUT",
        &format!("{EVENTS_V1}/web.3"),
        Some(&changed),
        &[],
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("field is immutable"),
        "{status}"
    );

    // Tables are the event columns; embedded objects come in the requested version.
    let (code, table) = call(
        &client,
        "GET",
        &format!("{EVENTS_V1}?includeObject=Object"),
        None,
        &[("Accept", TABLE)],
    )
    .await;
    assert_eq!(code, 200, "{table}");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&columns[..4], ["Last Seen", "Type", "Reason", "Object"]);
    assert_eq!(table["rows"][0]["object"]["apiVersion"], "events.k8s.io/v1");
    assert_eq!(table["rows"][0]["object"]["regarding"]["name"], "web");

    // kubectl, by the fully qualified resource name.
    let out = c.ok(&["get", "events.v1.events.k8s.io"]).await;
    let header = out.lines().next().unwrap();
    for col in ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"] {
        assert!(header.contains(col), "{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.contains("pod/web") && l.contains("Started container web")),
        "{out}"
    );
    let yaml = c
        .ok(&["get", "events.v1.events.k8s.io", "web.1", "-o", "yaml"])
        .await;
    assert!(yaml.contains("apiVersion: events.k8s.io/v1"), "{yaml}");
    assert!(yaml.contains("note: Started container web"), "{yaml}");
    // Plain `events` stays core v1.
    let yaml = c.ok(&["get", "events", "web.1", "-o", "yaml"]).await;
    assert!(yaml.contains("message: Started container web"), "{yaml}");

    // Delete through one version: gone from both.
    ok(&client, "DELETE", &format!("{EVENTS_V1}/web.1"), None).await;
    let (code, _) = call(&client, "GET", &format!("{CORE_EVENTS}/web.1"), None, &[]).await;
    assert_eq!(code, 404);
    let deleted = next_event(&mut events).await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["note"], "Started container web");
}

const PHP_V1: &str = r#"
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata:
  name: php
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: php}
  maxReplicas: 5
  targetCPUUtilizationPercentage: 50
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoscaling_v1_is_a_view_of_autoscaling_v2() {
    let c = common::cluster().await;
    let client = c.client().await;

    // kubectl create -f of an autoscaling/v1 object.
    let out = c.kubectl_stdin(&["create", "-f", "-"], Some(PHP_V1)).await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("horizontalpodautoscaler.autoscaling/php created"),
        "{}",
        out.stdout
    );
    let v2 = ok(&client, "GET", &format!("{HPA_V2}/php"), None).await;
    assert_eq!(
        v2["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 50}}}])
    );
    assert_eq!(v2["spec"]["minReplicas"], 1);
    assert!(v2["metadata"].get("annotations").is_none(), "{v2}");
    let v1 = ok(&client, "GET", &format!("{HPA_V1}/php"), None).await;
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
    assert_eq!(
        v1["status"],
        json!({"currentReplicas": 0, "desiredReplicas": 0})
    );

    // A v2 object with more than v1 can say: the rest travels in annotations ...
    let web = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 4,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60}}},
                {"type": "Resource", "resource": {"name": "memory",
                    "target": {"type": "AverageValue", "averageValue": "1Gi"}}}],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 120}}}});
    ok(&client, "POST", HPA_V2, Some(&web)).await;
    let mut v1 = ok(&client, "GET", &format!("{HPA_V1}/web"), None).await;
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
    assert_eq!(
        annotation(&v1, "autoscaling.alpha.kubernetes.io/metrics"),
        json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "1Gi"}}])
    );
    assert_eq!(
        annotation(&v1, "autoscaling.alpha.kubernetes.io/behavior")["ScaleDown"]["StabilizationWindowSeconds"],
        120
    );
    // ... so a read-modify-write through v1 keeps it.
    v1["spec"]["maxReplicas"] = 7.into();
    ok(&client, "PUT", &format!("{HPA_V1}/web"), Some(&v1)).await;
    let v2 = ok(&client, "GET", &format!("{HPA_V2}/web"), None).await;
    assert_eq!(v2["spec"]["maxReplicas"], 7);
    let metrics = v2["spec"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2, "{v2}");
    assert!(metrics.iter().any(|m| m["resource"]["name"] == "memory"));
    assert!(
        metrics
            .iter()
            .any(|m| m["resource"]["target"]["averageUtilization"] == 60)
    );
    assert_eq!(
        v2["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        120
    );
    assert!(v2["metadata"].get("annotations").is_none(), "{v2}");

    // Merge patch through v1 speaks v1 fields.
    let patch = json!({"spec": {"targetCPUUtilizationPercentage": 70}});
    let patched = ok(&client, "PATCH", &format!("{HPA_V1}/php"), Some(&patch)).await;
    assert_eq!(patched["apiVersion"], "autoscaling/v1");
    assert_eq!(patched["spec"]["targetCPUUtilizationPercentage"], 70);
    let v2 = ok(&client, "GET", &format!("{HPA_V2}/php"), None).await;
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );

    // Unknown fields are those of the v1 type.
    let with_metrics = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "strict"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 2,
            "metrics": [{"type": "Pods"}]}});
    let (code, status) = call(
        &client,
        "POST",
        &format!("{HPA_V1}?fieldValidation=Strict"),
        Some(&with_metrics),
        &[],
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"spec.metrics\""),
        "{status}"
    );

    // List (kube-rs typed) and watch through v1 while writing through v2.
    let api: Api<autoscaling_v1::HorizontalPodAutoscaler> =
        Api::namespaced(client.clone(), "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let targets: Vec<(String, Option<i32>)> = list
        .items
        .iter()
        .map(|h| {
            let spec = h.spec.as_ref().unwrap();
            (
                h.metadata.name.clone().unwrap(),
                spec.target_cpu_utilization_percentage,
            )
        })
        .collect();
    assert_eq!(
        targets,
        [("php".to_string(), Some(70)), ("web".to_string(), Some(60))]
    );
    let rv = list.metadata.resource_version.unwrap();
    let mut events = watch(
        &client,
        &format!("{HPA_V1}?watch=true&resourceVersion={rv}"),
    )
    .await;
    let patch = json!({"spec": {"maxReplicas": 9}});
    ok(&client, "PATCH", &format!("{HPA_V2}/web"), Some(&patch)).await;
    let modified = next_event(&mut events).await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["apiVersion"], "autoscaling/v1");
    assert_eq!(modified["object"]["spec"]["maxReplicas"], 9);
    assert_eq!(
        modified["object"]["spec"]["targetCPUUtilizationPercentage"],
        60
    );

    // Tables print the stored object: every metric, in its stored order (the v1 write put
    // web's CPU target last, as upstream's conversion does; api was never written as v1).
    let mut api_hpa = web.clone();
    api_hpa["metadata"]["name"] = "api".into();
    ok(&client, "POST", HPA_V2, Some(&api_hpa)).await;
    for resource in [
        "hpa.v1.autoscaling",
        "horizontalpodautoscalers.v1.autoscaling",
        "hpa",
    ] {
        let out = c.ok(&["get", resource]).await;
        let header = out.lines().next().unwrap();
        for col in [
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE",
        ] {
            assert!(header.contains(col), "{out}");
        }
        let web = out.lines().find(|l| l.starts_with("web ")).unwrap();
        assert!(
            web.contains("Deployment/web")
                && web.contains("memory: <unknown>/1Gi, cpu: <unknown>/60%"),
            "{out}"
        );
        let api = out.lines().find(|l| l.starts_with("api ")).unwrap();
        assert!(
            api.contains("cpu: <unknown>/60%, memory: <unknown>/1Gi"),
            "{out}"
        );
        assert!(
            out.lines()
                .any(|l| l.starts_with("php ") && l.contains("cpu: <unknown>/70%")),
            "{out}"
        );
    }
    // kubectl expands a short name to group and resource only (its shortcut expander drops
    // the version, upstream too): `hpa.v1.autoscaling` reads the preferred v2; the plural
    // keeps v1.
    let qualified = "horizontalpodautoscalers.v1.autoscaling";
    let target = c
        .ok(&[
            "get",
            qualified,
            "php",
            "-o",
            "jsonpath={.spec.targetCPUUtilizationPercentage}",
        ])
        .await;
    assert_eq!(target, "70");
    c.ok(&["delete", qualified, "php"]).await;
    let (code, _) = call(&client, "GET", &format!("{HPA_V2}/php"), None, &[]).await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_openapi_list_the_new_versions() {
    let c = common::cluster().await;
    let client = c.client().await;

    let groups = ok(&client, "GET", "/apis", None).await;
    let group = |name: &str| {
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let autoscaling = group("autoscaling");
    let versions: Vec<&str> = autoscaling["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v2", "v1"]);
    assert_eq!(
        autoscaling["preferredVersion"]["groupVersion"],
        "autoscaling/v2"
    );
    assert_eq!(
        group("events.k8s.io")["preferredVersion"]["groupVersion"],
        "events.k8s.io/v1"
    );

    let events = ok(&client, "GET", "/apis/events.k8s.io/v1", None).await;
    assert_eq!(events["groupVersion"], "events.k8s.io/v1");
    let entry = &events["resources"][0];
    assert_eq!(
        (
            &entry["name"],
            &entry["kind"],
            &entry["namespaced"],
            &entry["shortNames"]
        ),
        (
            &json!("events"),
            &json!("Event"),
            &json!(true),
            &json!(["ev"])
        )
    );
    let hpa = ok(&client, "GET", "/apis/autoscaling/v1", None).await;
    let names: Vec<&str> = hpa["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "horizontalpodautoscalers",
            "horizontalpodautoscalers/status"
        ]
    );

    let (code, aggregated) = call(&client, "GET", "/apis", None, &[("Accept", AGGREGATED)]).await;
    assert_eq!(code, 200);
    let item = |name: &str| {
        aggregated["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == name)
            .cloned()
            .unwrap()
    };
    let autoscaling = item("autoscaling");
    assert_eq!(autoscaling["versions"][0]["version"], "v2");
    assert_eq!(autoscaling["versions"][1]["version"], "v1");
    assert_eq!(
        autoscaling["versions"][1]["resources"][0]["responseKind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "HorizontalPodAutoscaler"})
    );
    assert_eq!(
        item("events.k8s.io")["versions"][0]["resources"][0]["responseKind"],
        json!({"group": "events.k8s.io", "version": "v1", "kind": "Event"})
    );

    // OpenAPI v3: one document per group version, with the version's own schema.
    let root = ok(&client, "GET", "/openapi/v3", None).await;
    for gv in [
        "apis/events.k8s.io/v1",
        "apis/autoscaling/v1",
        "apis/autoscaling/v2",
    ] {
        assert!(
            root["paths"].get(gv).is_some(),
            "{gv} missing from /openapi/v3"
        );
    }
    let doc = ok(&client, "GET", "/openapi/v3/apis/events.k8s.io/v1", None).await;
    assert!(
        doc["paths"]
            .get("/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}")
            .is_some()
    );
    assert!(
        doc["components"]["schemas"]["io.k8s.api.events.v1.Event"]["properties"]
            .get("note")
            .is_some()
    );
    let doc = ok(&client, "GET", "/openapi/v3/apis/autoscaling/v1", None).await;
    assert!(
        doc["components"]["schemas"]["io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec"]
            ["properties"]
            .get("targetCPUUtilizationPercentage")
            .is_some()
    );
    // OpenAPI v2: one document with both.
    let (code, v2) = call(
        &client,
        "GET",
        "/openapi/v2",
        None,
        &[("Accept", "application/json")],
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        v2["paths"]
            .get("/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers")
            .is_some()
    );
    assert!(v2["paths"].get("/apis/events.k8s.io/v1/events").is_some());
    assert!(
        v2["definitions"]
            .get("io.k8s.api.events.v1.Event")
            .is_some()
    );

    // kubectl sees them.
    let versions = c.ok(&["api-versions"]).await;
    for gv in ["autoscaling/v1", "autoscaling/v2", "events.k8s.io/v1"] {
        assert!(versions.lines().any(|l| l == gv), "{gv}:\n{versions}");
    }
    let resources = c.ok(&["api-resources", "--api-group=events.k8s.io"]).await;
    assert!(
        resources.lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>()
                == ["events", "ev", "events.k8s.io/v1", "true", "Event"]
        }),
        "{resources}"
    );
    let explain = c
        .ok(&["explain", "events.note", "--api-version=events.k8s.io/v1"])
        .await;
    assert!(explain.contains("note"), "{explain}");
    let explain = c
        .ok(&[
            "explain",
            "hpa.spec.targetCPUUtilizationPercentage",
            "--api-version=autoscaling/v1",
        ])
        .await;
    assert!(
        explain.contains("targetCPUUtilizationPercentage"),
        "{explain}"
    );
}
