//! kube-rs against our apiserver, as third-party operators use it: typed CRUD through
//! `Api<T>`, errors as `Status`, `watcher` and `reflector`, and 410 recovery after compaction.

use crate::common;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};

use std::collections::BTreeMap;
use std::time::Duration;

async fn cluster() -> (common::Cluster, Client) {
    let c = common::cluster().await;
    let client = c.client().await;
    (c, client)
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "demo".into())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".into(), value.into())])),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_crud_and_errors() {
    let (_cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &config_map("one", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let rv1 = created.metadata.resource_version.clone().unwrap();
    let mut got = cms.get("one").await.unwrap();
    assert_eq!(got.data.as_ref().unwrap()["k"], "1");
    got.data = Some(BTreeMap::from([("k".into(), "2".into())]));
    let replaced = cms
        .replace("one", &PostParams::default(), &got)
        .await
        .unwrap();
    assert_ne!(replaced.metadata.resource_version.unwrap(), rv1);
    // A stale resourceVersion conflicts.
    let mut stale = created.clone();
    stale.data = Some(BTreeMap::from([("k".into(), "stale".into())]));
    match cms.replace("one", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match cms.get("missing").await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"));
            assert_eq!(s.message, "configmaps \"missing\" not found");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    match cms
        .create(&PostParams::default(), &config_map("one", "x"))
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let bad = config_map("Not_A_Name", "x");
    match cms.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
            assert!(s.message.contains("metadata.name"), "{}", s.message);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let mut generated = config_map("ignored", "g");
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let made = cms
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    let name = made.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    cms.delete(&name, &DeleteParams::default()).await.unwrap();
    let list = cms
        .list(&ListParams::default().labels("app=demo"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    cms.delete("one", &DeleteParams::default()).await.unwrap();
    assert!(cms.get_opt("one").await.unwrap().is_none());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(namespaces.get("kube-system").await.is_ok());
    // Every request above was counted with upstream's metric names and labels.
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let metrics = client.request_text(req).await.unwrap();
    let created = metrics
        .lines()
        .find(|l| {
            l.starts_with("apiserver_request_total{")
                && l.contains("verb=\"POST\"")
                && l.contains("resource=\"configmaps\"")
                && l.contains("code=\"201\"")
        })
        .unwrap_or_else(|| panic!("no counter for created configmaps:\n{metrics}"));
    let count: f64 = created.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 2.0, "{created}");
    assert!(
        metrics.contains("apiserver_request_duration_seconds_bucket{"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_lists_are_consistent() {
    let (_cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..25 {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("cm-{i:02}"), "v"),
        )
        .await
        .unwrap();
    }
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(10);
    loop {
        let page = cms.list(&params).await.unwrap();
        assert!(page.items.len() <= 10);
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
        // Writes between pages do not show up in the listing.
        let _ = cms
            .create(
                &PostParams::default(),
                &config_map(&format!("late-{}", names.len()), "v"),
            )
            .await;
    }
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_and_reflector_follow_changes() {
    let (_cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("before", "1"))
        .await
        .unwrap();
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(cms.clone(), watcher::Config::default()))
        .applied_objects()
        .boxed();
    let handle = tokio::spawn(async move { stream.try_collect::<Vec<_>>().await });
    reader.wait_until_ready().await.unwrap();
    assert_eq!(reader.state().len(), 1);
    cms.create(&PostParams::default(), &config_map("after", "2"))
        .await
        .unwrap();
    cms.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = reader
            .state()
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        if names == ["after"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reflector state stuck at {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_compacted_revision_gets_410_and_the_watcher_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn rkube_store::Store> = std::sync::Arc::new(
        rkube_store::embedded::EmbeddedStore::open(rkube_store::embedded::EmbeddedOptions::new(
            dir.path(),
        ))
        .await
        .unwrap(),
    );
    let cluster = common::cluster_on(store.clone()).await;
    let client = cluster.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let first = cms
        .create(&PostParams::default(), &config_map("x", "0"))
        .await
        .unwrap();
    let old_rv = first.metadata.resource_version.clone().unwrap();
    // Two changes after `old_rv`: compacting to the last one discards the first, which a
    // watch from `old_rv` would need.
    for v in ["1", "2"] {
        let mut cm = cms.get("x").await.unwrap();
        cm.data = Some(BTreeMap::from([("k".into(), v.into())]));
        cms.replace("x", &PostParams::default(), &cm).await.unwrap();
    }
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();

    // A raw watch from before the compaction ends with a 410 Expired error event.
    let mut stream = cms
        .watch(&kube::api::WatchParams::default(), &old_rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(kube::api::WatchEvent::Error(e)))) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}");
        }
        other => panic!("expected a 410 error event, got {other:?}"),
    }

    // kube-runtime's watcher, whose watches end every second, resumes from its last revision;
    // once that is compacted it gets 410, relists, and its cache still converges.
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(
        writer,
        watcher(cms.clone(), watcher::Config::default().timeout(1)),
    )
    .applied_objects()
    .boxed();
    let handle = tokio::spawn(async move { stream.try_collect::<Vec<_>>().await });
    reader.wait_until_ready().await.unwrap();
    for i in 0..3 {
        cms.create(&PostParams::default(), &config_map(&format!("y{i}"), "v"))
            .await
            .unwrap();
        store
            .compact(store.current_revision().await.unwrap())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut names: Vec<String> = reader
            .state()
            .iter()
            .map(|c| c.metadata.name.clone().unwrap())
            .collect();
        names.sort();
        if names == ["x", "y0", "y1", "y2"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "watcher did not recover: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !handle.is_finished(),
        "the watcher must keep running through 410s"
    );
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_sets_the_node_once() {
    let (_cluster, client) = cluster().await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let bind_with = |node: &str, metadata: serde_json::Value| {
        let body = serde_json::json!({"apiVersion": "v1", "kind": "Binding",
            "metadata": metadata, "target": {"kind": "Node", "name": node}});
        http::Request::post("/api/v1/namespaces/default/pods/p/binding")
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(&body).unwrap())
            .unwrap()
    };
    let bind = |node: &str| bind_with(node, serde_json::json!({"name": "p"}));
    // A binder that saw another pod of that name binds nothing.
    match client
        .request_text(bind_with(
            "node-a",
            serde_json::json!({"name": "p", "uid": "other"}),
        ))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 409);
            assert!(
                s.message
                    .contains("Precondition failed: UID in precondition: other"),
                "{}",
                s.message
            );
        }
        other => panic!("a stale uid must conflict, got {other:?}"),
    }
    client
        .request_text(bind_with(
            "node-a",
            serde_json::json!({"name": "p", "annotations": {"example.com/placed-by": "test"}}),
        ))
        .await
        .unwrap();
    let bound = pods.get("p").await.unwrap();
    assert_eq!(
        bound
            .metadata
            .annotations
            .unwrap_or_default()
            .get("example.com/placed-by")
            .map(String::as_str),
        Some("test")
    );
    let scheduled = bound
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")
        .expect("PodScheduled condition");
    assert_eq!(scheduled.status, "True");
    assert!(scheduled.last_transition_time.is_some());
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("node-a"));
    match client.request_text(bind("node-b")).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
            assert!(
                s.message.contains("already assigned to node \"node-a\""),
                "{}",
                s.message
            );
        }
        other => panic!("a second binding must conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_service_points_at_the_apiserver() {
    // Endpoints may not be loopback: advertise another address (nothing is sent to it).
    let dir = tempfile::tempdir().unwrap();
    let mut config = rkube_apiserver::server::ServerConfig::new(dir.path());
    config.bind_address = [127, 0, 0, 1].into();
    config.https_port = 0;
    config.include_host_sans = false;
    config.advertise_address = Some([10, 0, 0, 7].into());
    let server = rkube_apiserver::server::start(config).await.unwrap();
    let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let svc: k8s_openapi::api::core::v1::Service = Api::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let target = svc.spec.unwrap().ports.unwrap()[0].target_port.clone();
    let port = match target {
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(p)) => p,
        other => panic!("targetPort {other:?}"),
    };
    let eps: k8s_openapi::api::core::v1::Endpoints = Api::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let subset = &eps.subsets.unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "10.0.0.7");
    assert_eq!(subset.ports.as_ref().unwrap()[0].port, port);
    let slice: k8s_openapi::api::discovery::v1::EndpointSlice =
        Api::namespaced(client.clone(), "default")
            .get("kubernetes")
            .await
            .unwrap();
    assert_eq!(
        slice.metadata.labels.unwrap()["kubernetes.io/service-name"],
        "kubernetes"
    );
    assert_eq!(slice.endpoints[0].addresses, vec!["10.0.0.7".to_string()]);
    assert_eq!(slice.ports.unwrap()[0].port, Some(port));
    server.shutdown().await;
}
