//! Probes against real containers: readiness gating the Ready condition (exec, httpGet),
//! liveness failures restarting the container with upstream's events, tcpSocket liveness
//! keeping a healthy container, and a startup probe holding `started` back.

use crate::common;

use std::time::Duration;

use common::{BUSYBOX, TestNode, container_status as status};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

fn condition(p: &Pod, t: &str) -> String {
    p.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .find(|c| c.type_ == t)
        .map(|c| c.status.clone())
        .unwrap_or_default()
}

fn running(p: &Pod, name: &str) -> bool {
    status(p, name).is_some_and(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

async fn exec(node: &TestNode, p: &Pod, name: &str, cmd: &[&str]) {
    assert_eq!(node.exec(p, name, cmd).await.0, 0, "{cmd:?}");
}

const LOOP: &str = "trap 'exit 0' TERM; while true; do sleep 0.2; done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probe_gates_ready_both_ways() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "gated"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
            "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}}]}
    }))
    .await;
    let p = node
        .wait_pod("gated", Duration::from_secs(30), |p| running(p, "c"))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p2 = node.pods().get("gated").await.unwrap();
    assert!(
        !status(&p2, "c").unwrap().ready,
        "not ready before the probe passes"
    );
    assert_eq!(condition(&p2, "Ready"), "False");
    assert_eq!(condition(&p2, "ContainersReady"), "False");
    exec(&node, &p, "c", &["touch", "/tmp/ready"]).await;
    let since = std::time::Instant::now();
    node.wait_pod("gated", Duration::from_secs(10), |p| {
        condition(p, "Ready") == "True"
    })
    .await;
    println!("became ready {:?} after the file appeared", since.elapsed());
    exec(&node, &p, "c", &["rm", "/tmp/ready"]).await;
    let p = node
        .wait_pod("gated", Duration::from_secs(10), |p| {
            condition(p, "Ready") == "False"
        })
        .await;
    assert_eq!(
        status(&p, "c").unwrap().restart_count,
        0,
        "readiness never restarts"
    );
    let ev = node
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=gated,reason=Unhealthy",
            "-o",
            "jsonpath={.items[*].message}",
        ])
        .await;
    assert!(
        String::from_utf8_lossy(&ev.stdout).contains("Readiness probe failed"),
        "{ev:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_failure_restarts_the_container() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sick"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX,
            "command": ["sh", "-c", "touch /tmp/alive; (sleep 2; rm /tmp/alive) & trap 'exit 0' TERM; while true; do sleep 0.2; done"],
            "livenessProbe": {"exec": {"command": ["test", "-f", "/tmp/alive"]}, "periodSeconds": 1, "failureThreshold": 2}}]}
    }))
    .await;
    let p = node
        .wait_pod("sick", Duration::from_secs(40), |p| {
            status(p, "c").is_some_and(|c| c.restart_count >= 1) && running(p, "c")
        })
        .await;
    let last = status(&p, "c")
        .unwrap()
        .last_state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(last.exit_code, 0, "it trapped TERM: {last:?}");
    let ev = node
        .kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=sick",
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ])
        .await;
    let ev = String::from_utf8_lossy(&ev.stdout);
    assert!(ev.contains("Unhealthy: Liveness probe failed"), "{ev}");
    assert!(
        ev.contains("Killing: Container c failed liveness probe, will be restarted"),
        "{ev}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_readiness_tcp_liveness_and_startup_probes() {
    let node = TestNode::start().await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX,
            "command": ["sh", "-c", "mkdir -p /www; echo ok > /www/healthz; httpd -f -p 8080 -h /www"],
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1},
            "livenessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 2}}]}
    }))
    .await;
    node.create_pod(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "slow"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": BUSYBOX, "command": ["sh", "-c", LOOP],
            "startupProbe": {"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1, "failureThreshold": 60}}]}
    }))
    .await;
    node.wait_pod("web", Duration::from_secs(30), |p| {
        condition(p, "Ready") == "True"
    })
    .await;
    let slow = node
        .wait_pod("slow", Duration::from_secs(30), |p| running(p, "c"))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s = node.pods().get("slow").await.unwrap();
    let cs = status(&s, "c").unwrap();
    assert_eq!(
        (cs.started, cs.ready),
        (Some(false), false),
        "held by the startup probe"
    );
    exec(&node, &slow, "c", &["touch", "/tmp/up"]).await;
    let s = node
        .wait_pod("slow", Duration::from_secs(10), |p| {
            condition(p, "Ready") == "True"
        })
        .await;
    assert_eq!(status(&s, "c").unwrap().started, Some(true));
    // The httpd stayed healthy through its tcpSocket liveness probe.
    let w = node.pods().get("web").await.unwrap();
    assert_eq!(status(&w, "c").unwrap().restart_count, 0);
    node.stop().await;
}
