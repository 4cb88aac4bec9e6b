//! Preemption: a high-priority pod that fits nowhere evicts the lowest-priority pods that make
//! room, is nominated to that node, and runs there once they are gone.

use crate::common;

use std::time::Duration;

use common::Cluster;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::{Api, DeleteParams, PostParams};
use rkube_scheduler::config::default_frameworks;
use rkube_scheduler::{Scheduler, SchedulerOptions};
use serde_json::json;

async fn class(c: &Cluster, name: &str, value: i32) {
    let pc: PriorityClass =
        serde_json::from_value(json!({"metadata": {"name": name}, "value": value})).unwrap();
    Api::<PriorityClass>::all(c.client.clone())
        .create(&PostParams::default(), &pc)
        .await
        .unwrap();
}

fn pod(class: &str, cpu: &str) -> serde_json::Value {
    json!({"spec": {"priorityClassName": class, "containers": [{"name": "c", "image": "busybox",
        "resources": {"requests": {"cpu": cpu}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lowest_priority_victims_make_room() {
    let c = Cluster::start().await;
    class(&c, "low", 10).await;
    class(&c, "mid", 100).await;
    class(&c, "high", 1000).await;
    c.node("n1", "2", "8Gi", json!({})).await;
    c.node("n2", "2", "8Gi", json!({})).await;
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(default_frameworks()),
    );
    let sched = tokio::spawn(rkube_scheduler::run(s, None));
    // n1: two mid pods; n2: one low and one mid pod. Every CPU is taken.
    c.pod("mid-a", pod("mid", "1")).await;
    c.pod("mid-b", pod("mid", "1")).await;
    c.pod("mid-c", pod("mid", "1")).await;
    c.pod("low-a", pod("low", "1")).await;
    let mut by_node = std::collections::BTreeMap::<String, Vec<&str>>::new();
    for p in ["mid-a", "mid-b", "mid-c", "low-a"] {
        by_node.entry(c.bound(p).await).or_default().push(p);
    }
    let low_node = by_node
        .iter()
        .find(|(_, ps)| ps.contains(&"low-a"))
        .unwrap()
        .0
        .clone();

    c.pod("urgent", pod("high", "1")).await;
    // Only the low pod goes: one victim is enough, and it is the cheapest.
    let msg = c.event("low-a", "Preempted").await;
    assert!(msg.starts_with("Preempted by pod "), "{msg}");
    assert!(msg.ends_with(&format!(" on node {low_node}")), "{msg}");
    // The victim is deleted gracefully and marked as disrupted by preemption; the kubelet
    // would stop it and remove the object — there is none here, so the test does.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let victim = loop {
        let v = c.pods().get("low-a").await.unwrap();
        if v.metadata.deletion_timestamp.is_some() {
            break v;
        }
        assert!(tokio::time::Instant::now() < deadline, "victim not deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let disruption = victim
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget condition");
    assert_eq!(disruption.reason.as_deref(), Some("PreemptionByScheduler"));
    let urgent = c.pods().get("urgent").await.unwrap();
    assert_eq!(
        urgent.status.and_then(|s| s.nominated_node_name).as_deref(),
        Some(low_node.as_str())
    );
    c.pods()
        .delete("low-a", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(c.bound("urgent").await, low_node);
    for p in ["mid-a", "mid-b", "mid-c"] {
        assert!(
            c.pods().get_opt(p).await.unwrap().is_some(),
            "{p} must survive"
        );
    }
    sched.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_priority_never_preempts() {
    let c = Cluster::start().await;
    class(&c, "same", 100).await;
    c.node("n1", "1", "8Gi", json!({})).await;
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(default_frameworks()),
    );
    let sched = tokio::spawn(rkube_scheduler::run(s, None));
    c.pod("first", pod("same", "1")).await;
    c.bound("first").await;
    c.pod("second", pod("same", "1")).await;
    let msg = c.event("second", "FailedScheduling").await;
    assert_eq!(
        msg,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    );
    assert!(c.pods().get_opt("first").await.unwrap().is_some());
    sched.abort();
    c.stop().await;
}

/// Waits until `name`'s `status.nominatedNodeName` is `want`.
async fn nominated(c: &Cluster, name: &str, want: Option<&str>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let p = c.pods().get(name).await.unwrap();
        let got = p.status.and_then(|s| s.nominated_node_name);
        if got.as_deref() == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} nominated to {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nomination_holds_its_room_and_is_cleared_once_void() {
    let c = Cluster::start().await;
    class(&c, "low", 10).await;
    class(&c, "high", 1000).await;
    c.node("n1", "3", "8Gi", json!({})).await;
    let s = Scheduler::new(
        c.client.clone(),
        SchedulerOptions::new(default_frameworks()),
    );
    let sched = tokio::spawn(rkube_scheduler::run(s, None));
    c.pod("low-a", pod("low", "1")).await;
    c.pod("low-b", pod("low", "1")).await;
    c.bound("low-a").await;
    c.bound("low-b").await;
    // 1 CPU free; urgent needs 2: one low pod is preempted and stays terminating (no kubelet).
    c.pod("urgent", pod("high", "2")).await;
    nominated(&c, "urgent", Some("n1")).await;

    // The free CPU is urgent's to come: a lower-priority pod may not take it.
    c.pod("late", pod("low", "1")).await;
    let msg = c.event("late", "FailedScheduling").await;
    assert!(
        msg.starts_with("0/1 nodes are available: 1 Insufficient cpu."),
        "{msg}"
    );
    assert!(
        c.pods()
            .get("late")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.node_name)
            .is_none(),
        "late must not take the nominated room"
    );

    // The node is cordoned: preemption can no longer help anywhere, the nomination is void.
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(c.client.clone());
    nodes
        .patch(
            "n1",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    // A pod leaving the node retries urgent (a cordon alone cannot make a pod fit, so it
    // does not): now it fits nowhere and preemption has no candidate.
    c.pods()
        .delete("low-b", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    nominated(&c, "urgent", None).await;
    sched.abort();
    c.stop().await;
}
