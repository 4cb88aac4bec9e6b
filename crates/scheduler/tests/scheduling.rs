//! The scheduler against a real in-process apiserver: pods land where their constraints say,
//! or stay Pending with upstream's event and condition, and wait for the cluster to change.

use crate::common;

use std::time::Duration;

use common::{Cluster, scheduled_condition};
use rkube_scheduler::config::default_frameworks;
use rkube_scheduler::{Scheduler, SchedulerOptions};
use serde_json::json;

type EventV1 = k8s_openapi::api::events::v1::Event;

fn start_scheduler(c: &Cluster) -> tokio::task::JoinHandle<()> {
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(default_frameworks()),
    );
    tokio::spawn(async move {
        let _ = rkube_scheduler::run(s, None).await;
    })
}

fn cpu(request: &str) -> serde_json::Value {
    json!({"spec": {"containers": [{"name": "c", "image": "busybox",
        "resources": {"requests": {"cpu": request}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_bound_and_reported() {
    let c = Cluster::start().await;
    c.node("n1", "2", "4Gi", json!({})).await;
    c.node("n2", "2", "4Gi", json!({})).await;
    let sched = start_scheduler(&c);
    c.pod("p1", json!({})).await;
    let node = c.bound("p1").await;
    assert!(node == "n1" || node == "n2", "{node}");
    let msg = c.event("p1", "Scheduled").await;
    assert_eq!(msg, format!("Successfully assigned default/p1 to {node}"));
    sched.abort();
    c.stop().await;
}

/// `GET path` over plain HTTP/1.0; the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).await.unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_attempts_with_upstream_names() {
    let c = Cluster::start().await;
    c.node("n1", "1", "4Gi", json!({})).await;
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(default_frameworks()),
    );
    let (listener, addr) = rkube_scheduler::serve::bind(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let server = tokio::spawn(rkube_scheduler::serve::serve(listener, s.clone()));
    let sched = tokio::spawn(rkube_scheduler::run(s, None));
    c.pod("fits", json!({})).await;
    c.pod("too-big", cpu("2")).await;
    c.bound("fits").await;
    c.event("too-big", "FailedScheduling").await;
    assert_eq!(http_get(addr, "/healthz").await, "ok");
    let metrics = http_get(addr, "/metrics").await;
    for want in [
        r#"scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"} 1"#,
        r#"scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"}"#,
        "scheduler_scheduling_attempt_duration_seconds_bucket",
        "scheduler_pod_scheduling_sli_duration_seconds_count",
        "scheduler_pending_pods",
    ] {
        assert!(metrics.contains(want), "{want} missing:\n{metrics}");
    }
    sched.abort();
    server.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pods_wait_with_a_reason_and_run_when_a_node_fits() {
    let c = Cluster::start().await;
    c.node("small-1", "1", "4Gi", json!({})).await;
    c.node("small-2", "1", "4Gi", json!({})).await;
    let sched = start_scheduler(&c);
    c.pod("big", cpu("3")).await;
    let msg = c.event("big", "FailedScheduling").await;
    assert!(
        msg.starts_with("0/2 nodes are available: 2 Insufficient cpu."),
        "{msg}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = c.pods().get("big").await.unwrap();
        if let Some((status, reason, message)) = scheduled_condition(&p) {
            assert_eq!(
                (status.as_str(), reason.as_str()),
                ("False", "Unschedulable")
            );
            assert_eq!(message, msg);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no PodScheduled condition"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A node that fits arrives: the pod is retried on that event, not after 5 minutes.
    c.node("large", "4", "8Gi", json!({})).await;
    assert_eq!(c.bound("big").await, "large");
    sched.abort();
    c.stop().await;
}

/// The `events.k8s.io/v1` Events about pod `name` with `reason`, once `done` holds for them.
async fn events_v1(
    c: &Cluster,
    name: &str,
    reason: &str,
    done: impl Fn(&[EventV1]) -> bool,
) -> Vec<EventV1> {
    let api: kube::Api<EventV1> = kube::Api::namespaced(c.client.clone(), "default");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<EventV1> = api
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
            })
            .collect();
        if done(&found) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{reason} events for {name}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Events are written as upstream's scheduler writes them: `events.k8s.io/v1`, reported by
/// `default-scheduler`, and a failure that repeats is one Event whose series counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_reported_as_upstream_and_a_repeated_failure_is_a_series() {
    let c = Cluster::start().await;
    c.node("small-1", "1", "4Gi", json!({})).await;
    let sched = start_scheduler(&c);
    c.pod("fits", json!({})).await;
    c.pod("big", cpu("3")).await;

    let scheduled = events_v1(&c, "fits", "Scheduled", |e| !e.is_empty()).await;
    let e = &scheduled[0];
    assert_eq!(e.reporting_controller.as_deref(), Some("default-scheduler"));
    assert!(
        e.reporting_instance
            .as_deref()
            .is_some_and(|i| !i.is_empty())
    );
    assert_eq!(e.action.as_deref(), Some("Binding"));
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert!(e.event_time.is_some() && e.series.is_none(), "{e:?}");
    let regarding = e.regarding.as_ref().unwrap();
    assert_eq!(regarding.kind.as_deref(), Some("Pod"));
    assert!(regarding.uid.is_some());

    events_v1(&c, "big", "FailedScheduling", |e| !e.is_empty()).await;
    // Another node that does not fit either: the pod is tried again and fails again.
    c.node("small-2", "1", "4Gi", json!({})).await;
    let failed = events_v1(&c, "big", "FailedScheduling", |e| {
        e.iter().any(|e| e.series.is_some())
    })
    .await;
    assert_eq!(failed.len(), 1, "one Event for the repeats: {failed:?}");
    let series = failed[0].series.as_ref().unwrap();
    assert!(series.count >= 2, "{series:?}");
    assert_eq!(failed[0].type_.as_deref(), Some("Warning"));
    assert_eq!(failed[0].action.as_deref(), Some("Scheduling"));
    sched.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_scheduler_name_leaves_the_pod_pending() {
    let c = Cluster::start().await;
    c.node("n1", "2", "4Gi", json!({})).await;
    let sched = start_scheduler(&c);
    c.pod("other", json!({"spec": {"schedulerName": "someone-else"}}))
        .await;
    c.pod("mine", json!({})).await;
    c.bound("mine").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = c.pods().get("other").await.unwrap();
    assert_eq!(p.spec.as_ref().unwrap().node_name, None);
    assert!(scheduled_condition(&p).is_none());
    sched.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_pods_spread_over_the_nodes_without_overcommitting() {
    let c = Cluster::start().await;
    for i in 0..4 {
        c.node(&format!("n{i}"), "1", "4Gi", json!({})).await;
    }
    let sched = start_scheduler(&c);
    // 4 nodes × 1 CPU: exactly 8 pods of 500m fit; the 9th must wait.
    for i in 0..9 {
        c.pod(&format!("p{i}"), cpu("500m")).await;
    }
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        per_node.clear();
        let list = c.pods().list(&Default::default()).await.unwrap();
        for p in &list.items {
            if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                *per_node.entry(n).or_default() += 1;
            }
        }
        if per_node.values().sum::<usize>() == 8 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{per_node:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(per_node.values().all(|n| *n == 2), "{per_node:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bound = c
        .pods()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        .count();
    assert_eq!(bound, 8);
    sched.abort();
    c.stop().await;
}
