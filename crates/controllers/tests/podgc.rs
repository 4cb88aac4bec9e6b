//! The pod garbage collector against a real apiserver, with short periods: terminated pods
//! over the threshold (oldest first), pods of a node that was deleted (after the quarantine,
//! marked Failed with the DisruptionTarget condition), terminating pods never scheduled.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rkube_controllers::Context;
use rkube_controllers::podgc::{self, Config};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn start_podgc(client: &Client, threshold: usize, quarantine: Duration) -> AbortOnDrop {
    let ctx = Context::new(client.clone(), "podgc-test".into());
    let config = Config {
        terminated_pod_gc_threshold: threshold,
        period: Duration::from_millis(100),
        quarantine,
    };
    AbortOnDrop(tokio::spawn(podgc::run_with(ctx, config)))
}

async fn pod(client: &Client, name: &str, node: Option<&str>, finalizers: &[&str]) -> Pod {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "finalizers": finalizers},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap()
}

async fn set_phase(client: &Client, name: &str, phase: &str) {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": phase}})),
    )
    .await
    .unwrap();
}

async fn names(client: &Client) -> Vec<String> {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut n: Vec<String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    n.sort();
    n
}

async fn node(client: &Client, name: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let n: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    nodes.create(&PostParams::default(), &n).await.unwrap();
}

#[tokio::test]
async fn terminated_pods_over_the_threshold_go_oldest_first() {
    let c = Cluster::start().await;
    node(&c.client, "n1").await;
    // Created in order (same-second timestamps are ordered by name, as upstream).
    for (i, phase) in ["Succeeded", "Failed", "Succeeded", "Failed", "Succeeded"]
        .iter()
        .enumerate()
    {
        let name = format!("done-{i}");
        pod(&c.client, &name, Some("n1"), &[]).await;
        set_phase(&c.client, &name, phase).await;
    }
    pod(&c.client, "running", Some("n1"), &[]).await;
    set_phase(&c.client, "running", "Running").await;
    let gc = start_podgc(&c.client, 2, Duration::from_secs(40));
    let left = eventually(WAIT, "terminated pods down to the threshold", || async {
        let n = names(&c.client).await;
        (n.len() == 3).then_some(n)
    })
    .await;
    assert_eq!(left, ["done-3", "done-4", "running"]);
    // And it stays there.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(names(&c.client).await, ["done-3", "done-4", "running"]);
    drop(gc);
    c.stop().await;
}

#[tokio::test]
async fn pods_of_a_deleted_node_go_after_the_quarantine() {
    let c = Cluster::start().await;
    node(&c.client, "kept").await;
    node(&c.client, "doomed").await;
    pod(&c.client, "on-kept", Some("kept"), &[]).await;
    set_phase(&c.client, "on-kept", "Running").await;
    pod(&c.client, "orphan", Some("doomed"), &[]).await;
    set_phase(&c.client, "orphan", "Running").await;
    // Held by a finalizer so its last state can be read after the delete.
    pod(&c.client, "held", Some("doomed"), &["example.com/hold"]).await;
    set_phase(&c.client, "held", "Running").await;
    let quarantine = Duration::from_secs(2);
    let gc = start_podgc(&c.client, 12500, quarantine);
    tokio::time::sleep(Duration::from_millis(300)).await;
    Api::<Node>::all(c.client.clone())
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let deleted_at = tokio::time::Instant::now();
    // Within the quarantine nothing happens.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(names(&c.client).await, ["held", "on-kept", "orphan"]);

    eventually(WAIT, "the orphaned pod to be deleted", || async {
        (names(&c.client).await == ["held", "on-kept"]).then_some(())
    })
    .await;
    assert!(
        deleted_at.elapsed() >= quarantine,
        "deleted before the quarantine ended"
    );
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let held = pods.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(held.metadata.deletion_grace_period_seconds, Some(0));
    let status = held.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let cond = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("DisruptionTarget condition");
    assert_eq!(cond.status, "True");
    assert_eq!(cond.reason.as_deref(), Some("DeletionByPodGC"));
    assert_eq!(
        cond.message.as_deref(),
        Some("PodGC: node no longer exists")
    );
    assert_eq!(
        pods.get("on-kept")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Running")
    );
    drop(gc);
    c.stop().await;
}

#[tokio::test]
async fn terminating_pods_never_scheduled_are_force_deleted() {
    let c = Cluster::start().await;
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    // A finalizer keeps the pod after its delete, so what PodGC did to it can be read.
    pod(&c.client, "stuck", None, &["example.com/hold"]).await;
    pod(&c.client, "pending", None, &[]).await;
    pods.delete("stuck", &DeleteParams::default())
        .await
        .unwrap();
    let gc = start_podgc(&c.client, 12500, Duration::from_secs(40));
    let stuck = eventually(
        WAIT,
        "the unscheduled terminating pod marked Failed",
        || async {
            pods.get("stuck")
                .await
                .ok()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
        },
    )
    .await;
    let conditions = stuck.status.unwrap().conditions.unwrap_or_default();
    assert!(
        !conditions.iter().any(|c| c.type_ == "DisruptionTarget"),
        "{conditions:?}"
    );
    // An unscheduled pod that is not being deleted is left alone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        pods.get("pending")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
    pods.patch(
        "stuck",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": []}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "the pod gone with its finalizer", || async {
        matches!(pods.get_opt("stuck").await, Ok(None)).then_some(())
    })
    .await;
    drop(gc);
    c.stop().await;
}
