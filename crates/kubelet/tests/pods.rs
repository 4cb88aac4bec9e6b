//! The kubelet against a real apiserver and a real containerd: node registration and
//! heartbeat, pod start and status, init containers, restarts with back-off, volumes,
//! environment, graceful deletion, image errors and adoption after a kubelet restart.

mod common;

use std::time::Duration;

use common::{BUSYBOX, TestNode};
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
    let left =
        rkube_kubelet::pods::runtime_state::read(&node.cri, p.metadata.uid.as_deref().unwrap())
            .await
            .unwrap();
    assert!(
        left.sandboxes.is_empty() && left.containers.is_empty(),
        "runtime cleaned: {left:?}"
    );
    node.stop().await;
}
