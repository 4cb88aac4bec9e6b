//! Pod features on real containers: memory limits and OOMKilled, CPU/memory cgroup limits,
//! securityContext, host networking, and the volume types (downwardAPI, projected, secret
//! with modes, subPath, memory-backed emptyDir, a PVC bound to a hostPath PV), and Secret and
//! ConfigMap updates reaching the files of a running pod within the sync period.

use crate::common;

use std::time::Duration;

use common::{BUSYBOX, TestNode, container_status as status};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Pod, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && p.status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten())
            .all(|c| c.ready)
}

/// Runs `cmd` in a container: (exit code, stdout and stderr together).
async fn exec(node: &TestNode, p: &Pod, name: &str, cmd: &[&str]) -> (i32, String) {
    let (code, out, err) = node.exec(p, name, cmd).await;
    (code, out + &err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_ooms_and_cgroup_limits_apply() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": BUSYBOX,
            "command": ["sh", "-c", "head -c 200m /dev/zero | tail"],
            "resources": {"limits": {"memory": "32Mi", "cpu": "250m"}}}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "limited"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
            "resources": {"requests": {"cpu": "100m", "memory": "16Mi"}, "limits": {"cpu": "500m", "memory": "64Mi"}}}]}
    }))
    .await;
    let p = node
        .wait_pod("hog", Duration::from_secs(30), |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
        })
        .await;
    let t = status(&p, "c")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.reason.as_deref(), t.exit_code), (Some("OOMKilled"), 137));
    assert_eq!(
        p.status.as_ref().unwrap().qos_class.as_deref(),
        Some("Guaranteed")
    );

    let p = node
        .wait_pod("limited", Duration::from_secs(30), running)
        .await;
    assert_eq!(
        p.status.as_ref().unwrap().qos_class.as_deref(),
        Some("Burstable")
    );
    let uid = p.metadata.uid.clone().unwrap();
    let cid = status(&p, "c")
        .unwrap()
        .container_id
        .clone()
        .unwrap()
        .trim_start_matches("containerd://")
        .to_string();
    let cg = |ctrl: &str, file: &str| {
        std::fs::read_to_string(format!(
            "/sys/fs/cgroup/{ctrl}/kubepods/burstable/pod{uid}/{cid}/{file}"
        ))
        .unwrap()
        .trim()
        .to_string()
    };
    assert_eq!(
        cg("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg("cpu", "cpu.shares"), "102");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_context_and_host_network() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "locked"},
        "spec": {"terminationGracePeriodSeconds": 1, "securityContext": {"runAsUser": 1000, "runAsGroup": 3000},
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
                "securityContext": {"readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostnet"},
        "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": true,
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP]}]}
    }))
    .await;
    let p = node
        .wait_pod("locked", Duration::from_secs(30), running)
        .await;
    assert_eq!(
        exec(&node, &p, "c", &["id", "-u"]).await,
        (0, "1000\n".into())
    );
    assert_eq!(
        exec(&node, &p, "c", &["id", "-g"]).await,
        (0, "3000\n".into())
    );
    let (code, out) = exec(&node, &p, "c", &["touch", "/x"]).await;
    assert_ne!(code, 0, "read-only root: {out}");
    let (_, caps) = exec(&node, &p, "c", &["grep", "CapEff", "/proc/self/status"]).await;
    assert!(caps.contains("0000000000000000"), "{caps}");

    let h = node
        .wait_pod("hostnet", Duration::from_secs(30), running)
        .await;
    assert_eq!(
        h.status.as_ref().unwrap().pod_ip.as_deref(),
        Some("127.0.0.1"),
        "host network pods report the node IP"
    );
    let (_, links) = exec(&node, &h, "c", &["ip", "-o", "link"]).await;
    assert!(
        links.contains(&node_bridge_hint(&links)),
        "sees the host's interfaces: {links}"
    );
    node.stop().await;
}

/// Any non-loopback interface name: the host has one, a pod netns has only lo and eth0.
fn node_bridge_hint(links: &str) -> String {
    links
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .find(|n| n != "lo" && n != "eth0")
        .unwrap_or_else(|| "<none besides lo and eth0>".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_types() {
    let node = TestNode::start().await;
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "creds"}, "stringData": {"user": "admin", "pass": "s3cret"}}),
    )
    .unwrap();
    Api::<Secret>::namespaced(node.client.clone(), "default")
        .create(&Default::default(), &secret)
        .await
        .unwrap();
    let data = node.dir.path().join("pv-data");
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "pv1"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": data.to_string_lossy(), "type": "DirectoryOrCreate"}}
    }))
    .unwrap();
    Api::<PersistentVolume>::all(node.client.clone())
        .create(&Default::default(), &pv)
        .await
        .unwrap();
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "claim"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv1"}
    }))
    .unwrap();
    Api::<PersistentVolumeClaim>::namespaced(node.client.clone(), "default")
        .create(&Default::default(), &pvc)
        .await
        .unwrap();
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "vols", "labels": {"tier": "db"}, "annotations": {"note": "hi"}},
        "spec": {"terminationGracePeriodSeconds": 1,
            "volumes": [
                {"name": "info", "downwardAPI": {"items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}}]}},
                {"name": "all", "projected": {"sources": [
                    {"secret": {"name": "creds", "items": [{"key": "user", "path": "auth/user"}]}},
                    {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
                {"name": "sec", "secret": {"secretName": "creds", "defaultMode": 256}},
                {"name": "ram", "emptyDir": {"medium": "Memory"}},
                {"name": "shared", "emptyDir": {}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}}
            ],
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
                "resources": {"limits": {"memory": "48Mi"}},
                "volumeMounts": [
                    {"name": "info", "mountPath": "/etc/info"},
                    {"name": "all", "mountPath": "/etc/all"},
                    {"name": "sec", "mountPath": "/etc/sec"},
                    {"name": "ram", "mountPath": "/ram"},
                    {"name": "shared", "mountPath": "/sub", "subPath": "part/one"},
                    {"name": "data", "mountPath": "/data"}]}]}
    }))
    .await;
    let p = node
        .wait_pod("vols", Duration::from_secs(30), running)
        .await;
    let cat = |path: &'static str| {
        let (node, p) = (&node, &p);
        async move { exec(node, p, "c", &["cat", path]).await }
    };
    assert_eq!(cat("/etc/info/labels").await, (0, "tier=\"db\"".into()));
    assert_eq!(cat("/etc/info/mem").await, (0, "48".into()));
    assert_eq!(cat("/etc/all/auth/user").await, (0, "admin".into()));
    assert_eq!(cat("/etc/all/name").await, (0, "vols".into()));
    assert_eq!(cat("/etc/sec/pass").await, (0, "s3cret".into()));
    let (_, mode) = exec(&node, &p, "c", &["stat", "-L", "-c", "%a", "/etc/sec/pass"]).await;
    assert_eq!(mode, "400\n");
    let (code, _) = exec(&node, &p, "c", &["touch", "/etc/sec/new"]).await;
    assert_ne!(code, 0, "secret volumes are read-only");
    let (_, mounts) = exec(&node, &p, "c", &["cat", "/proc/mounts"]).await;
    assert!(
        mounts.lines().any(|l| l.contains(" /ram tmpfs ")),
        "{mounts}"
    );
    exec(
        &node,
        &p,
        "c",
        &["sh", "-c", "echo x > /sub/f && echo y > /data/f"],
    )
    .await;
    let uid = p.metadata.uid.clone().unwrap();
    let shared = node.dir.path().join(format!(
        "agent/pods/{uid}/volumes/kubernetes.io~empty-dir/shared/part/one/f"
    ));
    assert_eq!(std::fs::read_to_string(shared).unwrap(), "x\n");
    assert_eq!(
        std::fs::read_to_string(data.join("f")).unwrap(),
        "y\n",
        "PVC writes land in the PV's hostPath"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_and_config_map_updates_reach_a_running_pod() {
    let node = TestNode::start().await;
    let secrets: Api<Secret> = Api::namespaced(node.client.clone(), "default");
    let maps: Api<ConfigMap> = Api::namespaced(node.client.clone(), "default");
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "token"}, "stringData": {"value": "v1"}}),
    )
    .unwrap();
    secrets.create(&Default::default(), &secret).await.unwrap();
    let map: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"mode": "slow"}}))
            .unwrap();
    maps.create(&Default::default(), &map).await.unwrap();
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "watcher"},
        "spec": {"terminationGracePeriodSeconds": 1,
            "volumes": [
                {"name": "sec", "secret": {"secretName": "token"}},
                {"name": "cfg", "configMap": {"name": "settings"}},
                {"name": "both", "projected": {"sources": [
                    {"secret": {"name": "token"}}, {"configMap": {"name": "settings"}}]}}],
            "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
                "volumeMounts": [
                    {"name": "sec", "mountPath": "/etc/sec"},
                    {"name": "cfg", "mountPath": "/etc/cfg"},
                    {"name": "both", "mountPath": "/etc/both"}]}]}
    }))
    .await;
    let p = node
        .wait_pod("watcher", Duration::from_secs(30), running)
        .await;
    let read_all = || async {
        let mut out = Vec::new();
        for f in [
            "/etc/sec/value",
            "/etc/cfg/mode",
            "/etc/both/value",
            "/etc/both/mode",
        ] {
            out.push(exec(&node, &p, "c", &["cat", f]).await.1);
        }
        out
    };
    assert_eq!(read_all().await, ["v1", "slow", "v1", "slow"]);

    let updated = tokio::time::Instant::now();
    secrets
        .patch(
            "token",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "djI="}})), // base64("v2")
        )
        .await
        .unwrap();
    maps.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"mode": "fast"}})),
    )
    .await
    .unwrap();
    // The kubelet rewrites projected files on its periodic sync (5 s in the tests).
    let period = node.config.sync_interval;
    loop {
        let now = read_all().await;
        if now == ["v2", "fast", "v2", "fast"] {
            break;
        }
        assert!(
            updated.elapsed() < period * 2 + Duration::from_secs(5),
            "updates did not reach the pod within two sync periods: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cs = status(&node.pods().get("watcher").await.unwrap(), "c")
        .cloned()
        .unwrap();
    assert_eq!(cs.restart_count, 0, "the files change in place");
    node.stop().await;
}
