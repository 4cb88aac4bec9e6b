//! Request options as upstream checks them: `resourceVersionMatch` on lists and watches,
//! bookmarks, `dryRun` values.

use crate::common;

use futures::{AsyncBufReadExt, StreamExt};
use http::Request;
use serde_json::{Value, json};
use std::time::Duration;

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// One request: (200 or the error code, body or `{reason, message, details}`).
async fn call(
    client: &kube::Client,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
        .unwrap();
    match client.request_text(req).await {
        Ok(text) => (200, serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(s)) => (
            s.code,
            json!({"reason": s.reason, "message": s.message, "details": s.details}),
        ),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

fn config_map(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": app}}, "data": {"k": "v"}})
}

async fn create(client: &kube::Client, name: &str, app: &str) -> i64 {
    let (code, obj) = call(client, "POST", CONFIGMAPS, Some(&config_map(name, app))).await;
    assert_eq!(code, 200, "{obj}");
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A watch's events, one JSON value per line.
async fn watch(
    client: &kube::Client,
    query: &str,
) -> impl futures::Stream<Item = Value> + Unpin + use<> {
    let req = Request::get(format!("{CONFIGMAPS}?watch=true&{query}"))
        .body(Vec::new())
        .unwrap();
    let reader = client.request_stream(req).await.unwrap();
    reader
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .boxed()
}

async fn next(
    events: &mut (impl futures::Stream<Item = Value> + Unpin),
    within: Duration,
) -> Value {
    tokio::time::timeout(within, events.next())
        .await
        .expect("a watch event in time")
        .expect("the watch goes on")
}

fn rv_of(event: &Value) -> i64 {
    event["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_version_match_follows_upstreams_list_options_rules() {
    let c = common::cluster().await;
    let client = c.client().await;
    let rv = create(&client, "a", "x").await;

    // Watches: resourceVersionMatch only with sendInitialEvents, and then NotOlderThan.
    for (query, wants) in [
        (
            format!("resourceVersion={rv}&resourceVersionMatch=NotOlderThan"),
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
        (
            format!("resourceVersion={rv}&resourceVersionMatch=Exact"),
            "resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"",
        ),
        (
            "sendInitialEvents=true".to_string(),
            "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
        (
            "sendInitialEvents=true&resourceVersionMatch=Exact".to_string(),
            "resourceVersionMatch: Unsupported value: \"Exact\"",
        ),
    ] {
        let (code, status) = call(
            &client,
            "GET",
            &format!("{CONFIGMAPS}?watch=true&{query}"),
            None,
        )
        .await;
        assert_eq!(code, 422, "{query}: {status}");
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(status["details"]["kind"], "ListOptions");
        assert_eq!(status["details"]["group"], "meta.k8s.io");
        let message = status["message"].as_str().unwrap();
        assert!(
            message.starts_with("ListOptions.meta.k8s.io \"\" is invalid: "),
            "{message}"
        );
        assert!(message.contains(wants), "{query}: {message}");
    }
    // Lists: a match needs a resourceVersion, Exact needs a non-zero one.
    for (query, wants) in [
        (
            "resourceVersionMatch=NotOlderThan",
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
        (
            "resourceVersion=0&resourceVersionMatch=Exact",
            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
        ),
        (
            "resourceVersion=1&resourceVersionMatch=Latest",
            "Unsupported value: \"Latest\": supported values: \"Exact\", \"NotOlderThan\", \"\"",
        ),
        (
            "sendInitialEvents=true",
            "sendInitialEvents is forbidden for list",
        ),
    ] {
        let (code, status) = call(&client, "GET", &format!("{CONFIGMAPS}?{query}"), None).await;
        assert_eq!(code, 422, "{query}: {status}");
        assert!(
            status["message"].as_str().unwrap().contains(wants),
            "{query}: {status}"
        );
    }
    let (code, list) = call(
        &client,
        "GET",
        &format!("{CONFIGMAPS}?resourceVersion={rv}&resourceVersionMatch=Exact"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // The valid watch-list form: the state as ADDED events, then the initial-events-end
    // bookmark at the revision of that state.
    let mut events = watch(
        &client,
        "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    )
    .await;
    let added = next(&mut events, Duration::from_secs(10)).await;
    assert_eq!((added["type"].as_str(), rv_of(&added)), (Some("ADDED"), rv));
    let end = next(&mut events, Duration::from_secs(10)).await;
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(rv_of(&end) >= rv);
}

/// Bookmarks carry the revision the watcher has been brought up to, changes its selector
/// filtered out included, and never go back behind an event already sent. Upstream sends one
/// two seconds before the watch times out (and every minute): with `timeoutSeconds=5` it
/// comes at about 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_carry_the_latest_revision_of_the_watch() {
    let c = common::cluster().await;
    let client = c.client().await;
    let start = create(&client, "before", "other").await;
    let mut events = watch(
        &client,
        &format!("resourceVersion={start}&labelSelector=app%3Dweb&allowWatchBookmarks=true&timeoutSeconds=5"),
    )
    .await;
    let web = create(&client, "web", "web").await;
    let mut last = web;
    for name in ["o1", "o2", "o3"] {
        last = create(&client, name, "other").await;
    }
    let added = next(&mut events, Duration::from_secs(5)).await;
    assert_eq!(
        (added["type"].as_str(), rv_of(&added)),
        (Some("ADDED"), web)
    );
    let bookmark = next(&mut events, Duration::from_secs(5)).await;
    assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert_eq!(rv_of(&bookmark), last, "{bookmark}");
    // The watch then ends at its timeout.
    let end = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the watch ends at its timeout");
    assert!(end.is_none(), "{end:?}");
}

/// A kubelet's watch (pods with `spec.nodeName=<its node>`) is offered only its node's pods
/// by the watch cache, yet its bookmarks still carry the newest revision — other nodes'
/// changes included — or its client would resume from a revision long gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_filtered_pod_watch_sees_its_pods_and_bookmarks_the_latest_revision() {
    let c = common::cluster().await;
    let client = c.client().await;
    let pods = "/api/v1/namespaces/default/pods";
    let create_pod = |name: &'static str, node: &'static str| {
        let client = client.clone();
        async move {
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
            });
            let (code, obj) = call(&client, "POST", pods, Some(&pod)).await;
            assert_eq!(code, 200, "{obj}");
            obj["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    // A list from the cache starts the pods' watch cache, so the watch below is served by it
    // (the first watch of a resource from a past revision goes to the store).
    let (code, _) = call(&client, "GET", &format!("{pods}?resourceVersion=0"), None).await;
    assert_eq!(code, 200);
    let start = create_pod("before", "n2").await;
    let req = Request::get(format!(
        "{pods}?watch=true&resourceVersion={start}&fieldSelector=spec.nodeName%3Dn1&allowWatchBookmarks=true&timeoutSeconds=5"
    ))
    .body(Vec::new())
    .unwrap();
    let mut events = client
        .request_stream(req)
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap())
        .boxed();
    let mine = create_pod("mine", "n1").await;
    let mut last = mine;
    for name in ["o1", "o2", "o3"] {
        last = create_pod(name, "n2").await;
    }
    let added = next(&mut events, Duration::from_secs(5)).await;
    assert_eq!(
        (
            added["type"].as_str(),
            added["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("mine")),
        "{added}"
    );
    assert_eq!(rv_of(&added), mine);
    let bookmark = next(&mut events, Duration::from_secs(5)).await;
    assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
    assert_eq!(rv_of(&bookmark), last, "{bookmark}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_values_are_validated_and_reads_ignore_them() {
    // What a dry run does is tested in tests/dry_run.rs; here, the option's validation.
    let c = common::cluster().await;
    let client = c.client().await;
    let body = config_map("dry", "x");
    // Unknown values: upstream's CreateOptions/DeleteOptions validation.
    let (code, status) = call(
        &client,
        "POST",
        &format!("{CONFIGMAPS}?dryRun=Yes"),
        Some(&body),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Yes\"}: supported values: \"All\""
    );
    let (code, _) = call(&client, "GET", &format!("{CONFIGMAPS}/dry"), None).await;
    assert_eq!(code, 404, "a refused request must not persist");
    create(&client, "kept", "x").await;
    let (code, status) = call(
        &client,
        "DELETE",
        &format!("{CONFIGMAPS}/kept?dryRun=bogus"),
        None,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("DeleteOptions.meta.k8s.io")
    );
    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["Maybe"]});
    let (code, _) = call(
        &client,
        "DELETE",
        &format!("{CONFIGMAPS}/kept"),
        Some(&opts),
    )
    .await;
    assert_eq!(code, 422);
    // Reads ignore the parameter.
    let (code, _) = call(
        &client,
        "GET",
        &format!("{CONFIGMAPS}/kept?dryRun=All"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    c.ok(&["get", "configmap", "kept"]).await;
}
