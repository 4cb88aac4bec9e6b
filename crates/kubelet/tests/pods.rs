//! The kubelet against a real apiserver and a real containerd: node registration and
//! heartbeat, pod start and status, init containers, restarts with back-off, volumes,
//! environment, graceful deletion, image errors, lifecycle hooks (postStart before Ready, a
//! failing postStart reported and restarted, preStop) and adoption after a kubelet restart.

use crate::common;

use std::time::Duration;

use common::{BUSYBOX, TestNode, container_status};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::DeleteParams;
use serde_json::json;

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn running_and_ready(p: &Pod) -> bool {
    phase(p) == "Running"
        && p.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn sleeper(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 2, "containers": [{"name": "main", "image": BUSYBOX,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]}]}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_registers_reports_ready_and_renews_its_lease() {
    let node = TestNode::start().await;
    let nodes: Api<Node> = Api::all(node.client.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let n = loop {
        let n = nodes.get(&node.name).await.unwrap();
        let ready = n
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready {
            break n;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node never Ready: {:#?}",
            n.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let status = n.status.unwrap();
    let cap = status.capacity.unwrap();
    assert_eq!(cap["pods"].0, "110");
    assert!(
        cap.contains_key("cpu")
            && cap.contains_key("memory")
            && cap.contains_key("ephemeral-storage")
    );
    let info = status.node_info.unwrap();
    assert!(
        info.container_runtime_version.starts_with("containerd://"),
        "{info:?}"
    );
    assert_eq!(info.operating_system, "linux");
    let types: Vec<_> = status
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(
        types,
        ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    );
    assert_eq!(
        n.metadata.labels.unwrap()["kubernetes.io/hostname"],
        node.name
    );
    let leases: Api<Lease> = Api::namespaced(node.client.clone(), "kube-node-lease");
    let lease = leases.get(&node.name).await.unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(node.name.as_str()));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    assert_eq!(lease.metadata.owner_references.unwrap()[0].kind, "Node");
    let out = node.kubectl(&["get", "nodes"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&node.name) && text.contains("Ready"),
        "{text}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_runs_reports_status_and_is_deleted_gracefully() {
    let node = TestNode::start().await;
    node.create_pod(sleeper("web")).await;
    let p = node
        .wait_pod("web", Duration::from_secs(30), running_and_ready)
        .await;
    let st = p.status.clone().unwrap();
    let ip = st.pod_ip.clone().expect("pod IP");
    assert!(ip.starts_with("10.232."), "{ip}");
    assert_eq!(st.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(st.qos_class.as_deref(), Some("BestEffort"));
    assert!(st.start_time.is_some());
    let cs = &st.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.started == Some(true) && cs.restart_count == 0);
    assert!(
        cs.container_id
            .as_deref()
            .unwrap()
            .starts_with("containerd://")
    );
    assert!(cs.state.as_ref().unwrap().running.is_some());
    let conds: Vec<_> = st
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    for t in [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert!(
            conds.contains(&(t.to_string(), "True".to_string())),
            "{t} in {conds:?}"
        );
    }
    let out = node.kubectl(&["get", "pods", "-o", "wide"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1/1") && text.contains("Running") && text.contains(&ip),
        "{text}"
    );

    // Graceful deletion: the kubelet stops the container (it traps TERM) and removes the pod.
    let started = std::time::Instant::now();
    node.pods()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while node.pods().get_opt("web").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "pod never removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("graceful delete took {:?}", started.elapsed());
    // The node's copy goes right after the object.
    let uid = p.metadata.uid.clone().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = rkube_kubelet::pods::runtime_state::read(&node.cri, &uid)
            .await
            .unwrap();
        if left.sandboxes.is_empty() && left.containers.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runtime never cleaned: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The pod's dir goes right after its sandboxes (`cleanup_node`), so a moment later.
    let pod_dir = node.dir.path().join("agent/pods").join(&uid);
    while pod_dir.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pod dir never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.stop().await;
}

/// Runs `cmd` in a container; asserts it succeeds and returns its stdout.
async fn exec(node: &TestNode, p: &Pod, container: &str, cmd: &[&str]) -> String {
    let (code, out, err) = node.exec(p, container, cmd).await;
    assert_eq!(code, 0, "{cmd:?}: {err}");
    out
}

fn waiting_reason(p: &Pod, name: &str) -> Option<String> {
    container_status(p, name)?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_containers_share_localhost_and_an_empty_dir_and_get_their_environment() {
    let node = TestNode::start().await;
    let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings"}, "data": {"greeting": "hello", "color": "blue"}
    }))
    .unwrap();
    Api::namespaced(node.client.clone(), "default")
        .create(&Default::default(), &cm)
        .await
        .unwrap();
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pair", "labels": {"app": "pair"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "shared", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "settings", "items": [{"key": "color", "path": "ui/color"}]}}],
            "containers": [
                {"name": "server", "image": BUSYBOX, "command": ["sh", "-c", "echo served > /www/index.html; httpd -f -p 8080 -h /www"],
                 "volumeMounts": [{"name": "shared", "mountPath": "/www"}]},
                {"name": "client", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
                 "env": [
                     {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}},
                     {"name": "MESSAGE", "value": "$(GREETING) from $(POD_NAME)"},
                     {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                     {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                     {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}
                 ],
                 "envFrom": [{"prefix": "CM_", "configMapRef": {"name": "settings"}}],
                 "volumeMounts": [{"name": "shared", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}]}
            ]
        }
    }))
    .await;
    let p = node
        .wait_pod("pair", Duration::from_secs(30), running_and_ready)
        .await;
    // Shared emptyDir and shared network namespace.
    assert_eq!(
        exec(&node, &p, "client", &["cat", "/data/index.html"]).await,
        "served\n"
    );
    let mut fetched = String::new();
    for _ in 0..50 {
        fetched = exec(
            &node,
            &p,
            "client",
            &["sh", "-c", "wget -q -O - http://127.0.0.1:8080/ || true"],
        )
        .await;
        if fetched == "served\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fetched, "served\n");
    let env = exec(&node, &p, "client", &["env"]).await;
    let ip = p.status.as_ref().unwrap().pod_ip.clone().unwrap();
    for want in [
        "GREETING=hello",
        "POD_NAME=pair",
        &format!("POD_IP={ip}"),
        "APP=pair",
        "CM_color=blue",
        "CM_greeting=hello",
        "KUBERNETES_SERVICE_HOST=10.43.0.1",
        "KUBERNETES_PORT_443_TCP_PROTO=tcp",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing from\n{env}");
    }
    // $(POD_NAME) was not defined yet when MESSAGE was: left as written, as upstream.
    assert!(
        env.lines().any(|l| l == "MESSAGE=hello from $(POD_NAME)"),
        "{env}"
    );
    assert_eq!(
        exec(&node, &p, "client", &["cat", "/etc/cfg/ui/color"]).await,
        "blue"
    );
    let hosts = exec(&node, &p, "client", &["cat", "/etc/hosts"]).await;
    assert!(hosts.contains(&format!("{ip}\tpair")), "{hosts}");
    // A ConfigMap update reaches the running pod's volume.
    let patch = json!({"data": {"color": "green"}});
    Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(node.client.clone(), "default")
        .patch(
            "settings",
            &Default::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while exec(&node, &p, "client", &["cat", "/etc/cfg/ui/color"]).await != "green" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "configMap update never reached the pod"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_in_order_before_the_app() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ordered"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "volumes": [{"name": "log", "emptyDir": {}}],
            "initContainers": [
                {"name": "first", "image": BUSYBOX, "command": ["sh", "-c", "sleep 0.5; echo first >> /log/order"], "volumeMounts": [{"name": "log", "mountPath": "/log"}]},
                {"name": "second", "image": BUSYBOX, "command": ["sh", "-c", "echo second >> /log/order"], "volumeMounts": [{"name": "log", "mountPath": "/log"}]}
            ],
            "containers": [{"name": "app", "image": BUSYBOX, "command": ["sh", "-c", "echo app >> /log/order; trap 'exit 0' TERM; while true; do sleep 0.2; done"],
                            "volumeMounts": [{"name": "log", "mountPath": "/log"}]}]
        }
    }))
    .await;
    let pending = node
        .wait_pod("ordered", Duration::from_secs(20), |p| {
            phase(p) == "Pending"
                && p.status
                    .as_ref()
                    .is_some_and(|s| s.init_container_statuses.is_some())
        })
        .await;
    let init_cond = pending
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Initialized")
        .unwrap();
    assert_eq!(init_cond.status, "False");
    assert_eq!(
        init_cond.reason.as_deref(),
        Some("ContainersNotInitialized")
    );
    let p = node
        .wait_pod("ordered", Duration::from_secs(30), running_and_ready)
        .await;
    assert_eq!(
        exec(&node, &p, "app", &["cat", "/log/order"]).await,
        "first\nsecond\napp\n"
    );
    for name in ["first", "second"] {
        let t = container_status(&p, name)
            .unwrap()
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_container_backs_off_and_run_to_completion_pods_finish() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "echo boom; exit 3"]}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "done"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": BUSYBOX, "command": ["true"]}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "failed"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "exit 7"]}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "retry"},
        "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "exit 0"]}]}
    }))
    .await;
    let done = node
        .wait_pod("done", Duration::from_secs(30), |p| phase(p) == "Succeeded")
        .await;
    let t = container_status(&done, "c")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
    let failed = node
        .wait_pod("failed", Duration::from_secs(30), |p| phase(p) == "Failed")
        .await;
    let t = container_status(&failed, "c")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (7, Some("Error")));
    node.wait_pod("retry", Duration::from_secs(30), |p| {
        phase(p) == "Succeeded"
    })
    .await;

    // First restart at once, then a 10 s back-off shown as CrashLoopBackOff.
    let p = node
        .wait_pod("crasher", Duration::from_secs(30), |p| {
            waiting_reason(p, "c").as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    let cs = container_status(&p, "c").unwrap().clone();
    assert_eq!(
        cs.restart_count, 1,
        "restarted once immediately, then backed off"
    );
    let last = cs.last_state.unwrap().terminated.unwrap();
    assert_eq!(last.exit_code, 3);
    let msg = cs.state.unwrap().waiting.unwrap().message.unwrap();
    assert!(
        msg.starts_with("back-off 10s restarting failed container=c pod=crasher_default("),
        "{msg}"
    );
    assert_eq!(
        phase(&p),
        "Running",
        "restartPolicy Always keeps a crash-looping pod Running"
    );
    let since = std::time::Instant::now();
    let p = node
        .wait_pod("crasher", Duration::from_secs(30), |p| {
            container_status(p, "c").is_some_and(|c| c.restart_count == 2)
        })
        .await;
    let waited = since.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited <= Duration::from_secs(14),
        "second restart after ~10 s, took {waited:?}"
    );
    let out = node.kubectl(&["get", "pod", "crasher"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("crasher"), "{text}");
    let events = node
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=crasher",
        ])
        .await;
    let ev = String::from_utf8_lossy(&events.stdout);
    assert!(
        ev.contains("BackOff") && ev.contains("Started") && ev.contains("Created"),
        "{ev}"
    );
    drop(p);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_and_missing_config_map_wait_with_upstream_reasons() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "noimage"},
        "spec": {"containers": [{"name": "c", "image": "localhost/rkube/absent:1", "imagePullPolicy": "Never"}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pull"},
        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:9/rkube/absent:1"}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nocm"},
        "spec": {"containers": [{"name": "c", "image": BUSYBOX, "command": ["sleep", "1000"],
            "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "novol"},
        "spec": {"volumes": [{"name": "v", "secret": {"secretName": "absent"}}],
                 "containers": [{"name": "c", "image": BUSYBOX, "command": ["sleep", "1000"]}]}
    }))
    .await;
    let p = node
        .wait_pod("noimage", Duration::from_secs(20), |p| {
            waiting_reason(p, "c").is_some_and(|r| r == "ErrImageNeverPull")
        })
        .await;
    assert_eq!(phase(&p), "Pending");
    node.wait_pod("pull", Duration::from_secs(30), |p| {
        matches!(
            waiting_reason(p, "c").as_deref(),
            Some("ErrImagePull") | Some("ImagePullBackOff")
        )
    })
    .await;
    node.wait_pod("pull", Duration::from_secs(30), |p| {
        waiting_reason(p, "c").as_deref() == Some("ImagePullBackOff")
    })
    .await;
    let p = node
        .wait_pod("nocm", Duration::from_secs(20), |p| {
            waiting_reason(p, "c").as_deref() == Some("CreateContainerConfigError")
        })
        .await;
    let msg = container_status(&p, "c")
        .unwrap()
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap()
        .message
        .unwrap();
    assert_eq!(msg, "configmap \"absent\" not found");
    // A missing volume source keeps the pod ContainerCreating with a FailedMount event.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = node
            .kubectl(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=novol,reason=FailedMount",
                "-o",
                "name",
            ])
            .await;
        if !out.stdout.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no FailedMount event"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let p = node.pods().get("novol").await.unwrap();
    assert_eq!(phase(&p), "Pending");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_kubelet_adopts_running_pods_without_restarting_them() {
    let mut node = TestNode::start().await;
    node.create_pod(sleeper("keep")).await;
    let before = node
        .wait_pod("keep", Duration::from_secs(30), running_and_ready)
        .await;
    let id_before = container_status(&before, "main")
        .unwrap()
        .container_id
        .clone();
    node.restart_kubelet().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = node
        .wait_pod("keep", Duration::from_secs(10), running_and_ready)
        .await;
    let cs = container_status(&after, "main").unwrap();
    assert_eq!(cs.container_id, id_before, "same container");
    assert_eq!(cs.restart_count, 0);
    let rt =
        rkube_kubelet::pods::runtime_state::read(&node.cri, after.metadata.uid.as_deref().unwrap())
            .await
            .unwrap();
    assert_eq!(rt.sandboxes.len(), 1, "no new sandbox: {rt:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_stop_hook_runs_and_force_delete_removes_the_pod_from_the_node() {
    let node = TestNode::start().await;
    let marker = node.dir.path().join("prestop-ran");
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hooked"},
        "spec": {"terminationGracePeriodSeconds": 5,
                 "volumes": [{"name": "out", "hostPath": {"path": node.dir.path().to_string_lossy(), "type": "Directory"}}],
                 "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
                    "volumeMounts": [{"name": "out", "mountPath": "/out"}],
                    "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo started > /out/poststart-ran"]}},
                                  "preStop": {"exec": {"command": ["sh", "-c", "echo bye > /out/prestop-ran"]}}}}]}
    }))
    .await;
    node.wait_pod("hooked", Duration::from_secs(30), running_and_ready)
        .await;
    // postStart finishes before the container counts as running.
    let post = std::fs::read_to_string(node.dir.path().join("poststart-ran"));
    if post.is_err() {
        let ev = node
            .kubectl(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=hooked",
            ])
            .await;
        panic!(
            "postStart did not run before Ready; events:\n{}",
            String::from_utf8_lossy(&ev.stdout)
        );
    }
    assert_eq!(post.unwrap(), "started\n");
    node.pods()
        .delete("hooked", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while node.pods().get_opt("hooked").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "pod never removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "bye\n");

    // Force deletion: the object goes at once; the kubelet then stops and removes the orphan.
    let p = node.create_pod(sleeper("forced")).await;
    node.wait_pod("forced", Duration::from_secs(30), running_and_ready)
        .await;
    node.pods()
        .delete(
            "forced",
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let uid = p.metadata.uid.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rt = rkube_kubelet::pods::runtime_state::read(&node.cri, &uid)
            .await
            .unwrap();
        if rt.sandboxes.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orphan never removed: {rt:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_survive_a_containerd_crash_and_host_ports_reach_them() {
    let node = TestNode::start().await;
    let port = 20000 + (std::process::id() % 10000) as i32;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "steady"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "web", "image": BUSYBOX,
            "command": ["sh", "-c", "mkdir /www; echo via-hostport > /www/index.html; httpd -f -p 8080 -h /www"],
            "ports": [{"containerPort": 8080, "hostPort": port}]}]}
    }))
    .await;
    let before = node
        .wait_pod("steady", Duration::from_secs(30), running_and_ready)
        .await;
    let fetch = || async move {
        let out = tokio::process::Command::new("busybox")
            .args([
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://127.0.0.1:{port}/"),
            ])
            .output()
            .await
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while fetch().await != "via-hostport\n" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "hostPort never answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let old = node.containerd_pid().expect("containerd pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while node.containerd_pid().is_none_or(|p| p == old) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "containerd not restarted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the PLEG a few relists against the restarted runtime.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = node
        .wait_pod("steady", Duration::from_secs(10), running_and_ready)
        .await;
    let id = |p: &Pod| container_status(p, "web").and_then(|c| c.container_id.clone());
    assert_eq!(id(&after), id(&before), "same container kept running");
    assert_eq!(container_status(&after, "web").unwrap().restart_count, 0);
    assert_eq!(fetch().await, "via-hostport\n");
    // And the restarted runtime takes new pods.
    node.create_pod(sleeper("later")).await;
    node.wait_pod("later", Duration::from_secs(30), running_and_ready)
        .await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_run_is_reported_and_retried() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nocmd"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX, "command": ["/no/such/binary"]}]}
    }))
    .await;
    let p = node
        .wait_pod("nocmd", Duration::from_secs(30), |p| {
            container_status(p, "c").is_some_and(|c| {
                let st = c.state.clone().unwrap_or_default();
                let last = c.last_state.clone().unwrap_or_default();
                st.waiting.as_ref().and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff")
                    || st.waiting.as_ref().and_then(|w| w.reason.as_deref())
                        == Some("RunContainerError")
                    || last.terminated.is_some()
            })
        })
        .await;
    let cs = container_status(&p, "c").unwrap();
    let text = format!("{:?}", cs);
    assert!(
        text.contains("no such file") || text.contains("not found"),
        "the runtime's reason reaches the status: {text}"
    );
    let ev = node
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=nocmd,type=Warning",
            "-o",
            "name",
        ])
        .await;
    assert!(!ev.stdout.is_empty(), "a Warning event says why");
    // The agent is unaffected.
    node.create_pod(sleeper("fine")).await;
    node.wait_pod("fine", Duration::from_secs(30), running_and_ready)
        .await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_post_start_hook_is_reported_and_the_container_restarted() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "badhook"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
            "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "echo hook-broke >&2; exit 3"]}}}}]}
    }))
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let event = loop {
        let out = node
            .kubectl(&[
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=badhook,reason=FailedPostStartHook",
                "-o",
                "jsonpath={range .items[*]}{.type} {.involvedObject.fieldPath}: {.message}{\"\\n\"}{end}",
            ])
            .await;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !text.trim().is_empty() {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no FailedPostStartHook event"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        event.starts_with("Warning spec.containers{c}: PostStartHook failed"),
        "{event}"
    );
    // The hook's failure kills the container; restartPolicy Always starts it again.
    let p = node
        .wait_pod("badhook", Duration::from_secs(30), |p| {
            container_status(p, "c").is_some_and(|c| {
                c.restart_count >= 1
                    || c.last_state
                        .as_ref()
                        .is_some_and(|s| s.terminated.is_some())
            })
        })
        .await;
    assert_ne!(phase(&p), "Succeeded");
    node.stop().await;
}
