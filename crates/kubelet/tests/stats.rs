//! Resource usage from real containers: the Summary API document and the
//! `/metrics/resource` text, with a CPU-burning container showing up in both.

use crate::common;

use std::time::Duration;

use common::{BUSYBOX, TestNode};
use rkube_kubelet::stats::{Collector, metrics};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_reports_node_pod_and_container_usage() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "burner"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [
            {"name": "spin", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do :; done"],
             "resources": {"limits": {"cpu": "200m", "memory": "64Mi"}}},
            {"name": "idle", "image": BUSYBOX, "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]}]}
    }))
    .await;
    node.wait_pod("burner", Duration::from_secs(30), |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    })
    .await;
    let collector = Collector::new(&node.name, node.dir.path().into());
    collector.collect(&node.cri).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let summary = collector.collect(&node.cri).await.unwrap();
    let doc = serde_json::to_value(&summary).unwrap();
    assert_eq!(doc["node"]["nodeName"], node.name.as_str());
    assert!(doc["node"]["cpu"]["usageNanoCores"].as_u64().unwrap() > 0);
    assert!(doc["node"]["memory"]["workingSetBytes"].as_u64().unwrap() > 0);
    assert!(doc["node"]["fs"]["capacityBytes"].as_u64().unwrap() > 0);
    let pod = summary
        .pods
        .iter()
        .find(|p| p.pod_ref.name == "burner")
        .expect("the pod is reported");
    assert_eq!(pod.pod_ref.namespace, "default");
    let spin = pod.containers.iter().find(|c| c.name == "spin").unwrap();
    let idle = pod.containers.iter().find(|c| c.name == "idle").unwrap();
    let spin_cores = spin.cpu.usage_nano_cores.unwrap();
    // Limited to 200m: about 0.2 cores, well above the idle one.
    assert!(
        (100_000_000..=260_000_000).contains(&spin_cores),
        "spin used {spin_cores} nanocores"
    );
    assert!(idle.cpu.usage_nano_cores.unwrap() < 50_000_000);
    assert!(spin.memory.working_set_bytes > 0);
    assert!(pod.cpu.usage_nano_cores.unwrap() >= spin_cores / 2);
    let net = pod.network.as_ref().expect("pod network counters");
    assert_eq!(net.name, "eth0");
    assert!(spin.logs.is_some() && spin.rootfs.is_some());

    let text = metrics::render(&summary);
    assert!(text.contains("container_cpu_usage_seconds_total{container=\"spin\",namespace=\"default\",pod=\"burner\"}"), "{text}");
    assert!(text.contains("node_memory_working_set_bytes "), "{text}");
    assert!(
        text.contains("pod_memory_working_set_bytes{namespace=\"default\",pod=\"burner\"}"),
        "{text}"
    );

    // The same through the kubelet API, via the apiserver's node proxy.
    let raw = node
        .kubectl(&[
            "get",
            "--raw",
            &format!("/api/v1/nodes/{}/proxy/stats/summary", node.name),
        ])
        .await;
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(doc["node"]["nodeName"], node.name.as_str());
    assert!(
        doc["pods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["podRef"]["name"] == "burner"),
        "{doc}"
    );
    let raw = node
        .kubectl(&[
            "get",
            "--raw",
            &format!("/api/v1/nodes/{}/proxy/metrics/resource", node.name),
        ])
        .await;
    let text = String::from_utf8_lossy(&raw.stdout);
    assert!(
        text.contains("pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"burner\"}"),
        "{text}"
    );
    node.stop().await;
}
