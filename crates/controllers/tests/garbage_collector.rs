//! The garbage collector against a real apiserver: background, foreground and orphan
//! propagation, dependents with several owners, owner references to objects that do not exist
//! (or exist with another uid), and the three `kubectl delete --cascade` flows.
//! Owners and dependents are made by hand (no workload controller runs).

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rkube_controllers::Context;
use rkube_controllers::garbage_collector::{self, Config};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// Starts the garbage collector; it stops when the handle is dropped.
fn start_gc(client: &Client) -> AbortOnDrop {
    let ctx = Context::new(client.clone(), "gc-test".into());
    AbortOnDrop(tokio::spawn(garbage_collector::run_with(
        ctx,
        Config { workers: 4 },
    )))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn owner_ref(api_version: &str, kind: &str, name: &str, uid: &str, block: bool) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
           "blockOwnerDeletion": block})
}

fn cm_ref(owner: &ConfigMap, block: bool) -> Value {
    owner_ref(
        "v1",
        "ConfigMap",
        &owner.name_any(),
        &owner.uid().unwrap(),
        block,
    )
}

async fn config_map(
    client: &Client,
    name: &str,
    owners: Vec<Value>,
    finalizers: &[&str],
) -> ConfigMap {
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name, "ownerReferences": owners, "finalizers": finalizers},
        "data": {"k": "v"},
    }))
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap()
}

async fn pod(client: &Client, name: &str, owners: Vec<Value>) -> Pod {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}, "ownerReferences": owners},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap()
}

async fn gone<K>(api: &Api<K>, name: &str) -> bool
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    matches!(api.get_opt(name).await, Ok(None))
}

async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(WAIT, &format!("{name} to be deleted"), || async {
        gone(api, name).await.then_some(())
    })
    .await;
}

#[tokio::test]
async fn background_deletion_removes_dependents() {
    let c = Cluster::start().await;
    let gc = start_gc(&c.client);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let owner = config_map(&c.client, "owner", vec![], &[]).await;
    config_map(&c.client, "dep", vec![cm_ref(&owner, false)], &[]).await;
    pod(&c.client, "dep-pod", vec![cm_ref(&owner, true)]).await;
    let unrelated = config_map(&c.client, "unrelated", vec![], &[]).await;

    cms.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    assert!(
        gone(&cms, "owner").await,
        "background: the owner goes at once"
    );
    wait_gone(&cms, "dep").await;
    wait_gone(&pods, "dep-pod").await;
    assert_eq!(cms.get("unrelated").await.unwrap().uid(), unrelated.uid());
    drop(gc);
    c.stop().await;
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let c = Cluster::start().await;
    let gc = start_gc(&c.client);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.client.clone());
    // owner ← mid (blocking) ← leaf (blocking; held by a finalizer of its own), and a
    // non-blocking follower.
    let owner = config_map(&c.client, "fg-owner", vec![], &[]).await;
    let mid = config_map(&c.client, "mid", vec![cm_ref(&owner, true)], &[]).await;
    config_map(
        &c.client,
        "leaf",
        vec![cm_ref(&mid, true)],
        &["example.com/hold"],
    )
    .await;
    config_map(&c.client, "follower", vec![cm_ref(&owner, false)], &[]).await;

    cms.delete("fg-owner", &DeleteParams::foreground())
        .await
        .unwrap();
    wait_gone(&cms, "follower").await;
    // A dependent with dependents of its own is deleted in the foreground too; one without
    // in the background (the leaf stays only for its own finalizer).
    let marked = |name: &'static str| {
        let cms = cms.clone();
        async move {
            eventually(WAIT, &format!("{name} marked for deletion"), || async {
                cms.get(name)
                    .await
                    .ok()
                    .filter(|o| o.metadata.deletion_timestamp.is_some())
            })
            .await
        }
    };
    assert_eq!(marked("mid").await.finalizers(), ["foregroundDeletion"]);
    assert_eq!(marked("leaf").await.finalizers(), ["example.com/hold"]);
    // The owner waits, with its finalizer, while a blocking dependent exists.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = cms.get("fg-owner").await.unwrap();
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(waiting.finalizers(), ["foregroundDeletion"]);
    assert!(cms.get("mid").await.is_ok());

    // Release the leaf: it goes, then mid, then the owner.
    cms.patch(
        "leaf",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": []}})),
    )
    .await
    .unwrap();
    wait_gone(&cms, "leaf").await;
    wait_gone(&cms, "mid").await;
    wait_gone(&cms, "fg-owner").await;
    drop(gc);
    c.stop().await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let c = Cluster::start().await;
    let gc = start_gc(&c.client);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.client.clone());
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let owner = config_map(&c.client, "or-owner", vec![], &[]).await;
    let other = config_map(&c.client, "other-owner", vec![], &[]).await;
    config_map(&c.client, "or-dep", vec![cm_ref(&owner, true)], &[]).await;
    pod(
        &c.client,
        "or-pod",
        vec![cm_ref(&owner, false), cm_ref(&other, false)],
    )
    .await;

    cms.delete("or-owner", &DeleteParams::orphan())
        .await
        .unwrap();
    wait_gone(&cms, "or-owner").await;
    let dep = cms.get("or-dep").await.unwrap();
    assert!(
        dep.owner_references().is_empty(),
        "{:?}",
        dep.owner_references()
    );
    let p = pods.get("or-pod").await.unwrap();
    let owners: Vec<&str> = p
        .owner_references()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(owners, ["other-owner"]);
    // They stay.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cms.get("or-dep").await.is_ok());
    drop(gc);
    c.stop().await;
}

#[tokio::test]
async fn a_dependent_with_another_live_owner_survives() {
    let c = Cluster::start().await;
    let gc = start_gc(&c.client);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.client.clone());
    let a = config_map(&c.client, "owner-a", vec![], &[]).await;
    let b = config_map(&c.client, "owner-b", vec![], &[]).await;
    config_map(
        &c.client,
        "shared",
        vec![cm_ref(&a, false), cm_ref(&b, false)],
        &[],
    )
    .await;

    cms.delete("owner-a", &DeleteParams::background())
        .await
        .unwrap();
    let shared = eventually(WAIT, "the reference to owner-a to be dropped", || async {
        cms.get("shared")
            .await
            .ok()
            .filter(|s| s.owner_references().len() == 1)
    })
    .await;
    assert_eq!(shared.owner_references()[0].name, "owner-b");
    assert!(shared.metadata.deletion_timestamp.is_none());

    cms.delete("owner-b", &DeleteParams::background())
        .await
        .unwrap();
    wait_gone(&cms, "shared").await;
    drop(gc);
    c.stop().await;
}

#[tokio::test]
async fn references_to_absent_owners_are_dangling() {
    let c = Cluster::start().await;
    let gc = start_gc(&c.client);
    let cms: Api<ConfigMap> = Api::default_namespaced(c.client.clone());
    let real = config_map(&c.client, "real", vec![], &[]).await;
    // The right name with another uid: an earlier object of that name, long gone.
    let stale = owner_ref(
        "v1",
        "ConfigMap",
        "real",
        "00000000-0000-0000-0000-000000000001",
        false,
    );
    config_map(&c.client, "stale-uid", vec![stale], &[]).await;
    let missing = owner_ref(
        "v1",
        "ConfigMap",
        "never",
        "00000000-0000-0000-0000-000000000002",
        false,
    );
    config_map(&c.client, "missing-owner", vec![missing], &[]).await;
    config_map(&c.client, "well-owned", vec![cm_ref(&real, false)], &[]).await;

    wait_gone(&cms, "stale-uid").await;
    wait_gone(&cms, "missing-owner").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        cms.get("well-owned").await.is_ok(),
        "a live owner keeps its dependent"
    );
    assert!(cms.get("real").await.is_ok());
    drop(gc);
    c.stop().await;
}

/// A ReplicaSet (no controller runs) and pods it owns, as its controller would make them.
async fn replica_set_with_pods(c: &Cluster, name: &str, pods: usize) -> ReplicaSet {
    let rss: Api<ReplicaSet> = Api::default_namespaced(c.client.clone());
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": pods, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .unwrap();
    let rs = rss.create(&PostParams::default(), &rs).await.unwrap();
    let controller_ref = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name,
        "uid": rs.uid().unwrap(), "controller": true, "blockOwnerDeletion": true});
    for i in 0..pods {
        pod(
            &c.client,
            &format!("{name}-{i}"),
            vec![controller_ref.clone()],
        )
        .await;
    }
    rs
}

async fn pod_names(client: &Client) -> Vec<String> {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut names: Vec<String> = pods
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.name_any())
        .collect();
    names.sort();
    names
}

// kubectl runs synchronously: the apiserver needs other threads meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_cascade_flows() {
    let c = Cluster::start().await;
    let gc = start_gc(&c.client);
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());

    // --cascade=background (kubectl's default): the ReplicaSet goes, then its pods.
    replica_set_with_pods(&c, "bg", 2).await;
    let (ok, out, err) = c.kubectl(&["delete", "replicaset", "bg", "--cascade=background"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("replicaset.apps \"bg\" deleted"), "{out}");
    wait_gone(&pods, "bg-0").await;
    wait_gone(&pods, "bg-1").await;

    // --cascade=foreground: kubectl waits for the ReplicaSet, which waits for its pods.
    replica_set_with_pods(&c, "fg", 2).await;
    let (ok, out, err) = c.kubectl(&["delete", "replicaset", "fg", "--cascade=foreground"]);
    assert!(ok, "{out}{err}");
    assert!(
        !pod_names(&c.client)
            .await
            .iter()
            .any(|n| n.starts_with("fg-")),
        "the pods were gone before the ReplicaSet"
    );
    let (ok, _, err) = c.kubectl(&["get", "replicaset", "fg"]);
    assert!(!ok && err.contains("NotFound"), "{err}");

    // --cascade=orphan: the pods stay, without their owner reference.
    replica_set_with_pods(&c, "or", 2).await;
    let (ok, out, err) = c.kubectl(&["delete", "replicaset", "or", "--cascade=orphan"]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = c.kubectl(&["get", "replicaset", "or"]);
    assert!(!ok && err.contains("NotFound"), "{err}");
    for name in ["or-0", "or-1"] {
        let p = pods.get(name).await.unwrap();
        assert!(
            p.owner_references().is_empty(),
            "{name}: {:?}",
            p.owner_references()
        );
        assert!(p.metadata.deletion_timestamp.is_none());
    }
    drop(gc);
    c.stop().await;
}
