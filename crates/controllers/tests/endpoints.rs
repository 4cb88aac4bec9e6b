//! The Endpoints, EndpointSlice and mirroring controllers against a real apiserver, scheduler
//! and simulated nodes (pods get IPs from the node IPAM controller's podCIDRs).

use crate::common;

use std::time::{Duration, Instant};

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const CONTROLLERS: &[&str] = &[
    "node-ipam-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
];

async fn create<K>(api: &Api<K>, v: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(v).unwrap();
    api.create(&PostParams::default(), &obj).await.unwrap();
}

fn pod(name: &str, labels: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    let mut p = json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx",
            "ports": [{"name": "http", "containerPort": 8080}]}]}
    });
    common::merge(&mut p, extra);
    p
}

async fn running_ip(pods: &Api<Pod>, name: &str) -> String {
    eventually(
        Duration::from_secs(20),
        "a running pod with an IP",
        || async {
            let p = pods.get(name).await.ok()?;
            p.status?.pod_ip.filter(|ip| !ip.is_empty())
        },
    )
    .await
}

/// Waits until every node has a podCIDR (the simulated nodes give pods IPs from it).
async fn cidrs_assigned(c: &Cluster) {
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(c.client.clone());
    eventually(
        Duration::from_secs(10),
        "podCIDRs on every node",
        || async {
            let l = nodes.list(&ListParams::default()).await.ok()?;
            l.items
                .iter()
                .all(|n| n.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_some())
                .then_some(())
        },
    )
    .await;
}

fn ips(l: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>) -> Vec<String> {
    let mut v: Vec<String> = l.iter().flatten().map(|a| a.ip.clone()).collect();
    v.sort();
    v
}

async fn slices(c: &Cluster, svc: &str) -> Vec<EndpointSlice> {
    Api::<EndpointSlice>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_follow_pods_and_readiness() {
    let c = Cluster::with_nodes(2).await;
    let _ctl = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    cidrs_assigned(&c).await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let svcs = Api::<Service>::namespaced(c.client.clone(), "default");
    let eps = Api::<Endpoints>::namespaced(c.client.clone(), "default");
    for n in ["web-0", "web-1"] {
        create(&pods, pod(n, json!({"app": "web"}), json!({}))).await;
    }
    create(
        &pods,
        pod(
            "other",
            json!({"app": "other"}),
            json!({"spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        ),
    )
    .await;
    let ip0 = running_ip(&pods, "web-0").await;
    let ip1 = running_ip(&pods, "web-1").await;
    create(
        &svcs,
        json!({"metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}),
    )
    .await;
    create(
        &svcs,
        json!({"metadata": {"name": "nothing"},
        "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}}),
    )
    .await;

    let mut both = vec![ip0.clone(), ip1.clone()];
    both.sort();
    let ep = eventually(Duration::from_secs(10), "web's endpoints", || async {
        let e = eps.get("web").await.ok()?;
        let s = e.subsets.clone()?;
        (s.len() == 1 && ips(&s[0].addresses) == both).then_some(e)
    })
    .await;
    let subset = &ep.subsets.as_ref().unwrap()[0];
    assert_eq!(
        subset.ports.as_ref().unwrap()[0].port,
        8080,
        "named port resolved"
    );
    assert_eq!(ep.metadata.labels.as_ref().unwrap()["tier"], "front");
    assert!(
        ep.metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("endpoints.kubernetes.io/last-change-trigger-time")
    );
    let addr = &subset.addresses.as_ref().unwrap()[0];
    assert_eq!(
        addr.target_ref.as_ref().unwrap().kind.as_deref(),
        Some("Pod")
    );
    assert!(addr.node_name.is_some());

    // A Service selecting nothing: empty Endpoints, one empty slice.
    let empty = eventually(Duration::from_secs(10), "empty endpoints", || async {
        eps.get("nothing").await.ok()
    })
    .await;
    assert!(empty.subsets.unwrap_or_default().is_empty());

    // Slices.
    let s = eventually(Duration::from_secs(10), "web's slice", || async {
        let s = slices(&c, "web").await;
        (s.len() == 1 && s[0].endpoints.len() == 2).then_some(s)
    })
    .await;
    let labels = s[0].metadata.labels.as_ref().unwrap();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(s[0].address_type, "IPv4");
    assert_eq!(s[0].ports.as_ref().unwrap()[0].port, Some(8080));
    assert_eq!(
        s[0].metadata.owner_references.as_ref().unwrap()[0].kind,
        "Service"
    );
    eventually(
        Duration::from_secs(10),
        "nothing's placeholder slice",
        || async {
            let s = slices(&c, "nothing").await;
            (s.len() == 1 && s[0].endpoints.is_empty()).then_some(())
        },
    )
    .await;

    // Readiness flips reach Endpoints and slices within a second.
    let p = pods.get("web-1").await.unwrap();
    let conditions: Vec<serde_json::Value> = p
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .map(|mut c| {
            if c.type_ == "Ready" {
                c.status = "False".into();
            }
            serde_json::to_value(c).unwrap()
        })
        .collect();
    let flipped = Instant::now();
    pods.patch_status(
        "web-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": conditions}})),
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(1),
        "web-1 not ready in Endpoints within a second",
        || async {
            let e = eps.get("web").await.ok()?;
            let s = e.subsets?;
            (ips(&s[0].addresses) == vec![ip0.clone()]
                && ips(&s[0].not_ready_addresses) == vec![ip1.clone()])
            .then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(1),
        "web-1 not ready in the slice",
        || async {
            let s = slices(&c, "web").await;
            let e = s
                .first()?
                .endpoints
                .iter()
                .find(|e| e.addresses[0] == ip1)?
                .clone();
            let cond = e.conditions?;
            (cond.ready == Some(false)
                && cond.serving == Some(false)
                && cond.terminating == Some(false))
            .then_some(())
        },
    )
    .await;
    println!(
        "readiness change reached Endpoints and slices in {:?}",
        flipped.elapsed()
    );

    // kubectl shows upstream's columns.
    let (ok, out, err) = c.kubectl(&["get", "endpoints", "web"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        out.contains("ENDPOINTS") && out.contains(&format!("{ip0}:8080")),
        "{out}"
    );
    let (ok, out, err) = c.kubectl(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=web",
    ]);
    assert!(ok, "{err}");
    for col in [
        "NAME",
        "ADDRESSTYPE",
        "PORTS",
        "ENDPOINTS",
        "AGE",
        "IPv4",
        "8080",
    ] {
        assert!(out.contains(col), "{col} missing in {out}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_publish_not_ready_and_mirroring() {
    let c = Cluster::with_nodes(1).await;
    let _ctl = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    cidrs_assigned(&c).await;
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default");
    let svcs = Api::<Service>::namespaced(c.client.clone(), "default");
    let eps = Api::<Endpoints>::namespaced(c.client.clone(), "default");
    create(
        &pods,
        pod(
            "db-0",
            json!({"app": "db"}),
            json!({"spec": {"hostname": "db-0", "subdomain": "db"}}),
        ),
    )
    .await;
    let ip = running_ip(&pods, "db-0").await;
    create(&svcs, json!({"metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"name": "sql", "port": 5432}]}})).await;
    create(&svcs, json!({"metadata": {"name": "db-all"},
        "spec": {"publishNotReadyAddresses": true, "selector": {"app": "db"}, "ports": [{"port": 5432}]}})).await;
    let e = eventually(Duration::from_secs(10), "headless endpoints", || async {
        let e = eps.get("db").await.ok()?;
        e.subsets.as_ref()?.first()?.addresses.as_ref()?;
        Some(e)
    })
    .await;
    let a = &e.subsets.as_ref().unwrap()[0].addresses.as_ref().unwrap()[0];
    assert_eq!(a.ip, ip);
    assert_eq!(a.hostname.as_deref(), Some("db-0"));
    assert!(
        e.metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key("service.kubernetes.io/headless")
    );

    // Not ready: headless lists it as not ready, publishNotReadyAddresses as ready.
    let p = pods.get("db-0").await.unwrap();
    let conditions: Vec<serde_json::Value> = p
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .map(|mut c| {
            if c.type_ == "Ready" {
                c.status = "False".into();
            }
            serde_json::to_value(c).unwrap()
        })
        .collect();
    pods.patch_status(
        "db-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": conditions}})),
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(5),
        "db not ready, db-all ready",
        || async {
            let db = eps.get("db").await.ok()?.subsets?;
            let all = eps.get("db-all").await.ok()?.subsets?;
            (ips(&db[0].not_ready_addresses) == vec![ip.clone()]
                && ips(&all[0].addresses) == vec![ip.clone()])
            .then_some(())
        },
    )
    .await;

    // A selectorless Service: hand-written Endpoints, mirrored into a slice.
    create(
        &svcs,
        json!({"metadata": {"name": "external"}, "spec": {"ports": [{"port": 443}]}}),
    )
    .await;
    create(&eps, json!({"metadata": {"name": "external", "labels": {"team": "x"}},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "notReadyAddresses": [{"ip": "192.0.2.11"}],
                     "ports": [{"port": 443}]}]})).await;
    let s = eventually(Duration::from_secs(10), "mirrored slice", || async {
        let s = slices(&c, "external").await;
        (s.len() == 1 && s[0].endpoints.len() == 2).then_some(s)
    })
    .await;
    let labels = s[0].metadata.labels.as_ref().unwrap();
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslicemirroring-controller.k8s.io"
    );
    assert_eq!(labels["team"], "x");
    let ready: Vec<(String, Option<bool>)> = s[0]
        .endpoints
        .iter()
        .map(|e| {
            (
                e.addresses[0].clone(),
                e.conditions.as_ref().and_then(|c| c.ready),
            )
        })
        .collect();
    assert!(
        ready.contains(&("192.0.2.10".into(), Some(true))),
        "{ready:?}"
    );
    assert!(
        ready.contains(&("192.0.2.11".into(), Some(false))),
        "{ready:?}"
    );
    // The Endpoints controller leaves them alone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = eps.get("external").await.unwrap();
    assert_eq!(
        ips(&e.subsets.unwrap()[0].addresses),
        vec!["192.0.2.10".to_string()]
    );
    // The controller-written Endpoints are not mirrored.
    let db = slices(&c, "db").await;
    assert!(db.iter().all(
        |s| s.metadata.labels.as_ref().unwrap()["endpointslice.kubernetes.io/managed-by"]
            == "endpointslice-controller.k8s.io"
    ));
    c.stop().await;
}
