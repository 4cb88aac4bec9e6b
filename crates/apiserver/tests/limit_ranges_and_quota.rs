//! LimitRanger and ResourceQuota admission through the real kubectl: LimitRange defaults and
//! their annotation on a pod without resources, bounds refusing a pod with upstream's
//! message, quota exhaustion and the "must specify" rule refusing creates, `status.used`
//! charged by admission, and quotas naming unknown resources refused with 422.

use crate::common;

use common::{Cluster, cluster};
use serde_json::Value;

async fn create(c: &Cluster, manifest: &str) -> common::Out {
    c.kubectl_stdin(&["create", "-f", "-"], Some(manifest))
        .await
}

async fn get_json(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&c.ok(&all).await).unwrap()
}

fn pod(name: &str, resources: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: c\n    image: nginx\n{resources}"
    )
}

const LIMIT_RANGE: &str = "apiVersion: v1
kind: LimitRange
metadata:
  name: limits
spec:
  limits:
  - type: Container
    min: {cpu: 100m}
    max: {memory: 1Gi}
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 200m, memory: 256Mi}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_range_defaults_and_bounds() {
    let c = cluster().await;
    let out = create(&c, LIMIT_RANGE).await;
    assert!(out.ok, "{}", out.stderr);

    let out = create(&c, &pod("plain", "")).await;
    assert!(out.ok, "{}", out.stderr);
    let p = get_json(&c, &["pod", "plain"]).await;
    let res = &p["spec"]["containers"][0]["resources"];
    assert_eq!(res["requests"]["cpu"], "200m", "{p}");
    assert_eq!(res["requests"]["memory"], "256Mi", "{p}");
    assert_eq!(res["limits"]["cpu"], "500m", "{p}");
    assert_eq!(res["limits"]["memory"], "512Mi", "{p}");
    assert_eq!(
        p["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
    );

    let small = pod(
        "small",
        "    resources:\n      requests: {cpu: 50m}\n      limits: {cpu: 50m, memory: 2Gi}\n",
    );
    let out = create(&c, &small).await;
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "Error from server (Forbidden): error when creating \"STDIN\": pods \"small\" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, maximum memory usage per Container is 1Gi, but limit is 2Gi]"
        ),
        "{}",
        out.stderr
    );
    assert!(!c.kubectl(&["get", "pod", "small"]).await.ok);
}

const QUOTA: &str = "apiVersion: v1
kind: ResourceQuota
metadata:
  name: q
spec:
  hard:
    pods: \"2\"
    configmaps: \"2\"
    count/secrets: \"1\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_refuses_creates_beyond_hard() {
    let c = cluster().await;
    let out = create(&c, QUOTA).await;
    assert!(out.ok, "{}", out.stderr);
    for name in ["a", "b"] {
        let out = create(&c, &pod(name, "")).await;
        assert!(out.ok, "{}", out.stderr);
    }
    let q = get_json(&c, &["resourcequota", "q"]).await;
    assert_eq!(q["status"]["used"]["pods"], "2", "{q}");
    assert_eq!(q["status"]["hard"]["pods"], "2", "{q}");

    let out = create(&c, &pod("third", "")).await;
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "pods \"third\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
        ),
        "{}",
        out.stderr
    );

    c.ok(&["create", "configmap", "one"]).await;
    c.ok(&["create", "secret", "generic", "s1"]).await;
    let out = c.kubectl(&["create", "secret", "generic", "s2"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains(
            "secrets \"s2\" is forbidden: exceeded quota: q, requested: count/secrets=1, used: count/secrets=1, limited: count/secrets=1"
        ),
        "{}",
        out.stderr
    );
    let q = get_json(&c, &["resourcequota", "q"]).await;
    assert_eq!(q["status"]["used"]["configmaps"], "1", "{q}");
    assert_eq!(q["status"]["used"]["count/secrets"], "1", "{q}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_quota_requires_resources_and_counts_them() {
    let c = cluster().await;
    let quota = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: compute\nspec:\n  hard:\n    requests.cpu: \"1\"\n    limits.memory: 1Gi\n";
    assert!(create(&c, quota).await.ok);

    let out = create(&c, &pod("bare", "")).await;
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "pods \"bare\" is forbidden: failed quota: compute: must specify limits.memory for: c; requests.cpu for: c"
        ),
        "{}",
        out.stderr
    );

    let sized = |name: &str, cpu: &str| {
        pod(
            name,
            &format!(
                "    resources:\n      requests: {{cpu: {cpu}}}\n      limits: {{cpu: {cpu}, memory: 256Mi}}\n"
            ),
        )
    };
    assert!(create(&c, &sized("one", "600m")).await.ok);
    let out = create(&c, &sized("two", "600m")).await;
    assert!(
        out.stderr.contains(
            "pods \"two\" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1"
        ),
        "{}",
        out.stderr
    );
    let q = get_json(&c, &["resourcequota", "compute"]).await;
    assert_eq!(q["status"]["used"]["requests.cpu"], "600m", "{q}");
    assert_eq!(q["status"]["used"]["limits.memory"], "256Mi", "{q}");

    // With a LimitRange supplying defaults, the same bare pod is admitted.
    assert!(create(&c, LIMIT_RANGE).await.ok);
    let out = create(&c, &pod("defaulted", "")).await;
    assert!(out.ok, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_with_unknown_resource_is_invalid() {
    let c = cluster().await;
    let bad = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: bad\nspec:\n  hard:\n    gadgets: \"3\"\n";
    let out = create(&c, bad).await;
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stderr.contains("The ResourceQuota \"bad\" is invalid"));
    assert!(
        out.stderr.contains(
            "* spec.hard[gadgets]: Invalid value: \"gadgets\": must be a standard resource for quota"
        ),
        "{}",
        out.stderr
    );
    let good = "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: good\nspec:\n  hard:\n    count/deployments.apps: \"3\"\n    services.nodeports: \"1\"\n";
    let out = create(&c, good).await;
    assert!(out.ok, "{}", out.stderr);
}
