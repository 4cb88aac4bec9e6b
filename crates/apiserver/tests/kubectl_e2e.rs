//! End to end with the real kubectl (`/usr/bin/kubectl`, v1.32) against an apiserver started
//! in-process on the embedded store, over HTTPS with its generated CA and admin certificate.

use crate::common;

use common::cluster;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed")
}

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    ports: [{containerPort: 80}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_discovery_and_cluster_info() {
    let c = cluster().await;
    let v = c.ok(&["version"]).await;
    assert!(v.contains("Server Version: v1.33.0"), "{v}");
    let info = c.ok(&["cluster-info"]).await;
    assert!(info.contains("is running at https://127.0.0.1:"), "{info}");
    let res = c.ok(&["api-resources"]).await;
    for line in [
        "pods",
        "deployments",
        "replicationcontrollers",
        "clusterrolebindings",
    ] {
        assert!(
            res.lines().any(|l| l.starts_with(line)),
            "{line} missing:\n{res}"
        );
    }
    let pods_line = res.lines().find(|l| l.starts_with("pods ")).unwrap();
    let cols: Vec<&str> = pods_line.split_whitespace().collect();
    assert_eq!(cols, ["pods", "po", "v1", "true", "Pod"], "{pods_line}");
    let versions = c.ok(&["api-versions"]).await;
    for gv in ["v1", "apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1"] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing:\n{versions}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_namespaces_and_namespace_lifecycle() {
    let c = cluster().await;
    let ns = c.ok(&["get", "ns"]).await;
    assert!(ns.starts_with("NAME"), "{ns}");
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let line = ns
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name}:\n{ns}"));
        assert!(line.contains("Active"), "{line}");
    }
    let created = c.ok(&["create", "namespace", "team-a"]).await;
    assert_eq!(created.trim(), "namespace/team-a created");
    let err = c.kubectl(&["create", "namespace", "team-a"]).await;
    assert!(!err.ok);
    assert!(
        err.stderr.contains("AlreadyExists")
            && err.stderr.contains("namespaces \"team-a\" already exists"),
        "{}",
        err.stderr
    );
    // Objects cannot be created in a namespace that does not exist.
    let err = c
        .kubectl_stdin(&["create", "-n", "nowhere", "-f", "-"], Some(POD))
        .await;
    assert!(!err.ok);
    assert!(
        err.stderr.contains("namespaces \"nowhere\" not found"),
        "{}",
        err.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_and_output_formats() {
    let c = cluster().await;
    let out = c.kubectl_stdin(&["create", "-f", "-"], Some(POD)).await;
    assert!(out.ok, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "pod/web created");
    let table = c.ok(&["get", "pods"]).await;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..4], ["web", "0/1", "Pending", "0"]);
    let wide = c.ok(&["get", "pods", "-o", "wide"]).await;
    assert!(
        wide.lines().next().unwrap().contains("NOMINATED NODE"),
        "{wide}"
    );
    // Defaults were applied and read back.
    let json: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "pod", "web", "-o", "json"]).await).unwrap();
    assert_eq!(json["spec"]["restartPolicy"], "Always");
    assert_eq!(json["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(json["spec"]["terminationGracePeriodSeconds"], 30);
    assert_eq!(
        json["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(json["spec"]["containers"][0]["ports"][0]["protocol"], "TCP");
    assert_eq!(json["status"]["phase"], "Pending");
    assert!(
        json["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    let yaml = c.ok(&["get", "pod", "web", "-o", "yaml"]).await;
    assert!(
        yaml.contains("kind: Pod") && yaml.contains("name: web"),
        "{yaml}"
    );
    let jp = c
        .ok(&[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.spec.containers[0].image}",
        ])
        .await;
    assert_eq!(jp, "nginx:1.25");
    let labels = c.ok(&["get", "pods", "--show-labels"]).await;
    assert!(labels.contains("app=web"), "{labels}");
    let all = c.ok(&["get", "pods", "-A"]).await;
    assert!(
        all.lines().next().unwrap().starts_with("NAMESPACE"),
        "{all}"
    );
    assert!(all.contains("default") && all.contains("web"), "{all}");
    let err = c.kubectl(&["get", "pod", "nope"]).await;
    assert!(!err.ok);
    assert!(
        err.stderr
            .contains("Error from server (NotFound): pods \"nope\" not found"),
        "{}",
        err.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_label_annotate_and_delete() {
    let c = cluster().await;
    for name in ["a", "b", "c"] {
        let pod = POD.replace("name: web", &format!("name: {name}"));
        let out = c.kubectl_stdin(&["create", "-f", "-"], Some(&pod)).await;
        assert!(out.ok, "{}", out.stderr);
    }
    assert_eq!(
        c.ok(&["label", "pod", "a", "tier=front"]).await.trim(),
        "pod/a labeled"
    );
    assert_eq!(
        c.ok(&["annotate", "pod", "b", "note=hello"]).await.trim(),
        "pod/b annotated"
    );
    let front = c
        .ok(&["get", "pods", "-l", "tier=front", "-o", "name"])
        .await;
    assert_eq!(front.trim(), "pod/a");
    let not_front = c
        .ok(&["get", "pods", "-l", "tier!=front", "-o", "name"])
        .await;
    assert_eq!(not_front.trim(), "pod/b\npod/c");
    let set = c
        .ok(&["get", "pods", "-l", "app in (web, other)", "-o", "name"])
        .await;
    assert_eq!(set.lines().count(), 3);
    let by_field = c
        .ok(&[
            "get",
            "pods",
            "--field-selector",
            "metadata.name=b",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(by_field.trim(), "pod/b");
    let pending = c
        .ok(&[
            "get",
            "pods",
            "--field-selector",
            "status.phase=Pending",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(pending.lines().count(), 3);
    let note = c
        .ok(&[
            "get",
            "pod",
            "b",
            "-o",
            "jsonpath={.metadata.annotations.note}",
        ])
        .await;
    assert_eq!(note, "hello");
    let bad = c
        .kubectl(&["get", "pods", "--field-selector", "spec.bogus=x"])
        .await;
    assert!(
        !bad.ok && bad.stderr.contains("field label not supported: spec.bogus"),
        "{}",
        bad.stderr
    );
    assert!(
        c.ok(&["delete", "pod", "a"])
            .await
            .contains("pod \"a\" deleted")
    );
    assert!(
        c.ok(&["delete", "pods", "-l", "app=web"])
            .await
            .contains("pod \"b\" deleted")
    );
    let left = c.ok(&["get", "pods", "-o", "name"]).await;
    assert_eq!(left.trim(), "");

    // --all removes every object of the kind in the namespace, and only there.
    for (name, ns) in [("x", "default"), ("y", "default"), ("z", "kube-public")] {
        c.ok(&["create", "configmap", name, "-n", ns, "--from-literal=k=v"])
            .await;
    }
    let deleted = c
        .ok(&["delete", "configmaps", "--all", "-n", "default"])
        .await;
    assert!(
        deleted.contains("configmap \"x\" deleted") && deleted.contains("configmap \"y\" deleted"),
        "{deleted}"
    );
    let left = c.ok(&["get", "configmaps", "-A", "-o", "name"]).await;
    assert!(
        left.contains("configmap/z") && !left.contains("configmap/x"),
        "{left}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_manifests_create_and_scale() {
    let c = cluster().await;
    let dir = seed_dir();
    let out = c.ok(&["create", "-f", dir.to_str().unwrap()]).await;
    for line in [
        "replicationcontroller/mysql created",
        "service/mysql created",
        "replicationcontroller/myweb created",
        "service/myweb created",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }
    let rc: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "rc", "myweb", "-o", "json"]).await).unwrap();
    assert_eq!(rc["spec"]["replicas"], 2);
    assert_eq!(rc["spec"]["selector"]["app"], "myweb");
    let tmpl = &rc["spec"]["template"]["spec"];
    assert_eq!(tmpl["restartPolicy"], "Always");
    assert_eq!(
        tmpl["containers"][0]["imagePullPolicy"], "IfNotPresent",
        "as the manifest says: its image is built locally"
    );
    assert_eq!(
        tmpl["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );
    let svc: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "svc", "myweb", "-o", "json"]).await).unwrap();
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30001);
    assert_eq!(svc["spec"]["ports"][0]["protocol"], "TCP");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["sessionAffinity"], "None");
    assert_eq!(
        c.ok(&["scale", "rc", "myweb", "--replicas=3"]).await.trim(),
        "replicationcontroller/myweb scaled"
    );
    assert_eq!(
        c.ok(&["get", "rc", "myweb", "-o", "jsonpath={.spec.replicas}"])
            .await,
        "3"
    );
    let rcs = c.ok(&["get", "rc"]).await;
    let header: Vec<&str> = rcs.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    let deleted = c.ok(&["delete", "-f", dir.to_str().unwrap()]).await;
    assert!(
        deleted.contains("replicationcontroller \"mysql\" deleted"),
        "{deleted}"
    );
    // Only the apiserver's own Service is left.
    assert_eq!(
        c.ok(&["get", "rc,svc", "-o", "name"]).await.trim(),
        "service/kubernetes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_streams_changes() {
    let c = cluster().await;
    let mut watch = tokio::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(&c.server.kubeconfig)
        .args(["get", "pods", "-w", "--output-watch-events"])
        .env("HOME", c.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let out = c.kubectl_stdin(&["create", "-f", "-"], Some(POD)).await;
    assert!(out.ok, "{}", out.stderr);
    c.ok(&["label", "pod", "web", "x=y"]).await;
    let stdout = watch.stdout.take().unwrap();
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await {
            Ok(Ok(Some(line))) => seen.push(line),
            other => panic!("watch output stopped after {seen:?}: {other:?}"),
        }
    }
    assert!(seen[0].starts_with("EVENT"), "{seen:?}");
    assert!(
        seen[1].starts_with("ADDED") && seen[1].contains("web"),
        "{seen:?}"
    );
    assert!(
        seen[2].starts_with("MODIFIED") && seen[2].contains("web"),
        "{seen:?}"
    );
    watch.kill().await.unwrap();
}
