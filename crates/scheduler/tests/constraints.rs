//! Pods with each kind of constraint land where they must, or stay Pending with a
//! FailedScheduling message that says why.

use crate::common;

use common::Cluster;
use rkube_scheduler::config::default_frameworks;
use rkube_scheduler::{Scheduler, SchedulerOptions};
use serde_json::json;

fn start_scheduler(c: &Cluster) -> tokio::task::JoinHandle<()> {
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(default_frameworks()),
    );
    tokio::spawn(async move {
        let _ = rkube_scheduler::run(s, None).await;
    })
}

async fn zones(c: &Cluster) {
    for (name, zone) in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")] {
        c.node(
            name,
            "4",
            "8Gi",
            json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone, "disk": if name.ends_with('1') { "ssd" } else { "hdd" }}}}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_affinity_and_taints_decide_the_node() {
    let c = Cluster::start().await;
    zones(&c).await;
    c.node(
        "tainted",
        "16",
        "64Gi",
        json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
               "metadata": {"labels": {"gpu": "yes"}}}),
    )
    .await;
    let sched = start_scheduler(&c);

    c.pod("ssd-in-b", json!({"spec": {"nodeSelector": {"disk": "ssd"}, "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["b"]}]}]}}}}}))
        .await;
    assert_eq!(c.bound("ssd-in-b").await, "b1");

    c.pod("tolerates", json!({"spec": {"nodeSelector": {"gpu": "yes"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}))
        .await;
    assert_eq!(c.bound("tolerates").await, "tainted");

    c.pod(
        "wants-gpu",
        json!({"spec": {"nodeSelector": {"gpu": "yes"}}}),
    )
    .await;
    let msg = c.event("wants-gpu", "FailedScheduling").await;
    assert!(msg.starts_with("0/5 nodes are available: "), "{msg}");
    assert!(
        msg.contains("1 node(s) had untolerated taint {dedicated: gpu}"),
        "{msg}"
    );
    assert!(
        msg.contains("4 node(s) didn't match Pod's node affinity/selector"),
        "{msg}"
    );

    // Preferred affinity pulls a pod toward zone a when both fit.
    c.pod("prefers-a", json!({"spec": {"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "preference": {"matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}}]}}}}))
        .await;
    let node = c.bound("prefers-a").await;
    assert!(node == "a1" || node == "a2", "{node}");
    sched.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_affinity_anti_affinity_and_spread() {
    let c = Cluster::start().await;
    zones(&c).await;
    let sched = start_scheduler(&c);

    // Anti-affinity by hostname: four replicas on four nodes, the fifth cannot run.
    let anti = |name: &str| {
        json!({"metadata": {"labels": {"app": "db"}}, "spec": {"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "db"}},
                "topologyKey": "kubernetes.io/hostname"}]}}, "containers": [{"name": name, "image": "busybox"}]}})
    };
    let mut nodes = std::collections::BTreeSet::new();
    for i in 0..4 {
        let name = format!("db-{i}");
        c.pod(&name, anti(&name)).await;
        nodes.insert(c.bound(&name).await);
    }
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    c.pod("db-4", anti("db-4")).await;
    let msg = c.event("db-4", "FailedScheduling").await;
    assert!(
        msg.starts_with("0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules."),
        "{msg}"
    );

    // Affinity to the web pod's zone.
    c.pod("web", json!({"metadata": {"labels": {"app": "web"}}, "spec": {"nodeSelector": {"kubernetes.io/hostname": "b2"}}})).await;
    assert_eq!(c.bound("web").await, "b2");
    c.pod("cache", json!({"spec": {"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}},
            "topologyKey": "topology.kubernetes.io/zone"}]}}}}))
        .await;
    let node = c.bound("cache").await;
    assert!(node == "b1" || node == "b2", "{node}");

    // An affinity that can never match stays Pending and says why.
    c.pod("lonely", json!({"spec": {"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "nobody"}},
            "topologyKey": "topology.kubernetes.io/zone"}]}}}}))
        .await;
    let msg = c.event("lonely", "FailedScheduling").await;
    assert!(msg.contains("didn't match pod affinity rules"), "{msg}");

    // Hard spread across zones: 4 pods with maxSkew 1 → 2 per zone.
    let spread = json!({"metadata": {"labels": {"app": "spread"}}, "spec": {"topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "spread"}}}]}});
    let mut per_zone = std::collections::BTreeMap::<char, usize>::new();
    for i in 0..4 {
        let name = format!("s-{i}");
        c.pod(&name, spread.clone()).await;
        let node = c.bound(&name).await;
        *per_zone.entry(node.chars().next().unwrap()).or_default() += 1;
    }
    assert_eq!(
        per_zone.values().copied().collect::<Vec<_>>(),
        [2, 2],
        "{per_zone:?}"
    );
    sched.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_ports_and_cordoned_nodes() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.node(
        "cordoned",
        "4",
        "8Gi",
        json!({"spec": {"unschedulable": true}}),
    )
    .await;
    let sched = start_scheduler(&c);
    let port = json!({"spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}});
    c.pod("first", port.clone()).await;
    assert_eq!(c.bound("first").await, "n1");
    c.pod("second", port).await;
    let msg = c.event("second", "FailedScheduling").await;
    assert_eq!(
        msg,
        "0/2 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
    );
    sched.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_a_service_selects_are_spread_by_the_default_constraints() {
    let c = Cluster::start().await;
    c.node("n1", "4", "8Gi", json!({})).await;
    c.node("n2", "4", "8Gi", json!({})).await;
    let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    }))
    .unwrap();
    kube::Api::namespaced(c.client.clone(), "default")
        .create(&kube::api::PostParams::default(), &svc)
        .await
        .unwrap();
    // Only PodTopologySpread scores, so nothing but the default constraints (derived from the
    // Service) tells the nodes apart: without them every placement is a coin toss.
    let config = rkube_scheduler::config::SchedulerConfiguration::parse(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    score:\n      disabled: [{name: '*'}]\n      enabled: [{name: PodTopologySpread}]\n",
    )
    .unwrap();
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(config.frameworks().unwrap()),
    );
    let sched = tokio::spawn(async move {
        let _ = rkube_scheduler::run(s, None).await;
    });
    let mut counts = std::collections::BTreeMap::<String, i32>::new();
    for i in 0..10 {
        let name = format!("web-{i}");
        c.pod(&name, json!({"metadata": {"labels": {"app": "web"}}}))
            .await;
        *counts.entry(c.bound(&name).await).or_default() += 1;
        let (a, b) = (
            counts.get("n1").copied().unwrap_or(0),
            counts.get("n2").copied().unwrap_or(0),
        );
        assert!((a - b).abs() <= 1, "after {} pods: {counts:?}", i + 1);
    }
    sched.abort();
    c.stop().await;
}
