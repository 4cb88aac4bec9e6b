//! The node IPAM controller against a real apiserver: distinct ranges, kept across restarts,
//! freed on deletion, CIDRNotAvailable when the cluster CIDR is full.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Event, Node};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use rkube_controllers::Context;
use rkube_controllers::node_ipam::{Config, run_with};

fn start(c: &Cluster) -> tokio::task::JoinHandle<()> {
    let ctx = Context::new(c.client.clone(), "test".into());
    let config = Config {
        cluster_cidr: "10.42.0.0/22".into(),
        node_mask: 24,
    };
    tokio::spawn(async move {
        run_with(ctx, config).await.expect("valid config");
    })
}

async fn add_node(api: &Api<Node>, name: &str) {
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name}, "spec": {}
    }))
    .unwrap();
    api.create(&PostParams::default(), &node).await.unwrap();
}

async fn cidr(api: &Api<Node>, name: &str) -> Option<String> {
    let n = api.get(name).await.ok()?;
    let spec = n.spec?;
    let c = spec.pod_cidr?;
    assert_eq!(
        spec.pod_cidrs,
        Some(vec![c.clone()]),
        "podCIDRs mirrors podCIDR"
    );
    Some(c)
}

#[tokio::test]
async fn ranges_are_distinct_survive_restarts_and_are_freed() {
    let c = Cluster::start().await;
    let api = Api::<Node>::all(c.client.clone());
    for n in ["a", "b", "c"] {
        add_node(&api, n).await;
    }
    let ctl = start(&c);
    let mut seen = HashSet::new();
    for n in ["a", "b", "c"] {
        let got = eventually(Duration::from_secs(10), "a podCIDR", || cidr(&api, n)).await;
        assert!(got.starts_with("10.42.") && got.ends_with("/24"), "{got}");
        assert!(seen.insert(got), "ranges are distinct");
    }
    // Restart: the ranges are re-read, the new node gets the one left.
    ctl.abort();
    let _ = ctl.await;
    add_node(&api, "d").await;
    let ctl = start(&c);
    let d = eventually(Duration::from_secs(10), "d's podCIDR", || cidr(&api, "d")).await;
    assert!(seen.insert(d.clone()), "restart handed out {d} again");
    // A podCIDR may be set once, not changed.
    let mut node = api.get("d").await.unwrap();
    node.spec.as_mut().unwrap().pod_cidr = Some("10.99.0.0/24".into());
    node.spec.as_mut().unwrap().pod_cidrs = Some(vec!["10.99.0.0/24".into()]);
    assert!(
        api.replace("d", &PostParams::default(), &node)
            .await
            .is_err()
    );

    // Full: the fifth node gets nothing and an event says so.
    add_node(&api, "e").await;
    let events = Api::<Event>::namespaced(c.client.clone(), "default");
    eventually(Duration::from_secs(10), "CIDRNotAvailable", || async {
        let l = events.list(&ListParams::default()).await.ok()?;
        l.items
            .iter()
            .find(|e| {
                e.reason.as_deref() == Some("CIDRNotAvailable")
                    && e.message.as_deref() == Some("Node e status is now: CIDRNotAvailable")
            })
            .map(|_| ())
    })
    .await;
    assert_eq!(cidr(&api, "e").await, None);
    // Deleting a node frees its range for the waiting one.
    let a = cidr(&api, "a").await.unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let e = eventually(Duration::from_secs(20), "e's podCIDR", || cidr(&api, "e")).await;
    assert_eq!(e, a);
    ctl.abort();
    c.stop().await;
}
