//! `dryRun=All` on every write (the would-be object, nothing stored, no watch event, no
//! allocation, no quota charge), kubectl's server-side dry runs and `kubectl diff`,
//! `fieldValidation` warnings and refusals, and the inflight limits' 429.

use crate::common;

use common::raw::{self, Reply};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, WatchEvent, WatchParams};
use serde_json::{Value, json};
use std::time::Duration;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const SERVICES: &str = "/api/v1/namespaces/default/services";

fn config_map(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": value}})
}

async fn get(client: &kube::Client, path: &str) -> Reply {
    raw::json(client, "GET", path, None).await
}

fn assert_code(r: &Reply, code: u16) {
    assert_eq!(r.code, code, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_in_a_dry_run_answers_the_would_be_object_and_stores_nothing() {
    let c = common::cluster().await;
    let client = c.client().await;
    let kept = raw::json(&client, "POST", CONFIGMAPS, Some(&config_map("kept", "v"))).await;
    assert_code(&kept, 201);
    let kept_rv = kept.body["metadata"]["resourceVersion"].clone();
    // A watch opened now must see no event of the dry runs below, only the final marker.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut events = cms
        .watch(
            &WatchParams::default().timeout(30),
            kept_rv.as_str().unwrap(),
        )
        .await
        .unwrap()
        .boxed();

    // Create: 201 with the defaulted, admitted object; no resourceVersion; nothing stored.
    let r = raw::json(
        &client,
        "POST",
        &format!("{CONFIGMAPS}?dryRun=All"),
        Some(&config_map("dry", "v")),
    )
    .await;
    assert_code(&r, 201);
    assert_eq!(r.body["metadata"]["name"], "dry");
    assert!(
        r.body["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    assert!(r.body["metadata"]["creationTimestamp"].is_string());
    assert!(
        r.body["metadata"].get("resourceVersion").is_none(),
        "{}",
        r.body
    );
    assert_code(&get(&client, &format!("{CONFIGMAPS}/dry")).await, 404);
    // generateName gets a name.
    let r = raw::json(
        &client,
        "POST",
        &format!("{CONFIGMAPS}?dryRun=All"),
        Some(&json!({"metadata": {"generateName": "gen-"}, "data": {"a": "b"}})),
    )
    .await;
    assert_code(&r, 201);
    let generated = r.body["metadata"]["name"].as_str().unwrap().to_string();
    assert!(
        generated.starts_with("gen-") && generated.len() > 4,
        "{generated}"
    );
    assert_code(
        &get(&client, &format!("{CONFIGMAPS}/{generated}")).await,
        404,
    );
    // Still validated, still refused when the name is taken.
    let r = raw::json(
        &client,
        "POST",
        &format!("{CONFIGMAPS}?dryRun=All"),
        Some(&config_map("Bad_Name", "v")),
    )
    .await;
    assert_code(&r, 422);
    let r = raw::json(
        &client,
        "POST",
        &format!("{CONFIGMAPS}?dryRun=All"),
        Some(&config_map("kept", "v")),
    )
    .await;
    assert_code(&r, 409);

    // Update: the would-be object at the current resourceVersion; the stored one unchanged.
    let path = format!("{CONFIGMAPS}/kept");
    let r = raw::json(
        &client,
        "PUT",
        &format!("{path}?dryRun=All"),
        Some(&config_map("kept", "changed")),
    )
    .await;
    assert_code(&r, 200);
    assert_eq!(r.body["data"]["k"], "changed");
    assert_eq!(r.body["metadata"]["resourceVersion"], kept_rv);
    let r = raw::json(
        &client,
        "PUT",
        &format!("{path}?dryRun=All"),
        Some(&json!({"metadata": {"name": "kept"}, "data": {"k": 1}})),
    )
    .await;
    assert!(
        r.code == 400 || r.code == 422,
        "invalid still refused: {}",
        r.body
    );
    // Patch of every type.
    for (content_type, patch) in [
        (
            "application/merge-patch+json",
            json!({"data": {"k": "merged"}}),
        ),
        (
            "application/strategic-merge-patch+json",
            json!({"data": {"k": "merged"}}),
        ),
        (
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/data/k", "value": "merged"}]),
        ),
    ] {
        let r = raw::send(
            &client,
            "PATCH",
            &format!("{path}?dryRun=All"),
            content_type,
            patch.to_string().into_bytes(),
        )
        .await;
        assert_code(&r, 200);
        assert_eq!(r.body["data"]["k"], "merged", "{content_type}");
    }
    let stored = get(&client, &path).await;
    assert_eq!(stored.body["data"]["k"], "v");
    assert_eq!(stored.body["metadata"]["resourceVersion"], kept_rv);

    // Delete, by query and by DeleteOptions body; delete collection.
    let r = raw::json(&client, "DELETE", &format!("{path}?dryRun=All"), None).await;
    assert_code(&r, 200);
    assert_eq!(r.body["metadata"]["name"], "kept");
    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]});
    assert_code(&raw::json(&client, "DELETE", &path, Some(&opts)).await, 200);
    let r = raw::json(&client, "DELETE", CONFIGMAPS, Some(&opts)).await;
    assert_code(&r, 200);
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["metadata"]["name"] == "kept"),
        "{}",
        r.body
    );
    assert_code(&get(&client, &path).await, 200);
    // Unknown values keep their 422.
    assert_code(
        &raw::json(&client, "DELETE", &format!("{path}?dryRun=Yes"), None).await,
        422,
    );

    // The marker: the first and only event the watch sees.
    let marker = raw::json(
        &client,
        "POST",
        CONFIGMAPS,
        Some(&config_map("marker", "m")),
    )
    .await;
    assert_code(&marker, 201);
    let first = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    match first {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("marker")),
        other => panic!("a dry run was seen by the watch: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_deletes_with_finalizers_and_subresources_write_nothing() {
    let c = common::cluster().await;
    let client = c.client().await;
    let mut cm = config_map("fin", "v");
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    assert_code(
        &raw::json(&client, "POST", CONFIGMAPS, Some(&cm)).await,
        201,
    );
    let r = raw::json(
        &client,
        "DELETE",
        &format!("{CONFIGMAPS}/fin?dryRun=All"),
        None,
    )
    .await;
    assert_code(&r, 200);
    assert!(
        r.body["metadata"]["deletionTimestamp"].is_string(),
        "{}",
        r.body
    );
    let stored = get(&client, &format!("{CONFIGMAPS}/fin")).await;
    assert!(stored.body["metadata"].get("deletionTimestamp").is_none());

    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    assert_code(
        &raw::json(&client, "POST", DEPLOYMENTS, Some(&deploy)).await,
        201,
    );
    let web = format!("{DEPLOYMENTS}/web");
    let r = raw::json(
        &client,
        "PATCH",
        &format!("{web}/scale?dryRun=All"),
        Some(&json!({"spec": {"replicas": 5}})),
    )
    .await;
    assert_code(&r, 200);
    assert_eq!(
        (r.body["kind"].as_str(), r.body["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(5))
    );
    let mut status = get(&client, &web).await.body;
    status["status"] = json!({"replicas": 7, "observedGeneration": 1});
    let r = raw::json(
        &client,
        "PUT",
        &format!("{web}/status?dryRun=All"),
        Some(&status),
    )
    .await;
    assert_code(&r, 200);
    assert_eq!(r.body["status"]["replicas"], 7);
    let stored = get(&client, &web).await.body;
    assert_eq!(stored["spec"]["replicas"], 1);
    assert!(
        stored["status"]["replicas"].is_null(),
        "{}",
        stored["status"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_services_hold_no_node_port_and_quotas_are_not_charged() {
    let c = common::cluster().await;
    let client = c.client().await;
    let svc = |name: &str, node_port: i64| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": {"app": "x"},
                     "ports": [{"port": 80, "nodePort": node_port}]}})
    };
    let r = raw::json(
        &client,
        "POST",
        &format!("{SERVICES}?dryRun=All"),
        Some(&svc("a", 30500)),
    )
    .await;
    assert_code(&r, 201);
    assert_eq!(r.body["spec"]["ports"][0]["nodePort"], 30500);
    assert!(r.body["spec"]["clusterIP"].is_string(), "{}", r.body);
    // Out of range is still refused.
    let r = raw::json(
        &client,
        "POST",
        &format!("{SERVICES}?dryRun=All"),
        Some(&svc("b", 40000)),
    )
    .await;
    assert_code(&r, 422);
    // The dry run held nothing: the real one gets the port.
    let r = raw::json(&client, "POST", SERVICES, Some(&svc("b", 30500))).await;
    assert_code(&r, 201);
    assert_code(&get(&client, &format!("{SERVICES}/a")).await, 404);
    // A dry-run update of the real one keeps its allocations and frees nothing.
    let mut changed = r.body.clone();
    changed["spec"]["type"] = json!("ClusterIP");
    let r = raw::json(
        &client,
        "PUT",
        &format!("{SERVICES}/b?dryRun=All"),
        Some(&changed),
    )
    .await;
    assert_code(&r, 200);
    assert_code(
        &raw::json(&client, "POST", SERVICES, Some(&svc("c", 30500))).await,
        422,
    );

    // Quota: checked, never charged.
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
        "spec": {"hard": {"configmaps": "3"}}});
    assert_code(
        &raw::json(
            &client,
            "POST",
            "/api/v1/namespaces/default/resourcequotas",
            Some(&quota),
        )
        .await,
        201,
    );
    assert_code(
        &raw::json(&client, "POST", CONFIGMAPS, Some(&config_map("one", "v"))).await,
        201,
    );
    let quota_path = "/api/v1/namespaces/default/resourcequotas/q";
    let used_before = get(&client, quota_path).await.body["status"]["used"].clone();
    assert!(used_before["configmaps"].is_string(), "{used_before}");
    for i in 0..3 {
        let r = raw::json(
            &client,
            "POST",
            &format!("{CONFIGMAPS}?dryRun=All"),
            Some(&config_map(&format!("d{i}"), "v")),
        )
        .await;
        assert_code(&r, 201);
    }
    assert_eq!(
        get(&client, quota_path).await.body["status"]["used"],
        used_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_dry_runs_and_diff() {
    let c = common::cluster().await;
    let out = c
        .kubectl(&[
            "create",
            "configmap",
            "dry",
            "--from-literal=k=v",
            "--dry-run=server",
            "-o",
            "json",
        ])
        .await;
    assert!(out.ok, "{}", out.stderr);
    let shown: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (
            shown["metadata"]["name"].as_str(),
            shown["data"]["k"].as_str()
        ),
        (Some("dry"), Some("v"))
    );
    assert!(shown["metadata"]["uid"].is_string());
    let out = c.kubectl(&["get", "configmap", "dry"]).await;
    assert!(!out.ok && out.stderr.contains("NotFound"), "{}", out.stderr);

    let manifest = |value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: \"{value}\"\n"
        )
    };
    // diff of an object that does not exist: the whole object, nothing created.
    let out = c
        .kubectl_stdin(&["diff", "-f", "-"], Some(&manifest("1")))
        .await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("+  a: \"1\""), "{}", out.stdout);
    assert!(!c.kubectl(&["get", "configmap", "app"]).await.ok);

    let out = c
        .kubectl_stdin(&["apply", "-f", "-"], Some(&manifest("1")))
        .await;
    assert!(out.ok, "{}", out.stderr);
    let rv = c
        .ok(&[
            "get",
            "configmap",
            "app",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .await;
    let out = c
        .kubectl_stdin(&["diff", "-f", "-"], Some(&manifest("1")))
        .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = c
        .kubectl_stdin(&["diff", "-f", "-"], Some(&manifest("2")))
        .await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("-  a: \"1\"") && out.stdout.contains("+  a: \"2\""),
        "{}",
        out.stdout
    );

    let out = c
        .kubectl_stdin(
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&manifest("3")),
        )
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("configured (server dry run)"),
        "{}",
        out.stdout
    );
    let out = c
        .kubectl(&["label", "configmap", "app", "x=y", "--dry-run=server"])
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("labeled (server dry run)"),
        "{}",
        out.stdout
    );
    let out = c
        .kubectl(&["delete", "configmap", "app", "--dry-run=server"])
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("deleted (server dry run)"),
        "{}",
        out.stdout
    );

    c.ok(&["create", "deployment", "web", "--image=nginx"])
        .await;
    let out = c
        .kubectl(&[
            "scale",
            "deployment",
            "web",
            "--replicas=4",
            "--dry-run=server",
        ])
        .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("scaled (server dry run)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        c.ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .await,
        "1"
    );

    // Nothing changed.
    let after = c.ok(&["get", "configmap", "app", "-o", "json"]).await;
    let after: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(after["metadata"]["resourceVersion"], rv.as_str());
    assert_eq!(after["data"]["a"], "1");
    assert!(after["metadata"]["labels"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_validation_warns_or_refuses_duplicate_and_unknown_fields() {
    let c = common::cluster().await;
    let client = c.client().await;
    let dup = br#"{"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "dup", "name": "dup", "bogus": 1}, "data": {"a": "1", "a": "2"}}"#;
    let r = raw::send(
        &client,
        "POST",
        CONFIGMAPS,
        "application/json",
        dup.to_vec(),
    )
    .await;
    assert_code(&r, 201);
    let warnings = r.warnings();
    for w in [
        "duplicate field \"metadata.name\"",
        "duplicate field \"data.a\"",
        "unknown field \"metadata.bogus\"",
    ] {
        assert!(warnings.iter().any(|x| x == w), "{w} in {warnings:?}");
    }
    assert_eq!(r.body["data"]["a"], "2", "the last duplicate wins");
    let r = raw::send(
        &client,
        "POST",
        &format!("{CONFIGMAPS}?fieldValidation=Strict"),
        "application/json",
        dup.to_vec(),
    )
    .await;
    assert_code(&r, 400);
    assert_eq!(
        r.body["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: \
         duplicate field \"metadata.name\", unknown field \"metadata.bogus\", duplicate field \"data.a\""
    );
    let r = raw::send(
        &client,
        "PUT",
        &format!("{CONFIGMAPS}/dup?fieldValidation=Ignore"),
        "application/json",
        dup.to_vec(),
    )
    .await;
    assert_code(&r, 200);
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());

    // Patches: unknown fields of the result, duplicates of the patch itself.
    let r = raw::send(
        &client,
        "PATCH",
        &format!("{CONFIGMAPS}/dup"),
        "application/merge-patch+json",
        br#"{"data": {"b": "1", "b": "2"}, "spec": {"foo": 1}}"#.to_vec(),
    )
    .await;
    assert_code(&r, 200);
    assert_eq!(
        r.warnings(),
        ["duplicate field \"data.b\"", "unknown field \"spec\""]
    );
    let r = raw::send(
        &client,
        "PATCH",
        &format!("{CONFIGMAPS}/dup?fieldValidation=Strict"),
        "application/strategic-merge-patch+json",
        br#"{"data": {"c": "1", "c": "2"}}"#.to_vec(),
    )
    .await;
    assert_code(&r, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("duplicate field \"data.c\"")
    );

    // The scale subresource decodes a Scale.
    c.ok(&["create", "deployment", "web", "--image=nginx"])
        .await;
    let scale = format!("{DEPLOYMENTS}/web/scale");
    let r = raw::send(
        &client,
        "PATCH",
        &scale,
        "application/merge-patch+json",
        br#"{"spec": {"replicas": 2, "bogus": true}}"#.to_vec(),
    )
    .await;
    assert_code(&r, 200);
    assert_eq!(r.warnings(), ["unknown field \"spec.bogus\""]);
    let r = raw::send(
        &client,
        "PATCH",
        &format!("{scale}?fieldValidation=Strict"),
        "application/merge-patch+json",
        br#"{"spec": {"replicas": 3, "bogus": true}}"#.to_vec(),
    )
    .await;
    assert_code(&r, 400);
    assert_eq!(
        r.body["message"],
        "Scale in version \"v1\" cannot be handled as a Scale: strict decoding error: unknown field \"spec.bogus\""
    );
    assert_eq!(
        c.ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}"
        ])
        .await,
        "2"
    );
}

/// A raw HTTPS connection to the server, authenticated by `token`.
struct Conn {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl Conn {
    async fn open(c: &common::Cluster) -> Conn {
        let ca = std::fs::read(c.dir.path().join("tls/ca.crt")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", c.server.addr.port()))
            .await
            .unwrap();
        let name =
            rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into());
        let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
            .connect(name, tcp)
            .await
            .unwrap();
        Conn { stream }
    }

    /// Sends a request head (and `body`, which may be shorter than `length` to hold the
    /// request open).
    async fn send(&mut self, method: &str, path: &str, length: usize, body: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        self.stream.write_all(head.as_bytes()).await.unwrap();
        self.stream.write_all(body).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// The response head (lowercased) and whatever body arrives until the connection closes
    /// (or, for `head_only`, just the head).
    async fn response(&mut self, head_only: bool) -> (String, String) {
        use tokio::io::AsyncReadExt;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("a response")
                .unwrap_or(0);
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                if head_only || n == 0 {
                    return (
                        text[..end].to_ascii_lowercase(),
                        text[end + 4..].to_string(),
                    );
                }
            } else if n == 0 {
                panic!("connection closed before a response: {text}");
            }
        }
    }
}

const TOKEN: &str = "dev-token-1234";

fn cm_body(name: &str) -> Vec<u8> {
    config_map(name, "v").to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_inflight_limits_get_429_but_watches_and_masters_do_not() {
    let c = common::cluster_with(|config, dir| {
        let tokens = dir.join("tokens.csv");
        std::fs::write(&tokens, format!("{TOKEN},dev,1001,\"developers\"\n")).unwrap();
        config.token_auth_file = Some(tokens);
        config.max_requests_inflight = 1;
        config.max_mutating_requests_inflight = 1;
    })
    .await;
    // A mutating request held open by a body that has not all arrived.
    let body = cm_body("held");
    let mut held = Conn::open(&c).await;
    held.send("POST", CONFIGMAPS, body.len(), &body[..5]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = Conn::open(&c).await;
    let other = cm_body("refused");
    second.send("POST", CONFIGMAPS, other.len(), &other).await;
    let (head, text) = second.response(false).await;
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert_eq!(text, "Too many requests, please try again later.\n");

    // Watches are not counted: two open ones leave the read-only pool of 1 free.
    let mut watches = Vec::new();
    for _ in 0..2 {
        let mut w = Conn::open(&c).await;
        w.send("GET", &format!("{CONFIGMAPS}?watch=true"), 0, b"")
            .await;
        let (head, _) = w.response(true).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        watches.push(w);
    }
    let mut list = Conn::open(&c).await;
    list.send("GET", CONFIGMAPS, 0, b"").await;
    let (head, _) = list.response(true).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");

    // system:masters (the admin certificate) is never refused.
    let admin = c.client().await;
    let r = raw::json(&admin, "POST", CONFIGMAPS, Some(&config_map("admin", "v"))).await;
    assert_code(&r, 201);
    let metrics = admin
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert!(
        metrics.contains("apiserver_dropped_requests_total{request_kind=\"mutating\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 1"),
        "{metrics}"
    );

    // The held request completes; the pool admits again.
    {
        use tokio::io::AsyncWriteExt;
        held.stream.write_all(&body[5..]).await.unwrap();
    }
    let (head, _) = held.response(true).await;
    assert!(head.starts_with("http/1.1 201"), "{head}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = Conn::open(&c).await;
    let body = cm_body("again");
    again.send("POST", CONFIGMAPS, body.len(), &body).await;
    let (head, _) = again.response(true).await;
    assert!(head.starts_with("http/1.1 201"), "{head}");
}
