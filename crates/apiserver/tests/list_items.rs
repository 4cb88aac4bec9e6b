//! JSON LIST items are the objects a GET returns, without `kind` and `apiVersion`, with
//! their own `resourceVersion`: whether the apiserver copies them from the stored bytes (no
//! selector, the stored version) or decodes them (selectors, another version's view), whole
//! or in pages, from the store or from the watch cache (`resourceVersion=0`).

use crate::common;
use crate::common::raw::ok;

use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PODS: &str = "/api/v1/namespaces/default/pods";
const HPA_V1: &str = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
const HPA_V2: &str = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";

/// A pod with nested objects and lists, numbers, unicode and strings that need escapes.
fn pod(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app, "tier": "front"},
            "annotations": {"note": "ünïcødé 🚀 日本語, \"quoted\"\n\\ tab\t<&>"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
            "args": ["--json={\"k\":[1,2]}", "--empty="],
            "env": [{"name": "GREETING", "value": "héllo wörld"}],
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
            "terminationGracePeriodSeconds": 7}})
}

/// What a list shows of `obj` (as a GET returns it): the same without its type.
fn item(mut obj: Value) -> Value {
    let m = obj.as_object_mut().expect("an object");
    m.remove("kind");
    m.remove("apiVersion");
    obj
}

/// The items of a list at `path` (`?` or `&` then the query), following `continue` tokens
/// with pages of `limit` when given; also checks the list's own type and metadata.
async fn list(client: &kube::Client, path: &str, limit: Option<usize>, kind: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = match limit {
            Some(l) => format!("{path}{sep}limit={l}"),
            None => path.to_string(),
        };
        if let Some(t) = &token {
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}continue={t}");
        }
        let page = ok(client, "GET", &url, None).await;
        assert_eq!(page["kind"], kind, "{page}");
        let rv = page["metadata"]["resourceVersion"].as_str().unwrap_or("");
        assert!(rv.parse::<i64>().is_ok_and(|rv| rv > 0), "{page}");
        let page_items = page["items"].as_array().expect("items").clone();
        if let Some(l) = limit {
            assert!(page_items.len() <= l, "{page}");
        }
        items.extend(page_items);
        match page["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => {
                assert!(limit.is_some(), "a continue token without a limit: {page}");
                token = Some(form_urlencoded::byte_serialize(t.as_bytes()).collect());
            }
            _ => return items,
        }
    }
}

/// `list` until it returns `want`: a `resourceVersion=0` list comes from the watch cache,
/// which may lag the last write briefly.
async fn eventually_list(client: &kube::Client, path: &str, kind: &str, want: &[Value]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = list(client, path, None, kind).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: got {got:#?}\nwant {want:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_are_the_objects_without_their_type() {
    let c = common::cluster().await;
    let client = c.client().await;
    let other = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}});
    ok(&client, "POST", "/api/v1/namespaces", Some(&other)).await;
    let names: Vec<String> = (0..7).map(|i| format!("pod-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let app = if i % 2 == 0 { "even" } else { "odd" };
        ok(&client, "POST", PODS, Some(&pod(name, app))).await;
    }
    ok(
        &client,
        "POST",
        "/api/v1/namespaces/other/pods",
        Some(&pod("elsewhere", "even")),
    )
    .await;
    // Later writes: items carry their object's latest revision, not the list's.
    let patch = json!({"metadata": {"annotations": {"patched": "yes ✓"}}});
    ok(&client, "PATCH", &format!("{PODS}/pod-3"), Some(&patch)).await;
    let status = json!({"status": {"phase": "Running", "podIP": "10.0.0.3"}});
    ok(
        &client,
        "PATCH",
        &format!("{PODS}/pod-5/status"),
        Some(&status),
    )
    .await;

    // What a GET of each object returns, as list items.
    let mut default = Vec::new();
    for name in &names {
        default.push(item(
            ok(&client, "GET", &format!("{PODS}/{name}"), None).await,
        ));
    }
    let elsewhere = item(
        ok(
            &client,
            "GET",
            "/api/v1/namespaces/other/pods/elsewhere",
            None,
        )
        .await,
    );
    let rvs: Vec<&str> = default
        .iter()
        .map(|o| o["metadata"]["resourceVersion"].as_str().unwrap())
        .collect();
    assert!(rvs.iter().all(|rv| !rv.is_empty()), "{rvs:?}");
    assert_ne!(rvs[3], rvs[2], "pod-3 was written again");
    // In key order: namespace, then name.
    let mut all = default.clone();
    all.push(elsewhere);
    let odd: Vec<Value> = default.iter().skip(1).step_by(2).cloned().collect();

    // Copied from the stored bytes: whole, in pages, across namespaces.
    assert_eq!(list(&client, PODS, None, "PodList").await, default);
    for limit in [1, 2, 3, 7, 100] {
        assert_eq!(list(&client, PODS, Some(limit), "PodList").await, default);
    }
    assert_eq!(list(&client, "/api/v1/pods", None, "PodList").await, all);
    assert_eq!(list(&client, "/api/v1/pods", Some(3), "PodList").await, all);
    // From the watch cache.
    eventually_list(
        &client,
        &format!("{PODS}?resourceVersion=0"),
        "PodList",
        &default,
    )
    .await;
    eventually_list(&client, "/api/v1/pods?resourceVersion=0", "PodList", &all).await;
    // At an exact revision.
    let rv = ok(&client, "GET", PODS, None).await["metadata"]["resourceVersion"].clone();
    let exact = format!(
        "{PODS}?resourceVersion={}&resourceVersionMatch=Exact",
        rv.as_str().unwrap()
    );
    assert_eq!(list(&client, &exact, None, "PodList").await, default);

    // Decoded for selectors: the same items, whole and in pages, from the store or the cache.
    let odd_path = format!("{PODS}?labelSelector=app%3Dodd");
    assert_eq!(list(&client, &odd_path, None, "PodList").await, odd);
    assert_eq!(list(&client, &odd_path, Some(2), "PodList").await, odd);
    eventually_list(
        &client,
        &format!("{odd_path}&resourceVersion=0"),
        "PodList",
        &odd,
    )
    .await;
    let by_name = format!("{PODS}?fieldSelector=metadata.name%3Dpod-5");
    assert_eq!(
        list(&client, &by_name, None, "PodList").await,
        vec![default[5].clone()]
    );
    assert_eq!(default[5]["status"]["podIP"], "10.0.0.3");
    assert_eq!(default[3]["metadata"]["annotations"]["patched"], "yes ✓");
    assert_eq!(
        default[0]["metadata"]["annotations"]["note"],
        "ünïcødé 🚀 日本語, \"quoted\"\n\\ tab\t<&>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_of_another_versions_view_are_converted() {
    let c = common::cluster().await;
    let client = c.client().await;
    for name in ["api", "web"] {
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 60}}}]}});
        ok(&client, "POST", HPA_V2, Some(&hpa)).await;
    }
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for name in ["api", "web"] {
        v1.push(item(
            ok(&client, "GET", &format!("{HPA_V1}/{name}"), None).await,
        ));
        v2.push(item(
            ok(&client, "GET", &format!("{HPA_V2}/{name}"), None).await,
        ));
    }
    // autoscaling/v1 is a view: its items are converted.
    assert_eq!(v1[0]["spec"]["targetCPUUtilizationPercentage"], 60);
    assert!(v1[0]["spec"].get("metrics").is_none(), "{}", v1[0]);
    let kind = "HorizontalPodAutoscalerList";
    assert_eq!(list(&client, HPA_V1, None, kind).await, v1);
    assert_eq!(list(&client, HPA_V1, Some(1), kind).await, v1);
    eventually_list(&client, &format!("{HPA_V1}?resourceVersion=0"), kind, &v1).await;
    // autoscaling/v2 is the stored version: copied.
    assert_eq!(v2[0]["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert_eq!(list(&client, HPA_V2, None, kind).await, v2);
    assert_eq!(list(&client, HPA_V2, Some(1), kind).await, v2);
    eventually_list(&client, &format!("{HPA_V2}?resourceVersion=0"), kind, &v2).await;
}
