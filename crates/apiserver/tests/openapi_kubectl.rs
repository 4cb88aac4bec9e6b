//! The real kubectl (`/usr/bin/kubectl`, v1.32) against the apiserver's OpenAPI documents:
//! `kubectl explain` (OpenAPI v3), `kubectl create` choosing server-side field validation after
//! reading `/openapi/v3`, and the raw v2/v3 documents.

use crate::common;

use common::cluster;

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    ports: [{containerPort: 80}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_reads_openapi_v3() {
    let c = cluster().await;
    let out = c.ok(&["explain", "pods.spec.containers"]).await;
    for want in [
        "KIND:       Pod",
        "VERSION:    v1",
        "FIELD: containers <[]Container>",
        "List of containers belonging to the pod.",
        "A single application container that you want to run within a pod.",
        "FIELDS:",
        "image\t<string>",
        "name\t<string> -required-",
        "ports\t<[]ContainerPort>",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let out = c.ok(&["explain", "deployments.spec.template.spec"]).await;
    assert!(out.contains("GROUP:      apps"), "{out}");
    assert!(
        out.contains("containers\t<[]Container> -required-"),
        "{out}"
    );
    let out = c.ok(&["explain", "pods", "--recursive"]).await;
    assert!(out.contains("containerPort\t<integer> -required-"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_validates_on_the_server() {
    let c = cluster().await;
    // -v=6 logs every request: kubectl must find fieldValidation in /openapi/v3 and send
    // fieldValidation=Strict, without downloading /openapi/v2 for client-side validation.
    let out = c
        .kubectl_stdin(&["create", "-f", "-", "-v=6"], Some(POD))
        .await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("pod/web created"), "{}", out.stdout);
    assert!(
        out.stderr.contains("/openapi/v3/api/v1?hash="),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("fieldValidation=Strict"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("/openapi/v2"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_documents_are_served() {
    let c = cluster().await;
    let root: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v3"]).await).unwrap();
    let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("apps/v1 listed");
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    let apps: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "--raw", url]).await).unwrap();
    assert_eq!(apps["openapi"], "3.0.0");
    assert!(apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].is_object());
    let v2: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "--raw", "/openapi/v2"]).await).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    assert!(v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
}
