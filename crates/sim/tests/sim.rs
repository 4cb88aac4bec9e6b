//! Simulated nodes against the real apiserver (in-process, embedded store) through a real
//! kube-rs client: registration, Lease renewal and its end at stop, and the pod lifecycle.

use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use rkube_apiserver::server::{RunningServer, ServerConfig};
use rkube_sim::{SimConfig, SimNodes, register_nodes};
use serde_json::json;

struct Cluster {
    client: kube::Client,
    _server: RunningServer,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("rkube_sim=debug")
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut sc = ServerConfig::new(dir.path().join("server"));
    sc.bind_address = [127, 0, 0, 1].into();
    sc.https_port = 0;
    sc.include_host_sans = false;
    let server = rkube_apiserver::server::start(sc)
        .await
        .expect("apiserver starts");
    let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Cluster {
        client: kube::Client::try_from(config).unwrap(),
        _server: server,
        _dir: dir,
    }
}

/// Polls `check` every 50 ms until it returns Some, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn renew_time(lease: &Lease) -> jiff::Timestamp {
    lease.spec.as_ref().unwrap().renew_time.as_ref().unwrap().0
}

#[tokio::test]
async fn nodes_register_ready_and_their_leases_renew_until_stop() {
    let c = cluster().await;
    let mut config = SimConfig::new(3);
    config.lease_renew_interval = Duration::from_millis(200);
    config.status_report_interval = Duration::from_millis(300);
    config.labels.insert("zone".into(), "z1".into());
    let progress = std::sync::Mutex::new(Vec::new());
    let sim = SimNodes::start_with_progress(c.client.clone(), config, |done, total| {
        progress.lock().unwrap().push((done, total))
    })
    .await
    .expect("simulated nodes start");
    let mut seen = progress.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [(1, 3), (2, 3), (3, 3)]);

    let nodes: Api<Node> = Api::all(c.client.clone());
    let list = nodes
        .list(&ListParams::default().labels("type=rkube-sim"))
        .await
        .unwrap();
    let mut names: Vec<_> = list
        .items
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["sim-node-0", "sim-node-1", "sim-node-2"]);
    let node = nodes.get("sim-node-1").await.unwrap();
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "sim-node-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    assert_eq!(labels["zone"], "z1");
    let status = node.status.clone().unwrap();
    assert_eq!(status.capacity.as_ref().unwrap()["cpu"].0, "32");
    assert_eq!(status.allocatable.as_ref().unwrap()["pods"].0, "110");
    let conds = status.conditions.unwrap();
    let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("True", Some("KubeletReady"))
    );
    for pressure in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            conds.iter().find(|c| c.type_ == pressure).unwrap().status,
            "False"
        );
    }
    let addresses = status.addresses.unwrap();
    assert!(
        addresses
            .iter()
            .any(|a| a.type_ == "InternalIP" && a.address == "172.16.0.2")
    );
    assert!(
        status
            .node_info
            .unwrap()
            .kubelet_version
            .starts_with("v1.33")
    );
    assert_eq!(sim.nodes()[1].internal_ip, Ipv4Addr::new(172, 16, 0, 2));

    let leases: Api<Lease> = Api::namespaced(c.client.clone(), "kube-node-lease");
    let lease = leases.get("sim-node-2").await.unwrap();
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("sim-node-2"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &lease.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), Some(&owner.uid)),
        ("Node", node_uid(&nodes, "sim-node-2").await.as_ref())
    );
    let first = renew_time(&lease);
    eventually(5, "the lease is renewed", || async {
        (renew_time(&leases.get("sim-node-2").await.unwrap()) > first).then_some(())
    })
    .await;
    eventually(5, "status reports go out", || async {
        (sim.stats().status_reports >= 3).then_some(())
    })
    .await;
    assert_eq!(sim.stats().lease_failures, 0);

    sim.stop().await;
    let stopped: Vec<_> = futures::future::join_all((0..3).map(|i| {
        let leases = leases.clone();
        async move { renew_time(&leases.get(&format!("sim-node-{i}")).await.unwrap()) }
    }))
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    for (i, at) in stopped.iter().enumerate() {
        let now = renew_time(&leases.get(&format!("sim-node-{i}")).await.unwrap());
        assert_eq!(
            now, *at,
            "sim-node-{i}'s lease must not be renewed after stop"
        );
    }
}

async fn node_uid(nodes: &Api<Node>, name: &str) -> Option<String> {
    nodes.get(name).await.unwrap().metadata.uid
}

fn pod(name: &str, node: &str, extra: serde_json::Value) -> Pod {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "nginx:1.27"}]}
    });
    json_merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

async fn wait_phase(pods: &Api<Pod>, name: &str, phase: &str) -> Pod {
    eventually(10, &format!("{name} becomes {phase}"), || async {
        let p = pods.get(name).await.unwrap();
        (p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase)).then_some(p)
    })
    .await
}

fn condition(p: &Pod, type_: &str) -> (String, Option<String>) {
    let c = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone())
}

#[tokio::test]
async fn bound_pods_run_jobs_complete_and_deleted_pods_go_away() {
    let c = cluster().await;
    let mut config = SimConfig::new(2);
    config.job_pod_run_time = Duration::from_millis(300);
    // Register first, give sim-node-0 a podCIDR (as the node IPAM controller would), then
    // start: the running simulator adopts the registered nodes.
    register_nodes(&c.client, &config, &|_, _| {})
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(c.client.clone());
    nodes
        .patch(
            "sim-node-0",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"podCIDR": "10.42.7.0/24", "podCIDRs": ["10.42.7.0/24"]}}),
            ),
        )
        .await
        .unwrap();
    let sim = SimNodes::start(c.client.clone(), config).await.unwrap();

    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let pp = PostParams::default();
    pods.create(&pp, &pod("web", "sim-node-0", json!({})))
        .await
        .unwrap();
    pods.create(&pp, &pod("web2", "sim-node-0", json!({})))
        .await
        .unwrap();
    pods.create(
        &pp,
        &pod("host", "sim-node-0", json!({"spec": {"hostNetwork": true}})),
    )
    .await
    .unwrap();
    pods.create(&pp, &pod("nocidr", "sim-node-1", json!({})))
        .await
        .unwrap();
    pods.create(&pp, &pod("elsewhere", "real-node", json!({})))
        .await
        .unwrap();
    let job_pod = json!({"metadata": {"ownerReferences": [{
        "apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "6d1c7a2e-0000-4000-8000-000000000001",
        "controller": true}]}, "spec": {"restartPolicy": "Never"}});
    pods.create(&pp, &pod("job-pod", "sim-node-1", job_pod))
        .await
        .unwrap();

    let web = wait_phase(&pods, "web", "Running").await;
    for t in ["Ready", "ContainersReady", "Initialized", "PodScheduled"] {
        assert_eq!(condition(&web, t).0, "True", "{t}");
    }
    let status = web.status.clone().unwrap();
    let ip: Ipv4Addr = status.pod_ip.as_deref().unwrap().parse().unwrap();
    assert_eq!(
        ip.octets()[..3],
        [10, 42, 7],
        "{ip} is from the node's podCIDR"
    );
    assert_eq!(status.pod_ips.unwrap()[0].ip, ip.to_string());
    assert_eq!(status.host_ip.as_deref(), Some("172.16.0.1"));
    assert!(status.start_time.is_some());
    let cs = &status.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.started == Some(true));
    assert!(cs.state.as_ref().unwrap().running.is_some());
    assert_eq!(cs.image, "docker.io/library/nginx:1.27");
    assert!(cs.container_id.as_deref().unwrap().starts_with("sim://"));

    let web2 = wait_phase(&pods, "web2", "Running").await;
    let ip2 = web2.status.unwrap().pod_ip.unwrap();
    assert_ne!(ip2, ip.to_string(), "each pod has its own IP");
    let host = wait_phase(&pods, "host", "Running").await;
    assert_eq!(host.status.unwrap().pod_ip.as_deref(), Some("172.16.0.1"));
    let nocidr = wait_phase(&pods, "nocidr", "Running").await;
    assert_eq!(nocidr.status.unwrap().pod_ip, None, "no podCIDR, no pod IP");

    let done = wait_phase(&pods, "job-pod", "Succeeded").await;
    assert_eq!(
        condition(&done, "Ready"),
        ("False".into(), Some("PodCompleted".into()))
    );
    let cs = &done.status.unwrap().container_statuses.unwrap()[0];
    let term = cs.state.clone().unwrap().terminated.unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );

    // Graceful deletion (the default 30 s grace) completes at once.
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    eventually(10, "web is deleted", || async {
        pods.get_opt("web").await.unwrap().is_none().then_some(())
    })
    .await;
    // Its IP is free again: the allocator hands out in order, so it comes back after wrapping;
    // a new pod simply gets a fresh one.
    pods.create(&pp, &pod("web3", "sim-node-0", json!({})))
        .await
        .unwrap();
    let web3 = wait_phase(&pods, "web3", "Running").await;
    assert_ne!(web3.status.unwrap().pod_ip.unwrap(), ip2);

    let elsewhere = pods.get("elsewhere").await.unwrap();
    assert_eq!(
        elsewhere.status.unwrap().phase.as_deref(),
        Some("Pending"),
        "pods of other nodes are not ours"
    );
    let stats = sim.stats();
    assert_eq!(stats.pods_started, 6);
    assert_eq!(stats.pods_completed, 1);
    assert_eq!(stats.pods_deleted, 1);
    assert_eq!(stats.pod_write_failures, 0);
    sim.stop().await;
}
