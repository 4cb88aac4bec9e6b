//! The service load-balancer controller against a real apiserver: pool addresses handed out
//! once each (the requested one when free), kept across restarts, cleared when a Service stops
//! being a LoadBalancer, an event when the pool is exhausted; without a pool, the Ready nodes'
//! addresses (simulated nodes).

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use rkube_controllers::Context;
use rkube_controllers::service_lb::{Pool, run_with};
use serde_json::json;

fn start(c: &Cluster, pool: Option<&str>) -> tokio::task::JoinHandle<()> {
    let ctx = Context::new(c.client.clone(), "test".into());
    let pool = pool.map(|p| Pool::parse(p).unwrap());
    tokio::spawn(run_with(ctx, pool))
}

async fn create(api: &Api<Service>, name: &str, extra: serde_json::Value) {
    let mut svc = json!({
        "metadata": {"name": name},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}]}
    });
    common::merge(&mut svc, json!({"spec": extra}));
    let svc: Service = serde_json::from_value(svc).unwrap();
    api.create(&PostParams::default(), &svc).await.unwrap();
}

async fn ingress(api: &Api<Service>, name: &str) -> Option<Vec<String>> {
    let s = api.get(name).await.ok()?;
    let ips: Vec<String> = s
        .status?
        .load_balancer?
        .ingress?
        .into_iter()
        .filter_map(|i| i.ip)
        .collect();
    (!ips.is_empty()).then_some(ips)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_addresses_are_unique_requested_kept_and_released() {
    let c = Cluster::start().await;
    let api = Api::<Service>::namespaced(c.client.clone(), "default");
    let ctl = start(&c, Some("10.77.0.10-10.77.0.12"));
    create(&api, "wants", json!({"loadBalancerIP": "10.77.0.12"})).await;
    create(&api, "a", json!({})).await;
    let wants = eventually(Duration::from_secs(10), "requested address", || {
        ingress(&api, "wants")
    })
    .await;
    assert_eq!(wants, vec!["10.77.0.12"]);
    let a = eventually(Duration::from_secs(10), "a's address", || {
        ingress(&api, "a")
    })
    .await;
    assert_eq!(a, vec!["10.77.0.10"], "the lowest free address");
    let (ok, out, err) = c.kubectl(&["get", "svc", "a", "--no-headers"]);
    assert!(
        ok && out.contains("10.77.0.10"),
        "EXTERNAL-IP column: {out}{err}"
    );

    // A restart re-reads what is taken: the next Service gets the last free address.
    ctl.abort();
    let _ = ctl.await;
    let ctl = start(&c, Some("10.77.0.10-10.77.0.12"));
    create(&api, "b", json!({})).await;
    let b = eventually(Duration::from_secs(10), "b's address", || {
        ingress(&api, "b")
    })
    .await;
    assert_eq!(b, vec!["10.77.0.11"]);

    // Exhausted: an event says so and the Service waits.
    create(&api, "late", json!({})).await;
    let events = Api::<Event>::namespaced(c.client.clone(), "default");
    eventually(
        Duration::from_secs(10),
        "SyncLoadBalancerFailed",
        || async {
            let list = events.list(&ListParams::default()).await.ok()?;
            list.items
                .iter()
                .find(|e| {
                    e.reason.as_deref() == Some("SyncLoadBalancerFailed")
                        && e.involved_object.name.as_deref() == Some("late")
                })
                .map(|_| ())
        },
    )
    .await;
    assert_eq!(ingress(&api, "late").await, None);

    // `a` becomes a ClusterIP Service: its status is cleared and `late` gets its address.
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"type": "ClusterIP"}})),
    )
    .await
    .unwrap();
    eventually(Duration::from_secs(10), "a's status cleared", || async {
        ingress(&api, "a").await.is_none().then_some(())
    })
    .await;
    let late = eventually(Duration::from_secs(30), "late's address", || {
        ingress(&api, "late")
    })
    .await;
    assert_eq!(late, vec!["10.77.0.10"]);

    // Another implementation's class is left alone.
    create(
        &api,
        "other",
        json!({"loadBalancerClass": "example.com/lb"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(ingress(&api, "other").await, None);
    ctl.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pool_services_get_the_ready_nodes_addresses() {
    let c = Cluster::with_nodes(2).await;
    let api = Api::<Service>::namespaced(c.client.clone(), "default");
    let ctl = start(&c, None);
    create(&api, "web", json!({})).await;
    let got = eventually(Duration::from_secs(20), "node addresses", || async {
        ingress(&api, "web").await.filter(|ips| ips.len() == 2)
    })
    .await;
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(c.client.clone());
    let mut want: Vec<String> = Vec::new();
    for n in nodes.list(&ListParams::default()).await.unwrap().items {
        let addrs = n.status.unwrap().addresses.unwrap();
        want.push(
            addrs
                .into_iter()
                .find(|a| a.type_ == "InternalIP")
                .unwrap()
                .address,
        );
    }
    want.sort();
    assert_eq!(got, want);
    ctl.abort();
    c.stop().await;
}
