//! A create answers the object as stored, whether the answer is copied from the bytes just
//! stored (a built-in kind in its stored version) or encoded from the object (another
//! version's view): the same object a GET returns next.

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
