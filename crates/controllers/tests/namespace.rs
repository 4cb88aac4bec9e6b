//! The namespace controller empties a deleted namespace of everything discovery lists, reports
//! its progress in status conditions, and finalizes it; objects with stuck finalizers keep it
//! Terminating with a condition naming them.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, NamespaceCondition, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde::de::DeserializeOwned;
use serde_json::json;

fn from<T: DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

async fn create_namespace(c: &Cluster, name: &str) -> Api<Namespace> {
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &from(json!({"metadata": {"name": name}})),
        )
        .await
        .unwrap();
    namespaces
}

/// Pods (unscheduled, so they go at once), ConfigMaps and Services in `ns`.
async fn fill(c: &Cluster, ns: &str) {
    let pp = PostParams::default();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), ns);
    for name in ["p1", "p2"] {
        let pod = json!({"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        pods.create(&pp, &from(pod)).await.unwrap();
    }
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), ns);
    for name in ["a", "b"] {
        cms.create(&pp, &from(json!({"metadata": {"name": name}})))
            .await
            .unwrap();
    }
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), ns);
    let svc = json!({"metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    svcs.create(&pp, &from(svc)).await.unwrap();
}

async fn gone(namespaces: &Api<Namespace>, name: &str) {
    eventually(Duration::from_secs(30), "the namespace to go", || {
        let namespaces = namespaces.clone();
        async move {
            namespaces
                .get_opt(name)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
}

fn condition<'a>(ns: &'a Namespace, type_: &str) -> Option<&'a NamespaceCondition> {
    ns.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_is_emptied_then_removed() {
    let c = Cluster::start().await;
    let controllers =
        rkube_controllers::start(c.client.clone(), &["namespace-controller"]).unwrap();
    let namespaces = create_namespace(&c, "doomed").await;
    fill(&c, "doomed").await;

    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    gone(&namespaces, "doomed").await;
    let lp = ListParams::default();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "doomed");
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "doomed");
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "doomed");
    assert!(pods.list(&lp).await.unwrap().items.is_empty(), "pods went");
    assert!(
        cms.list(&lp).await.unwrap().items.is_empty(),
        "configmaps went"
    );
    assert!(
        svcs.list(&lp).await.unwrap().items.is_empty(),
        "services went"
    );
    drop(controllers);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_finalizers_keep_the_namespace_terminating_and_are_named() {
    let c = Cluster::start().await;
    let controllers =
        rkube_controllers::start(c.client.clone(), &["namespace-controller"]).unwrap();
    let namespaces = create_namespace(&c, "stuck").await;
    fill(&c, "stuck").await;
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "stuck");
    let held = json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
    cms.create(&PostParams::default(), &from(held))
        .await
        .unwrap();

    namespaces
        .delete("stuck", &DeleteParams::default())
        .await
        .unwrap();
    let ns = eventually(Duration::from_secs(20), "the finalizers condition", || {
        let namespaces = namespaces.clone();
        async move {
            let ns = namespaces.get("stuck").await.unwrap();
            let c = condition(&ns, "NamespaceFinalizersRemaining")?;
            (c.status == "True").then_some(ns)
        }
    })
    .await;
    let finalizers = condition(&ns, "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(finalizers.reason.as_deref(), Some("SomeFinalizersRemain"));
    assert_eq!(
        finalizers.message.as_deref(),
        Some(
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
        )
    );
    let remaining = condition(&ns, "NamespaceContentRemaining").unwrap();
    assert_eq!(remaining.status, "True");
    assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
    assert_eq!(
        remaining.message.as_deref(),
        Some("Some resources are remaining: configmaps. has 1 resource instances")
    );
    for ok in [
        "NamespaceDeletionDiscoveryFailure",
        "NamespaceDeletionContentFailure",
    ] {
        assert_eq!(condition(&ns, ok).unwrap().status, "False", "{ok}");
    }
    assert_eq!(
        ns.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Terminating")
    );

    // Everything else is gone; the held ConfigMap waits, being deleted.
    let lp = ListParams::default();
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "stuck");
    let svcs: Api<Service> = Api::namespaced(c.client.clone(), "stuck");
    assert!(pods.list(&lp).await.unwrap().items.is_empty(), "pods went");
    assert!(
        svcs.list(&lp).await.unwrap().items.is_empty(),
        "services went"
    );
    let left = cms.list(&lp).await.unwrap().items;
    assert_eq!(left.len(), 1, "only the held ConfigMap is left");
    assert!(left[0].metadata.deletion_timestamp.is_some());
    // It stays Terminating for as long as the finalizer does.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(namespaces.get_opt("stuck").await.unwrap().is_some());

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    gone(&namespaces, "stuck").await;
    drop(controllers);
    c.stop().await;
}
