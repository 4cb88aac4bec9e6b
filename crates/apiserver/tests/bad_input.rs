//! Bad input gets a `Status` with the right code and reason, and changes nothing.

use crate::common;

use http::Request;
use serde_json::{Value, json};

/// Sends `body` with `content_type` to `path` and returns (HTTP status, parsed body).
async fn send(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type)
        .body(body)
        .unwrap();
    // kube-rs turns non-2xx into an error carrying the Status; take the status either way.
    match client.request_text(req).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(s)) => (s.code, json!({"reason": s.reason, "message": s.message})),
        Err(e) => panic!("{e}"),
    }
}

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_mismatched_bodies_are_400_and_write_nothing() {
    let c = common::cluster().await;
    let client = c.client().await;
    let (code, s) = send(
        &client,
        "POST",
        PODS,
        "application/json",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(
        (code, s["reason"].as_str()),
        (400, Some("BadRequest")),
        "{s}"
    );
    let (code, s) = send(
        &client,
        "POST",
        PODS,
        "application/yaml",
        b"a: [unclosed".to_vec(),
    )
    .await;
    assert_eq!(
        (code, s["reason"].as_str()),
        (400, Some("BadRequest")),
        "{s}"
    );
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}});
    let (code, s) = send(
        &client,
        "POST",
        PODS,
        "application/json",
        svc.to_string().into_bytes(),
    )
    .await;
    assert_eq!(code, 400, "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("does not match the expected kind"),
        "{s}"
    );
    let wrong_type = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": "oops"}});
    let (code, s) = send(
        &client,
        "POST",
        PODS,
        "application/json",
        wrong_type.to_string().into_bytes(),
    )
    .await;
    assert_eq!(code, 400, "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("cannot be handled as a Pod"),
        "{s}"
    );
    let (code, _) = send(&client, "POST", PODS, "text/plain", b"{}".to_vec()).await;
    assert_eq!(code, 415);
    // Nothing was created by any of them.
    let list: Value = serde_json::from_str(
        &client
            .request_text(Request::get(PODS).body(Vec::new()).unwrap())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413() {
    let c = common::cluster().await;
    let client = c.client().await;
    let big = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
        "data": {"k": "x".repeat(4 * 1024 * 1024)}});
    let (code, s) = send(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        big.to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        (code, s["reason"].as_str()),
        (413, Some("RequestEntityTooLarge")),
        "{s}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_per_field_validation_and_invalid_names() {
    let c = common::cluster().await;
    let client = c.client().await;
    let cm = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "bogus": 1})
            .to_string()
            .into_bytes()
    };
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, s) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        "application/json",
        cm("strict"),
    )
    .await;
    assert_eq!(code, 400, "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"bogus\""),
        "{s}"
    );
    let (code, _) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Ignore"),
        "application/json",
        cm("ignored"),
    )
    .await;
    assert_eq!(code, 200, "created, the unknown field dropped");
    let (code, s) = send(&client, "POST", path, "application/json", cm("Bad_Name")).await;
    assert_eq!((code, s["reason"].as_str()), (422, Some("Invalid")), "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{s}"
    );
    let (code, _) = send(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Sometimes"),
        "application/json",
        cm("x"),
    )
    .await;
    assert_eq!(code, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_port_or_cluster_ip_already_taken_is_422_and_the_first_keeps_it() {
    let c = common::cluster().await;
    let svc = |name: &str, spec: Value| {
        let mut spec_full = json!({"type": "NodePort", "selector": {"app": "x"}});
        spec_full
            .as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec_full})
            .to_string()
    };
    let port = |p: i64| json!({"ports": [{"port": 80, "nodePort": p}]});
    let first = c
        .kubectl_stdin(&["create", "-f", "-"], Some(&svc("first", port(30123))))
        .await;
    assert!(first.ok, "{}", first.stderr);
    let clash = c
        .kubectl_stdin(&["create", "-f", "-"], Some(&svc("second", port(30123))))
        .await;
    assert!(
        !clash.ok
            && clash.stderr.contains(
                "spec.ports[0].nodePort: Invalid value: 30123: provided port is already allocated"
            ),
        "{}",
        clash.stderr
    );
    let ip = c
        .ok(&["get", "svc", "first", "-o", "jsonpath={.spec.clusterIP}"])
        .await;
    let same_ip = json!({"clusterIP": ip, "ports": [{"port": 80}]});
    let clash = c
        .kubectl_stdin(&["create", "-f", "-"], Some(&svc("third", same_ip)))
        .await;
    assert!(
        !clash.ok && clash.stderr.contains("provided IP is already allocated"),
        "{}",
        clash.stderr
    );
    // The first keeps both; the refused ones left nothing behind.
    assert_eq!(
        c.ok(&[
            "get",
            "svc",
            "first",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}"
        ])
        .await,
        "30123"
    );
    let names = c.ok(&["get", "svc", "-o", "name"]).await;
    assert!(
        !names.contains("second") && !names.contains("third"),
        "{names}"
    );
}
