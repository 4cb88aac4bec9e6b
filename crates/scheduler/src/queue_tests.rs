//! Queue behaviour with a paused clock: order, backoff growth, event-driven moves, the
//! 5-minute flush and scheduling gates.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::framework::{ClusterEvent, PodInfo};
use crate::queue::{MAX_UNSCHEDULABLE_STAY, SchedulingQueue};

fn pod(uid: &str, priority: i32) -> Arc<PodInfo> {
    pod_with(uid, priority, json!({}))
}

fn pod_with(uid: &str, priority: i32, spec: serde_json::Value) -> Arc<PodInfo> {
    let mut s = json!({"containers": [], "priority": priority});
    if let (Some(s), Some(extra)) = (s.as_object_mut(), spec.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    Arc::new(PodInfo::new(Arc::new(
        serde_json::from_value(
            json!({"metadata": {"name": uid, "namespace": "d", "uid": uid}, "spec": s}),
        )
        .unwrap(),
    )))
}

fn queue() -> SchedulingQueue {
    SchedulingQueue::new(Duration::from_secs(1), Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn higher_priority_first_then_arrival_order() {
    let mut q = queue();
    let now = Instant::now();
    q.add(pod("low", 0), now);
    q.add(pod("high", 100), now);
    q.add(pod("low2", 0), now);
    let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|p| p.info.uid.clone())).collect();
    assert_eq!(order, ["high", "low", "low2"]);
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_up_to_the_cap() {
    let mut q = queue();
    q.add(pod("p", 0), Instant::now());
    let mut waits = Vec::new();
    for _ in 0..6 {
        let p = q.pop().expect("active");
        q.requeue_backoff(&p, Instant::now());
        let start = Instant::now();
        loop {
            tokio::time::advance(Duration::from_millis(100)).await;
            q.flush(Instant::now());
            if q.counts().active == 1 {
                break;
            }
        }
        waits.push((Instant::now() - start).as_millis() / 100 * 100);
    }
    assert_eq!(waits, [1000, 2000, 4000, 8000, 10000, 10000]);
}

#[tokio::test(start_paused = true)]
async fn unschedulable_pods_move_only_on_events_their_plugins_care_about() {
    let mut q = queue();
    q.add(pod("p", 0), Instant::now());
    let p = q.pop().unwrap();
    q.requeue_unschedulable(&p, vec!["NodeResourcesFit"], Instant::now());
    assert_eq!(q.counts().unschedulable, 1);
    let interested = |plugin: &str, e: ClusterEvent| {
        plugin == "NodeResourcesFit"
            && matches!(e, ClusterEvent::NodeAdd | ClusterEvent::AssignedPodDelete)
    };
    q.on_event(ClusterEvent::NamespaceChange, interested, Instant::now());
    assert_eq!(
        q.counts().unschedulable,
        1,
        "an irrelevant event moves nothing"
    );
    // Still inside its 1 s backoff: the event sends it to backoff, then active.
    q.on_event(ClusterEvent::NodeAdd, interested, Instant::now());
    assert_eq!(q.counts().backoff, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    q.flush(Instant::now());
    assert_eq!(q.pop().unwrap().info.uid, "p");
}

#[tokio::test(start_paused = true)]
async fn an_event_during_the_attempt_sends_the_pod_to_backoff_not_unschedulable() {
    let mut q = queue();
    q.add(pod("p", 0), Instant::now());
    let p = q.pop().unwrap();
    q.on_event(ClusterEvent::NodeAdd, |_, _| true, Instant::now());
    q.requeue_unschedulable(&p, vec!["NodeResourcesFit"], Instant::now());
    assert_eq!(q.counts().backoff, 1);
}

#[tokio::test(start_paused = true)]
async fn unschedulable_pods_are_retried_after_five_minutes() {
    let mut q = queue();
    q.add(pod("p", 0), Instant::now());
    let p = q.pop().unwrap();
    q.requeue_unschedulable(&p, vec!["X"], Instant::now());
    tokio::time::advance(MAX_UNSCHEDULABLE_STAY - Duration::from_secs(1)).await;
    q.flush(Instant::now());
    assert_eq!(q.counts().unschedulable, 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    q.flush(Instant::now());
    assert_eq!(q.counts().active, 1);
}

#[tokio::test(start_paused = true)]
async fn gated_pods_wait_until_their_gates_are_removed() {
    let mut q = queue();
    q.add(
        pod_with(
            "g",
            0,
            json!({"schedulingGates": [{"name": "example.com/wait"}]}),
        ),
        Instant::now(),
    );
    assert!(q.pop().is_none());
    assert_eq!(q.counts().gated, 1);
    q.update(pod("g", 0), Instant::now());
    assert_eq!(q.pop().unwrap().info.uid, "g");
}

#[tokio::test(start_paused = true)]
async fn deleted_pods_leave_every_queue() {
    let mut q = queue();
    q.add(pod("a", 0), Instant::now());
    q.add(pod("b", 0), Instant::now());
    let a = q.pop().unwrap();
    assert_eq!(a.info.uid, "a");
    q.requeue_unschedulable(&a, vec![], Instant::now());
    q.delete("a");
    q.delete("b");
    assert_eq!(q.counts(), Default::default());
    assert!(q.pop().is_none());
}

#[tokio::test(start_paused = true)]
async fn status_only_updates_leave_unschedulable_pods_waiting() {
    let mut q = queue();
    q.add(pod("p", 0), Instant::now());
    let p = q.pop().unwrap();
    q.requeue_unschedulable(&p, vec!["NodeResourcesFit"], Instant::now());
    // The same spec with a status (as the scheduler's own condition update comes back).
    let echoed = Arc::new(PodInfo::new(Arc::new(
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "d", "uid": "p"},
            "spec": {"containers": [], "priority": 0},
            "status": {"conditions": [{"type": "PodScheduled", "status": "False"}]}}),
        )
        .unwrap(),
    )));
    q.update(echoed, Instant::now());
    assert_eq!(q.counts().unschedulable, 1);
    // A spec change gives it another chance.
    q.update(
        pod_with("p", 0, json!({"nodeSelector": {"disk": "ssd"}})),
        Instant::now(),
    );
    assert_eq!(q.counts().unschedulable, 0);
}
