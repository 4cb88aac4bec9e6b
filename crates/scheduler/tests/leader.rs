//! Two schedulers with leader election: only the leader binds; every pod is bound exactly once;
//! when the leader stops, the other takes over.

use crate::common;

use std::time::Duration;

use common::Cluster;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use rkube_scheduler::config::default_frameworks;
use rkube_scheduler::leader::LeaderElectionConfig;
use rkube_scheduler::{Scheduler, SchedulerOptions};
use serde_json::json;

fn candidate(c: &Cluster, id: &str) -> (std::sync::Arc<Scheduler>, tokio::task::JoinHandle<()>) {
    let mut opts = SchedulerOptions::new(default_frameworks());
    opts.identity = id.into();
    let s = Scheduler::new(c.client.clone(), opts);
    let mut le = LeaderElectionConfig::new("kube-scheduler", id.into());
    // Short timings keep the test fast; the logic is the same as with upstream's defaults.
    le.lease_duration = Duration::from_secs(3);
    le.renew_deadline = Duration::from_secs(2);
    le.retry_period = Duration::from_millis(300);
    let task = tokio::spawn({
        let s = s.clone();
        async move {
            let _ = rkube_scheduler::run(s, Some(le)).await;
        }
    });
    (s, task)
}

async fn holder(c: &Cluster) -> Option<String> {
    Api::<Lease>::namespaced(c.client.clone(), "kube-system")
        .get_opt("kube-scheduler")
        .await
        .unwrap()
        .and_then(|l| l.spec?.holder_identity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_schedules_and_a_standby_takes_over() {
    let c = Cluster::start().await;
    for i in 0..3 {
        c.node(&format!("n{i}"), "8", "16Gi", json!({})).await;
    }
    let (a, task_a) = candidate(&c, "sched-a");
    let (b, task_b) = candidate(&c, "sched-b");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let leader = loop {
        if let Some(h) = holder(&c).await {
            break h;
        }
        assert!(tokio::time::Instant::now() < deadline, "nobody leads");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for i in 0..20 {
        c.pod(&format!("p{i}"), json!({})).await;
    }
    for i in 0..20 {
        c.bound(&format!("p{i}")).await;
    }
    let bound = |s: &Scheduler| s.metrics.bound.load(std::sync::atomic::Ordering::Relaxed);
    let (leading, standby, leading_task, standby_task) = if leader == "sched-a" {
        (a, b, task_a, task_b)
    } else {
        (b, a, task_b, task_a)
    };
    assert_eq!(bound(&leading), 20);
    assert_eq!(bound(&standby), 0, "the standby must not bind");

    // The leader dies: the standby takes the lease after it expires and schedules.
    leading_task.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while holder(&c).await.as_deref() == Some(leader.as_str()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lease never taken over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.pod("after", json!({})).await;
    c.bound("after").await;
    assert_eq!(bound(&standby), 1);
    standby_task.abort();
    c.stop().await;
}
