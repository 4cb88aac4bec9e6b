//! The node lifecycle and taint eviction controllers with simulated nodes whose heartbeats
//! stop: Unknown conditions within the grace period, taints, pods marked not ready, evicted
//! after their tolerationSeconds and replaced elsewhere by their RC, taints cleared on
//! recovery.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Event, Node, Pod, ReplicationController};
use kube::api::{Api, ListParams, PostParams};
use rkube_controllers::Context;
use rkube_controllers::node_lifecycle::{Config, run_with};
use rkube_sim::{SimConfig, SimNodes};
use serde_json::json;

fn fast(count: usize, prefix: &str) -> SimConfig {
    let mut s = SimConfig::new(count);
    s.prefix = prefix.into();
    s.lease_duration = Duration::from_secs(1);
    s.lease_renew_interval = Duration::from_millis(300);
    s
}

fn taint_keys(n: &Node) -> Vec<(String, String)> {
    n.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.effect))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_node_is_tainted_its_pods_evicted_and_replaced_then_recovers() {
    let c = Cluster::with_sim(fast(2, "sim-node-")).await;
    let _ctl = rkube_controllers::start(
        c.client.clone(),
        &[
            "node-ipam-controller",
            "replicationcontroller-controller",
            "taint-eviction-controller",
        ],
    )
    .unwrap();
    let config = Config {
        monitor_period: Duration::from_millis(500),
        grace_period: Duration::from_secs(3),
        startup_grace_period: Duration::from_secs(3),
        eviction_rate: 10.0,
        ..Config::default()
    };
    let ctx = Context::new(c.client.clone(), "test".into());
    let lifecycle = tokio::spawn(run_with(ctx, config));

    // Only the doomed node takes pods at first.
    for n in ["sim-node-0", "sim-node-1"] {
        let (ok, _, err) = c.kubectl(&["cordon", n]);
        assert!(ok, "{err}");
    }
    let doomed = SimNodes::start(c.client.clone(), fast(1, "doomed-"))
        .await
        .unwrap();
    let rcs = Api::<ReplicationController>::namespaced(c.client.clone(), "default");
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"app": "web"}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}],
                     "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                      "effect": "NoExecute", "tolerationSeconds": 2}]}}}
    }))
    .unwrap();
    rcs.create(&PostParams::default(), &rc).await.unwrap();
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let originals: Vec<Pod> = eventually(
        Duration::from_secs(20),
        "two running pods on doomed-0",
        || async {
            let l = pods.list(&ListParams::default()).await.ok()?.items;
            let running: Vec<Pod> = l
                .into_iter()
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .collect();
            (running.len() == 2).then_some(running)
        },
    )
    .await;
    for p in &originals {
        assert_eq!(
            p.spec.as_ref().unwrap().node_name.as_deref(),
            Some("doomed-0")
        );
        let tol = p.spec.as_ref().unwrap().tolerations.clone().unwrap();
        assert!(
            tol.iter()
                .any(|t| t.key.as_deref() == Some("node.kubernetes.io/not-ready")
                    && t.toleration_seconds == Some(300)),
            "DefaultTolerationSeconds added the not-ready toleration: {tol:?}"
        );
    }
    for n in ["sim-node-0", "sim-node-1"] {
        let (ok, _, err) = c.kubectl(&["uncordon", n]);
        assert!(ok, "{err}");
    }

    // The node dies.
    doomed.stop().await;
    let nodes = Api::<Node>::all(c.client.clone());
    let node = eventually(
        Duration::from_secs(10),
        "doomed-0 Unknown and tainted",
        || async {
            let n = nodes.get("doomed-0").await.ok()?;
            let keys = taint_keys(&n);
            (keys.contains(&("node.kubernetes.io/unreachable".into(), "NoExecute".into()))
                && keys.contains(&("node.kubernetes.io/unreachable".into(), "NoSchedule".into())))
            .then_some(n)
        },
    )
    .await;
    let ready = node
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );

    // Its pods are marked not ready, then evicted, and the RC replaces them elsewhere.
    eventually(Duration::from_secs(15), "originals evicted", || async {
        for p in &originals {
            let p = pods.get(p.metadata.name.as_deref().unwrap()).await.ok()?;
            p.metadata.deletion_timestamp.as_ref()?;
            let conds = p.status?.conditions?;
            let dt = conds.iter().find(|c| c.type_ == "DisruptionTarget")?;
            assert_eq!(dt.reason.as_deref(), Some("DeletionByTaintManager"));
            let r = conds.iter().find(|c| c.type_ == "Ready")?;
            assert_eq!(r.status, "False", "marked not ready");
        }
        Some(())
    })
    .await;
    eventually(
        Duration::from_secs(20),
        "two replacements running on healthy nodes",
        || async {
            let l = pods.list(&ListParams::default()).await.ok()?.items;
            let ok = l
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
                .filter(|p| {
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.as_deref())
                        .is_some_and(|n| n.starts_with("sim-node-"))
                })
                .count();
            (ok == 2).then_some(())
        },
    )
    .await;
    let events = Api::<Event>::namespaced(c.client.clone(), "default");
    eventually(
        Duration::from_secs(5),
        "NodeNotReady and TaintManagerEviction events",
        || async {
            let l = events.list(&ListParams::default()).await.ok()?.items;
            let has = |reason: &str, msg: &str| {
                l.iter().any(|e| {
                    e.reason.as_deref() == Some(reason)
                        && e.message.as_deref().is_some_and(|m| m.starts_with(msg))
                })
            };
            (has("NodeNotReady", "Node doomed-0 status is now: NodeNotReady")
                && has("TaintManagerEviction", "Marking for deletion Pod default/"))
            .then_some(())
        },
    )
    .await;

    // Recovery clears the taints.
    let back = SimNodes::start(c.client.clone(), fast(1, "doomed-"))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "taints cleared", || async {
        let n = nodes.get("doomed-0").await.ok()?;
        taint_keys(&n).is_empty().then_some(())
    })
    .await;
    back.stop().await;
    lifecycle.abort();
    c.stop().await;
}
