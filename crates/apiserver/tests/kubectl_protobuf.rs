//! kubectl's typed commands (`create namespace|configmap|secret|deployment`) send their bodies
//! as Kubernetes protobuf; the real kubectl (`/usr/bin/kubectl`, v1.32) against an apiserver
//! started in-process, reading the objects back as JSON.

use crate::common;

use common::cluster;
use serde_json::Value;

/// `kubectl get <args> -o json`, parsed.
async fn get_json(c: &common::Cluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let stdout = c.ok(&all).await;
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_send_protobuf() {
    let c = cluster().await;

    // -v=8 logs the request headers: the body really is protobuf.
    let (out, log) = c
        .ok_with_log(&["create", "namespace", "team-b", "-v=8"])
        .await;
    assert_eq!(out.trim(), "namespace/team-b created");
    assert!(
        log.contains("Content-Type: application/vnd.kubernetes.protobuf"),
        "kubectl did not send protobuf:\n{log}"
    );
    let ns = get_json(&c, &["namespace", "team-b"]).await;
    assert_eq!(ns["metadata"]["name"], "team-b");
    assert_eq!(ns["status"]["phase"], "Active");
    assert!(ns["metadata"]["creationTimestamp"].is_string(), "{ns}");
    assert!(
        ns["metadata"].get("generateName").is_none(),
        "zero fields must not appear: {ns}"
    );

    let out = c
        .ok(&[
            "-n",
            "team-b",
            "create",
            "configmap",
            "c",
            "--from-literal=a=b",
        ])
        .await;
    assert_eq!(out.trim(), "configmap/c created");
    let cm = get_json(&c, &["-n", "team-b", "configmap", "c"]).await;
    assert_eq!(cm["data"], serde_json::json!({"a": "b"}));
    assert_eq!(cm["metadata"]["namespace"], "team-b");

    let out = c
        .ok(&[
            "-n",
            "team-b",
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=p=q",
        ])
        .await;
    assert_eq!(out.trim(), "secret/s created");
    let secret = get_json(&c, &["-n", "team-b", "secret", "s"]).await;
    assert_eq!(secret["data"], serde_json::json!({"p": "cQ=="}));
    assert_eq!(secret["type"], "Opaque");

    let out = c
        .ok(&[
            "-n",
            "team-b",
            "create",
            "deployment",
            "d",
            "--image=nginx:1.25",
            "--replicas=2",
        ])
        .await;
    assert_eq!(out.trim(), "deployment.apps/d created");
    let d = get_json(&c, &["-n", "team-b", "deployment", "d"]).await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "d");
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx:1.25");
    assert_eq!(d["spec"]["template"]["metadata"]["labels"]["app"], "d");

    // An explicit zero in a pointer field survives (absent would default to 1).
    c.ok(&[
        "-n",
        "team-b",
        "create",
        "deployment",
        "z",
        "--image=nginx:1.25",
        "--replicas=0",
    ])
    .await;
    let z = get_json(&c, &["-n", "team-b", "deployment", "z"]).await;
    assert_eq!(z["spec"]["replicas"], 0, "{z}");
}

/// The protobuf request body in kubectl's `-v=9` log (a hex dump), if there is one.
fn logged_protobuf_body(log: &str) -> Option<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in log.lines() {
        if line.contains("\"Request Body\" body=<") {
            current = Some(Vec::new());
        } else if let Some(body) = current.as_mut() {
            // `\t00000010  73 70 61 63 |spac|`: offset, up to 16 hex bytes, the text.
            let hex = line.trim_start().split_once("  ").map(|(_, rest)| rest);
            match hex.map(|h| h.split('|').next().unwrap_or("")) {
                Some(h) if !line.trim().starts_with('>') => body.extend(
                    h.split_whitespace()
                        .filter_map(|b| u8::from_str_radix(b, 16).ok()),
                ),
                _ => bodies.extend(current.take()),
            }
        }
    }
    bodies.into_iter().find(|b| b.starts_with(b"k8s\0"))
}

/// `null`s removed: Go writes `null` for an empty list without `omitempty` (an HPA's
/// `status.currentMetrics`); the decoder leaves absent lists out, which Kubernetes reads alike.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// For each typed command, the body kubectl sent, decoded by us, equals kubectl's own JSON
/// rendering of the same object (`--dry-run=client -o json`): the JSON a JSON client would send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_bodies_equal_kubectls_own_json() {
    let c = cluster().await;
    let commands: &[&[&str]] = &[
        &["create", "namespace", "team-c"],
        &[
            "create",
            "configmap",
            "c",
            "--from-literal=a=b",
            "--from-literal=empty=",
        ],
        &[
            "create",
            "secret",
            "generic",
            "s",
            "--from-literal=p=q",
            "--type=Opaque",
        ],
        &[
            "create",
            "deployment",
            "d",
            "--image=nginx:1.25",
            "--replicas=0",
            "--port=80",
        ],
        &[
            "create",
            "service",
            "nodeport",
            "web",
            "--tcp=80:8080",
            "--node-port=30080",
        ],
        &["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
        &[
            "create",
            "cronjob",
            "cj",
            "--image=busybox",
            "--schedule=*/1 * * * *",
        ],
        &["create", "role", "r", "--verb=get", "--resource=pods"],
        &[
            "create",
            "poddisruptionbudget",
            "pdb",
            "--selector=app=d",
            "--min-available=0",
        ],
        &["create", "ingress", "ing", "--rule=foo.com/bar=svc1:8080"],
        &["create", "quota", "q", "--hard=cpu=1,pods=2"],
        &[
            "autoscale",
            "deployment",
            "d",
            "--min=2",
            "--max=5",
            "--cpu-percent=80",
        ],
    ];
    for args in commands {
        // Flags go before a `--` (after it they would be the container's command).
        let with = |flags: &[&'static str]| {
            let mut all = args.to_vec();
            let at = all.iter().position(|a| *a == "--").unwrap_or(all.len());
            all.splice(at..at, flags.iter().copied());
            all
        };
        let dry = with(&["--dry-run=client", "-o", "json"]);
        let expected = c.ok(&dry).await;
        let expected: Value =
            serde_json::from_str(&expected).unwrap_or_else(|e| panic!("{args:?}: {e}: {expected}"));
        let real = with(&["-v=9"]);
        let (_, log) = c.ok_with_log(&real).await;
        let body = logged_protobuf_body(&log)
            .unwrap_or_else(|| panic!("{args:?}: no protobuf body:\n{log}"));
        let decoded = rkube_apiserver::protobuf::decode_body(&body).unwrap();
        assert_eq!(without_nulls(decoded), without_nulls(expected), "{args:?}");
    }
}
