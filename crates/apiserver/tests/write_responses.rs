//! A write (create, update, patch, apply) answers the object as stored, whether the answer is
//! copied from the bytes just stored (a built-in kind in its stored version) or encoded from
//! the object (another version's view): the same object a GET returns next.

use crate::common;
use crate::common::raw::ok;

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answers_what_a_get_returns() {
    let c = common::cluster().await;
    let client = c.client().await;
    let cases = [
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "escapes", "labels": {"app": "web"},
                    "annotations": {"note": "ünïcødé 🚀, \"quoted\"\n\\ tab\t<&>"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                    "args": ["--json={\"k\":[1,2]}"],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}),
        ),
        (
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        ),
        (
            // Stored as autoscaling/v2: this answer is converted, not copied.
            "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers",
            json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": "web"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "web"}, "maxReplicas": 3, "targetCPUUtilizationPercentage": 70}}),
        ),
    ];
    for (path, body) in cases {
        let created = ok(&client, "POST", path, Some(&body)).await;
        let name = created["metadata"]["name"].as_str().unwrap();
        let got = ok(&client, "GET", &format!("{path}/{name}"), None).await;
        assert_eq!(created, got, "{path}");
        let rv = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("");
        assert!(rv.parse::<i64>().is_ok_and(|rv| rv > 0), "{created}");
        assert_eq!(created["apiVersion"], body["apiVersion"], "{created}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_and_patches_answer_what_a_get_returns() {
    let c = common::cluster().await;
    let client = c.client().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
        "data": {"a": "ünïcødé \"quoted\"\n"}});
    let created = ok(&client, "POST", path, Some(&cm)).await;
    let one = format!("{path}/cfg");
    let mut replaced = created.clone();
    replaced["data"]["b"] = json!("two");
    let updated = ok(&client, "PUT", &one, Some(&replaced)).await;
    assert_eq!(updated, ok(&client, "GET", &one, None).await, "PUT");
    assert_eq!(updated["data"]["b"], "two");
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let patched = ok(&client, "PATCH", &one, Some(&json!({"data": {"c": "3"}}))).await;
    assert_eq!(patched, ok(&client, "GET", &one, None).await, "PATCH");
    assert_eq!(patched["data"]["c"], "3");
    let applied = common::raw::send(
        &client,
        "PATCH",
        &format!("{one}?fieldManager=tester"),
        "application/apply-patch+yaml",
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
            "data": {"d": "4"}})
        .to_string()
        .into_bytes(),
    )
    .await;
    assert_eq!(applied.code, 200, "{}", applied.body);
    assert_eq!(applied.body, ok(&client, "GET", &one, None).await, "apply");
    assert_eq!(applied.body["data"]["d"], "4");
    // Through another version's view: converted, not copied.
    let hpa_v1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
    let hpa = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 3}});
    ok(&client, "POST", hpa_v1, Some(&hpa)).await;
    let patched = ok(
        &client,
        "PATCH",
        &format!("{hpa_v1}/web"),
        Some(&json!({"spec": {"maxReplicas": 5}})),
    )
    .await;
    assert_eq!(patched["apiVersion"], "autoscaling/v1", "{patched}");
    assert_eq!(
        patched,
        ok(&client, "GET", &format!("{hpa_v1}/web"), None).await
    );
}
