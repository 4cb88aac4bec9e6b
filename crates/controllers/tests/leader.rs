//! Two controller managers with leader election on `kube-system/kube-controller-manager`: only
//! the leader acts; the standby starts no controller until the leader stops, then takes over.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rkube_controllers::manager::LeaderElectionConfig;
use rkube_controllers::{Manager, ManagerConfig};
use serde_json::json;

fn manager(c: &Cluster, id: &str) -> std::sync::Arc<Manager> {
    let mut config = ManagerConfig::new(id.into());
    config.controllers = vec!["replicaset-controller".into()];
    let mut le = LeaderElectionConfig::new("kube-controller-manager", id.into());
    // Short timings keep the test fast; the logic is the same as with upstream's defaults.
    le.lease_duration = Duration::from_secs(3);
    le.renew_deadline = Duration::from_secs(2);
    le.retry_period = Duration::from_millis(300);
    config.leader_election = Some(le);
    std::sync::Arc::new(Manager::new(c.client.clone(), config).unwrap())
}

async fn holder(c: &Cluster) -> Option<String> {
    Api::<Lease>::namespaced(c.client.clone(), "kube-system")
        .get_opt("kube-controller-manager")
        .await
        .unwrap()
        .and_then(|l| l.spec?.holder_identity)
}

/// reportingInstance of each SuccessfulCreate event on `rs`, with its count.
async fn creators(c: &Cluster) -> Vec<(String, i32)> {
    Api::<Event>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .map(|e| {
            (
                e.reporting_instance.unwrap_or_default(),
                e.count.unwrap_or(1),
            )
        })
        .collect()
}

async fn pod_count(c: &Cluster) -> usize {
    Api::<Pod>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels("app=le"))
        .await
        .unwrap()
        .items
        .len()
}

fn adds(m: &Manager) -> bool {
    m.context()
        .metrics
        .encode()
        .lines()
        .any(|l| l.starts_with("workqueue_adds_total{name=\"replicaset\"}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_acts_and_the_standby_takes_over() {
    let c = Cluster::with_nodes(2).await;
    let (a, b) = (manager(&c, "cm-a"), manager(&c, "cm-b"));
    let run = |m: std::sync::Arc<Manager>| {
        tokio::spawn(async move {
            let _ = m.run().await;
        })
    };
    let (ta, tb) = (run(a.clone()), run(b.clone()));
    let leader = eventually(Duration::from_secs(10), "a leader", || holder(&c)).await;
    let (leading, standby, leading_task, standby_task) = if leader == "cm-a" {
        (a, b, ta, tb)
    } else {
        (b, a, tb, ta)
    };
    let standby_id = if leader == "cm-a" { "cm-b" } else { "cm-a" };

    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "le"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "le"}},
            "template": {
                "metadata": {"labels": {"app": "le"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))
    .unwrap();
    let rss: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    rss.create(&PostParams::default(), &rs).await.unwrap();
    eventually(
        Duration::from_secs(20),
        "3 pods created by the leader",
        || async {
            let made = creators(&c).await;
            (made.iter().map(|(_, n)| n).sum::<i32>() == 3).then_some(made)
        },
    )
    .await
    .iter()
    .for_each(|(who, _)| assert_eq!(who, &leader, "only the leader creates"));
    // Settled: exactly 3 pods, and the standby never started its controller.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pod_count(&c).await, 3);
    assert!(adds(&leading), "the leader's queue worked");
    assert!(!adds(&standby), "the standby's controller never ran");

    // The leader stops: after the lease expires the standby leads and acts.
    leading_task.abort();
    drop(leading);
    eventually(Duration::from_secs(15), "the standby to lead", || async {
        (holder(&c).await.as_deref() == Some(standby_id)).then_some(())
    })
    .await;
    rss.patch(
        "le",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(20),
        "the standby to create 2 pods",
        || async {
            let made = creators(&c).await;
            let by_standby: i32 = made
                .iter()
                .filter(|(who, _)| who == standby_id)
                .map(|(_, n)| n)
                .sum();
            (by_standby == 2).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(pod_count(&c).await, 5, "no pod created twice");
    standby_task.abort();
    c.stop().await;
}
