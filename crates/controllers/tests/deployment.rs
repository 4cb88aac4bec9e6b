//! The Deployment controller (with the ReplicaSet controller making the pods) against a real
//! apiserver, the real scheduler and simulated nodes: rollout to available with upstream's
//! status, conditions, annotations and events; RollingUpdate bounds at every observed moment;
//! Recreate; proportional scaling mid-rollout; history cleanup; pause/resume; a rollout that
//! can never become ready; a controller-manager restart mid-rollout; the kubectl flows.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Cluster, eventually, merge};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(40);
const CONTROLLERS: &[&str] = &["deployment-controller", "replicaset-controller"];
const REVISION: &str = "deployment.kubernetes.io/revision";

fn deployment(name: &str, replicas: i32, extra: Value) -> Deployment {
    let mut d = json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
            }
        }
    });
    merge(&mut d, extra);
    serde_json::from_value(d).unwrap()
}

fn api<K>(c: &Cluster) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(c.client.clone(), "default")
}

async fn patch(c: &Cluster, name: &str, body: Value) {
    api::<Deployment>(c)
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
}

async fn set_image(c: &Cluster, name: &str, image: &str) {
    patch(
        c,
        name,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}),
    )
    .await;
}

/// The Deployment's ReplicaSets (by controller reference), lowest revision first.
async fn replica_sets(c: &Cluster, d: &str) -> Vec<ReplicaSet> {
    replica_sets_of(&c.client, d).await
}

fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

fn image_of(rs: &ReplicaSet) -> String {
    rs.spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone()
        .unwrap()
}

fn annotation(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<String> {
    meta.annotations.as_ref()?.get(key).cloned()
}

fn condition<'a>(d: &'a Deployment, type_: &str) -> Option<&'a DeploymentCondition> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn reason(d: &Deployment, type_: &str) -> Option<String> {
    condition(d, type_).and_then(|c| c.reason.clone())
}

/// Waits until the Deployment's rollout is complete: every pod updated and available, no
/// old pods, the generation observed, Progressing NewReplicaSetAvailable.
async fn wait_complete(c: &Cluster, name: &str, n: i32) -> Deployment {
    let deployments = api::<Deployment>(c);
    eventually(WAIT, &format!("{name} complete at {n}"), || async {
        let d = deployments.get(name).await.unwrap();
        let s = d.status.clone()?;
        (s.replicas == Some(n)
            && s.updated_replicas == Some(n)
            && s.ready_replicas == Some(n)
            && s.available_replicas == Some(n)
            && s.unavailable_replicas.unwrap_or(0) == 0
            && s.observed_generation == d.metadata.generation
            && reason(&d, "Progressing").as_deref() == Some("NewReplicaSetAvailable"))
        .then_some(d)
    })
    .await
}

async fn events_of(c: &Cluster, name: &str) -> Vec<Event> {
    api::<Event>(c)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name)
                && e.involved_object.kind.as_deref() == Some("Deployment")
        })
        .collect()
}

async fn wait_event(c: &Cluster, name: &str, message: &str) -> Event {
    eventually(WAIT, &format!("event {message:?}"), || async {
        events_of(c, name)
            .await
            .into_iter()
            .find(|e| e.message.as_deref() == Some(message))
    })
    .await
}

/// Active (not terminating) pods with `app=<app>`.
async fn active_pods(c: &Cluster, app: &str) -> Vec<Pod> {
    api::<Pod>(c)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn hash_of(p: &Pod) -> String {
    p.labels()
        .get("pod-template-hash")
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_deployment_becomes_available_with_upstreams_status_annotations_and_events() {
    let c = Cluster::with_nodes(3).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    api::<Deployment>(&c)
        .create(
            &PostParams::default(),
            &deployment(
                "web",
                3,
                json!({"metadata": {"annotations": {"team": "a"}}}),
            ),
        )
        .await
        .unwrap();
    let d = wait_complete(&c, "web", 3).await;
    assert_eq!(
        reason(&d, "Available").as_deref(),
        Some("MinimumReplicasAvailable")
    );
    let avail = condition(&d, "Available").unwrap();
    assert_eq!(
        (avail.status.as_str(), avail.message.as_deref()),
        ("True", Some("Deployment has minimum availability."))
    );
    assert_eq!(annotation(&d.metadata, REVISION).as_deref(), Some("1"));

    let rss = replica_sets(&c, "web").await;
    assert_eq!(rss.len(), 1);
    let rs = &rss[0];
    let hash = rs.labels()["pod-template-hash"].clone();
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    let progressing = condition(&d, "Progressing").unwrap();
    assert_eq!(progressing.status, "True");
    assert_eq!(
        progressing.message.as_deref(),
        Some(format!("ReplicaSet \"web-{hash}\" has successfully progressed.").as_str())
    );
    let spec = rs.spec.as_ref().unwrap();
    assert_eq!(
        spec.selector.match_labels.as_ref().unwrap()["pod-template-hash"],
        hash
    );
    assert_eq!(
        spec.template
            .as_ref()
            .unwrap()
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap()["pod-template-hash"],
        hash
    );
    let owner = &rs.owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        (
            "Deployment",
            d.uid().unwrap().as_str(),
            Some(true),
            Some(true)
        )
    );
    assert_eq!(annotation(&rs.metadata, REVISION).as_deref(), Some("1"));
    // 25% of 3 rounds the surge up to 1.
    assert_eq!(
        annotation(&rs.metadata, "deployment.kubernetes.io/desired-replicas").as_deref(),
        Some("3")
    );
    assert_eq!(
        annotation(&rs.metadata, "deployment.kubernetes.io/max-replicas").as_deref(),
        Some("4")
    );
    assert_eq!(
        annotation(&rs.metadata, "team").as_deref(),
        Some("a"),
        "the Deployment's annotations are copied"
    );
    let pods = active_pods(&c, "web").await;
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| hash_of(p) == hash && is_ready(p)));

    let e = wait_event(
        &c,
        "web",
        &format!("Scaled up replica set web-{hash} from 0 to 3"),
    )
    .await;
    assert_eq!(e.reason.as_deref(), Some("ScalingReplicaSet"));
    assert_eq!(
        e.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("deployment-controller")
    );

    // Bad input: a selector that does not match the template is rejected at the API.
    let bad = deployment(
        "bad",
        1,
        json!({"spec": {"selector": {"matchLabels": {"app": "other"}}}}),
    );
    match api::<Deployment>(&c)
        .create(&PostParams::default(), &bad)
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 422, "{s:?}"),
        other => panic!("expected 422, got {other:?}"),
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_stays_within_max_surge_and_max_unavailable() {
    let c = Cluster::with_nodes(3).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    let strategy = json!({"spec": {"strategy": {"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 1}}}});
    api::<Deployment>(&c)
        .create(&PostParams::default(), &deployment("roll", 6, strategy))
        .await
        .unwrap();
    wait_complete(&c, "roll", 6).await;
    let old_hash = replica_sets(&c, "roll").await[0].labels()["pod-template-hash"].clone();
    set_image(&c, "roll", "nginx:2").await;

    // Observe until complete: at most 6 + 2 pods, at least 6 − 1 ready, at every moment.
    let deployments = api::<Deployment>(&c);
    let (mut max_seen, mut min_ready_seen, mut samples) = (0, usize::MAX, 0);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pods = active_pods(&c, "roll").await;
        let ready = pods.iter().filter(|p| is_ready(p)).count();
        max_seen = max_seen.max(pods.len());
        min_ready_seen = min_ready_seen.min(ready);
        samples += 1;
        let rss = replica_sets(&c, "roll").await;
        let total: i32 = rss.iter().map(rs_replicas).sum();
        let sizes: Vec<(String, i32, Option<String>)> = rss
            .iter()
            .map(|rs| {
                (
                    rs.name_any(),
                    rs_replicas(rs),
                    rs.metadata.resource_version.clone(),
                )
            })
            .collect();
        if total > 8 {
            let msgs: Vec<String> = events_of(&c, "roll")
                .await
                .into_iter()
                .filter_map(|e| e.message)
                .collect();
            panic!("ReplicaSets sized {total} > replicas + maxSurge: {sizes:?}; events: {msgs:#?}");
        }
        let d = deployments.get("roll").await.unwrap();
        let s = d.status.clone().unwrap_or_default();
        if s.updated_replicas == Some(6)
            && s.replicas == Some(6)
            && s.available_replicas == Some(6)
            && s.observed_generation == d.metadata.generation
            && reason(&d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout did not finish: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(max_seen <= 8, "saw {max_seen} pods at once");
    assert!(min_ready_seen >= 5, "saw only {min_ready_seen} ready pods");
    assert!(samples > 3, "observed the rollout {samples} times");

    let rss = replica_sets(&c, "roll").await;
    assert_eq!(rss.len(), 2);
    let (old, new) = (&rss[0], &rss[1]);
    assert_eq!(old.labels()["pod-template-hash"], old_hash);
    assert_eq!((rs_replicas(old), rs_replicas(new)), (0, 6));
    assert_eq!(image_of(new), "nginx:2");
    assert_eq!(annotation(&old.metadata, REVISION).as_deref(), Some("1"));
    assert_eq!(annotation(&new.metadata, REVISION).as_deref(), Some("2"));
    let d = deployments.get("roll").await.unwrap();
    assert_eq!(annotation(&d.metadata, REVISION).as_deref(), Some("2"));
    assert!(
        active_pods(&c, "roll")
            .await
            .iter()
            .all(|p| hash_of(p) != old_hash)
    );
    // Old scaled down in steps, new up in steps, with upstream's wording.
    let msgs: Vec<String> = events_of(&c, "roll")
        .await
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m == &format!("Scaled up replica set {} from 0 to 2", new.name_any())),
        "{msgs:?}"
    );
    assert!(
        msgs.iter().any(|m| m.starts_with(&format!(
            "Scaled down replica set {} from 6 to 5",
            old.name_any()
        ))),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.ends_with(" to 0") && m.contains(&old.name_any())),
        "{msgs:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_removes_every_old_pod_before_creating_new_ones() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    api::<Deployment>(&c)
        .create(
            &PostParams::default(),
            &deployment(
                "rec",
                3,
                json!({"spec": {"strategy": {"type": "Recreate"}}}),
            ),
        )
        .await
        .unwrap();
    wait_complete(&c, "rec", 3).await;
    let old_hash = replica_sets(&c, "rec").await[0].labels()["pod-template-hash"].clone();
    set_image(&c, "rec", "nginx:2").await;
    let pods_api = api::<Pod>(&c);
    let deployments = api::<Deployment>(&c);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut saw_gap = false;
    loop {
        // Every pod, terminating ones included: old and new never coexist.
        let pods = pods_api
            .list(&ListParams::default().labels("app=rec"))
            .await
            .unwrap()
            .items;
        let old = pods.iter().filter(|p| hash_of(p) == old_hash).count();
        let new = pods.len() - old;
        assert!(old == 0 || new == 0, "{old} old and {new} new pods at once");
        saw_gap |= old == 0 && new == 0;
        let d = deployments.get("rec").await.unwrap();
        let s = d.status.clone().unwrap_or_default();
        if s.updated_replicas == Some(3)
            && s.available_replicas == Some(3)
            && s.replicas == Some(3)
            && old == 0
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "recreate did not finish: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = saw_gap; // The gap may be too short to observe; the invariant above is what matters.
    let rss = replica_sets(&c, "rec").await;
    assert_eq!(rss.iter().map(rs_replicas).collect::<Vec<_>>(), [0, 3]);
    let new = &rss[1];
    let e = wait_event(
        &c,
        "rec",
        &format!("Scaled down replica set {} from 3 to 0", rss[0].name_any()),
    )
    .await;
    assert_eq!(e.reason.as_deref(), Some("ScalingReplicaSet"));
    wait_event(
        &c,
        "rec",
        &format!("Scaled up replica set {} from 0 to 3", new.name_any()),
    )
    .await;
    c.stop().await;
}

/// A template whose pods no node can take (they stay Pending, never ready).
fn unschedulable() -> Value {
    json!({"spec": {"template": {"spec": {"nodeSelector": {"no-such-label": "x"}}}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_mid_rollout_is_proportional() {
    let c = Cluster::with_nodes(3).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    let strategy = json!({"spec": {"strategy": {"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}}});
    api::<Deployment>(&c)
        .create(&PostParams::default(), &deployment("prop", 10, strategy))
        .await
        .unwrap();
    wait_complete(&c, "prop", 10).await;
    // A rollout that gets stuck: new pods never become ready.
    patch(&c, "prop", unschedulable()).await;
    // 13 at most, 8 available at least: old 10 → 8, new 0 → 5, then no step is allowed.
    let sizes = |c: &Cluster| {
        let c = c.client.clone();
        async move {
            let rss = replica_sets_of(&c, "prop").await;
            rss.iter().map(rs_replicas).collect::<Vec<_>>()
        }
    };
    eventually(WAIT, "old 8, new 5", || async {
        (sizes(&c).await == [8, 5]).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sizes(&c).await, [8, 5], "stuck: no further step");

    // Scale to 20 mid-rollout: the 10 extra pods (23 − 13) are shared 6 : 4.
    patch(&c, "prop", json!({"spec": {"replicas": 20}})).await;
    eventually(WAIT, "old 14, new 9", || async {
        (sizes(&c).await == [14, 9]).then_some(())
    })
    .await;
    let rss = replica_sets(&c, "prop").await;
    for rs in &rss {
        assert_eq!(
            annotation(&rs.metadata, "deployment.kubernetes.io/desired-replicas").as_deref(),
            Some("20")
        );
        assert_eq!(
            annotation(&rs.metadata, "deployment.kubernetes.io/max-replicas").as_deref(),
            Some("23")
        );
    }
    wait_event(
        &c,
        "prop",
        &format!("Scaled up replica set {} from 8 to 14", rss[0].name_any()),
    )
    .await;
    wait_event(
        &c,
        "prop",
        &format!("Scaled up replica set {} from 5 to 9", rss[1].name_any()),
    )
    .await;

    // And back down to 5: 23 → 8 pods, the older set shrinking first on ties.
    patch(&c, "prop", json!({"spec": {"replicas": 5}})).await;
    eventually(WAIT, "scaled down proportionally", || async {
        let s = sizes(&c).await;
        (s.iter().sum::<i32>() == 8 && s == [5, 3]).then_some(())
    })
    .await;
    c.stop().await;
}

async fn replica_sets_of(client: &kube::Client, d: &str) -> Vec<ReplicaSet> {
    let mut v: Vec<ReplicaSet> = Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|rs| {
            rs.owner_references()
                .iter()
                .any(|r| r.name == d && r.controller == Some(true))
        })
        .collect();
    // Creation times are whole seconds: the revision tells old from new.
    v.sort_by_key(|rs| {
        let rev: i64 = annotation(&rs.metadata, REVISION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        (rev, rs.name_any())
    });
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_never_becomes_ready_exceeds_its_deadline_and_keeps_the_old_pods() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    let spec = json!({"spec": {"progressDeadlineSeconds": 3, "strategy": {"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}});
    api::<Deployment>(&c)
        .create(&PostParams::default(), &deployment("stuck", 3, spec))
        .await
        .unwrap();
    wait_complete(&c, "stuck", 3).await;
    let old_pods: Vec<String> = active_pods(&c, "stuck")
        .await
        .iter()
        .map(|p| p.name_any())
        .collect();
    patch(&c, "stuck", unschedulable()).await;
    let deployments = api::<Deployment>(&c);
    let d = eventually(WAIT, "ProgressDeadlineExceeded", || async {
        let d = deployments.get("stuck").await.unwrap();
        (reason(&d, "Progressing").as_deref() == Some("ProgressDeadlineExceeded")).then_some(d)
    })
    .await;
    let rss = replica_sets(&c, "stuck").await;
    let p = condition(&d, "Progressing").unwrap();
    assert_eq!(p.status, "False");
    assert_eq!(
        p.message.as_deref(),
        Some(
            format!(
                "ReplicaSet \"{}\" has timed out progressing.",
                rss[1].name_any()
            )
            .as_str()
        )
    );
    assert_eq!(
        reason(&d, "Available").as_deref(),
        Some("MinimumReplicasAvailable")
    );
    assert_eq!(rss.iter().map(rs_replicas).collect::<Vec<_>>(), [3, 1]);
    // The old pods are all still there and ready.
    let now: Vec<Pod> = active_pods(&c, "stuck").await;
    for name in &old_pods {
        let p = now
            .iter()
            .find(|p| &p.name_any() == name)
            .unwrap_or_else(|| panic!("{name} was removed"));
        assert!(is_ready(p));
    }
    let (ok, out, err) = c.kubectl(&["rollout", "status", "deployment/stuck", "--timeout=10s"]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("deployment \"stuck\" exceeded its progress deadline"),
        "{err}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_replica_sets_beyond_the_history_limit_are_deleted() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    api::<Deployment>(&c)
        .create(
            &PostParams::default(),
            &deployment("hist", 2, json!({"spec": {"revisionHistoryLimit": 1}})),
        )
        .await
        .unwrap();
    wait_complete(&c, "hist", 2).await;
    for image in ["nginx:2", "nginx:3", "nginx:4"] {
        set_image(&c, "hist", image).await;
        wait_complete(&c, "hist", 2).await;
    }
    let rss = eventually(WAIT, "one old ReplicaSet kept", || async {
        let rss = replica_sets(&c, "hist").await;
        (rss.len() == 2).then_some(rss)
    })
    .await;
    let revisions: Vec<Option<String>> = rss
        .iter()
        .map(|rs| annotation(&rs.metadata, REVISION))
        .collect();
    assert_eq!(revisions, [Some("3".to_string()), Some("4".to_string())]);
    assert_eq!(image_of(&rss[1]), "nginx:4");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_scales_but_does_not_roll_out_until_resumed() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    api::<Deployment>(&c)
        .create(&PostParams::default(), &deployment("pz", 2, json!({})))
        .await
        .unwrap();
    wait_complete(&c, "pz", 2).await;
    let deployments = api::<Deployment>(&c);
    patch(&c, "pz", json!({"spec": {"paused": true}})).await;
    let d = eventually(WAIT, "DeploymentPaused", || async {
        let d = deployments.get("pz").await.unwrap();
        (reason(&d, "Progressing").as_deref() == Some("DeploymentPaused")).then_some(d)
    })
    .await;
    let p = condition(&d, "Progressing").unwrap();
    assert_eq!(
        (p.status.as_str(), p.message.as_deref()),
        ("Unknown", Some("Deployment is paused"))
    );

    set_image(&c, "pz", "nginx:2").await;
    patch(&c, "pz", json!({"spec": {"replicas": 4}})).await;
    eventually(WAIT, "scaled to 4 while paused", || async {
        let d = deployments.get("pz").await.unwrap();
        let s = d.status.clone()?;
        (s.available_replicas == Some(4) && s.observed_generation == d.metadata.generation)
            .then_some(())
    })
    .await;
    let rss = replica_sets(&c, "pz").await;
    assert_eq!(rss.len(), 1, "no rollout while paused");
    assert_eq!(
        (rs_replicas(&rss[0]), image_of(&rss[0]).as_str()),
        (4, "nginx:1")
    );

    patch(&c, "pz", json!({"spec": {"paused": false}})).await;
    wait_complete(&c, "pz", 4).await;
    let rss = replica_sets(&c, "pz").await;
    assert_eq!(rss.iter().map(rs_replicas).collect::<Vec<_>>(), [0, 4]);
    assert_eq!(image_of(&rss[1]), "nginx:2");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_restart_mid_rollout_finishes_it() {
    let c = Cluster::with_nodes(2).await;
    let cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    // One pod at a time, each waiting 2 s to be available: a slow rollout.
    let spec = json!({"spec": {"minReadySeconds": 2, "strategy": {"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}});
    api::<Deployment>(&c)
        .create(&PostParams::default(), &deployment("rs", 4, spec))
        .await
        .unwrap();
    wait_complete(&c, "rs", 4).await;
    set_image(&c, "rs", "nginx:2").await;
    eventually(WAIT, "the rollout under way", || async {
        let rss = replica_sets(&c, "rs").await;
        (rss.len() == 2 && rs_replicas(&rss[1]) >= 1 && rs_replicas(&rss[0]) >= 2).then_some(())
    })
    .await;
    drop(cm);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    wait_complete(&c, "rs", 4).await;
    let rss = replica_sets(&c, "rs").await;
    assert_eq!(rss.len(), 2, "no second new ReplicaSet");
    assert_eq!(rss.iter().map(rs_replicas).collect::<Vec<_>>(), [0, 4]);
    assert_eq!(annotation(&rss[1].metadata, REVISION).as_deref(), Some("2"));
    assert_eq!(active_pods(&c, "rs").await.len(), 4);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_scale_rollout_status_history_and_undo() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    let (ok, out, err) = c.kubectl(&[
        "create",
        "deployment",
        "kweb",
        "--image=nginx:1",
        "--replicas=2",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("deployment.apps/kweb created"), "{out}");
    let (ok, out, err) = c.kubectl(&["rollout", "status", "deployment/kweb", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("deployment \"kweb\" successfully rolled out"),
        "{out}"
    );

    let (ok, out, err) = c.kubectl(&["scale", "deployment", "kweb", "--replicas=3"]);
    assert!(ok, "{err}");
    assert!(out.contains("deployment.apps/kweb scaled"), "{out}");
    wait_complete(&c, "kweb", 3).await;
    let (ok, out, _) = c.kubectl(&["get", "deployment", "kweb", "--no-headers"]);
    assert!(ok);
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        &cols[..4],
        ["kweb", "3/3", "3", "3"],
        "NAME READY UP-TO-DATE AVAILABLE: {out}"
    );

    // A second revision (a merge patch: no strategic merge needed), with a change cause.
    let (ok, _, err) = c.kubectl(&["patch", "deployment", "kweb", "--type=merge", "-p",
        r#"{"metadata":{"annotations":{"kubernetes.io/change-cause":"to nginx:2"}},"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#]);
    assert!(ok, "{err}");
    let (ok, out, err) = c.kubectl(&["rollout", "status", "deployment/kweb", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("successfully rolled out"), "{out}");
    let (ok, out, err) = c.kubectl(&["rollout", "history", "deployment/kweb"]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .filter(|r: &Vec<&str>| !r.is_empty())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0], ["1", "<none>"], "{out}");
    assert_eq!(rows[1][0], "2", "{out}");
    assert_eq!(rows[1][1..].join(" "), "to nginx:2", "{out}");
    let (ok, out, err) = c.kubectl(&["rollout", "history", "deployment/kweb", "--revision=2"]);
    assert!(ok, "{err}");
    assert!(out.contains("nginx:2"), "{out}");

    // Undo: back to revision 1's template, which becomes revision 3.
    let (ok, out, err) = c.kubectl(&["rollout", "undo", "deployment/kweb"]);
    assert!(ok, "undo: {out}{err}");
    assert!(out.contains("rolled back"), "{out}");
    eventually(WAIT, "rolled back to nginx:1", || async {
        let d = wait_complete(&c, "kweb", 3).await;
        (d.spec.as_ref()?.template.spec.as_ref()?.containers[0]
            .image
            .as_deref()
            == Some("nginx:1"))
        .then_some(d)
    })
    .await;
    eventually(WAIT, "the Deployment at revision 3", || async {
        let d = api::<Deployment>(&c).get("kweb").await.unwrap();
        (annotation(&d.metadata, REVISION).as_deref() == Some("3")).then_some(())
    })
    .await;
    let rss = eventually(WAIT, "the nginx:2 ReplicaSet scaled down", || async {
        let rss = replica_sets(&c, "kweb").await;
        (rss.len() == 2 && rs_replicas(&rss[0]) == 0).then_some(rss)
    })
    .await;
    // Ordered by revision: nginx:2 (revision 2), then the first ReplicaSet reused as 3.
    assert_eq!(image_of(&rss[0]), "nginx:2");
    assert_eq!(image_of(&rss[1]), "nginx:1");
    assert_eq!(rs_replicas(&rss[1]), 3);
    assert_eq!(annotation(&rss[1].metadata, REVISION).as_deref(), Some("3"));
    assert_eq!(
        annotation(
            &rss[1].metadata,
            "deployment.kubernetes.io/revision-history"
        )
        .as_deref(),
        Some("1")
    );

    // --to-revision=2 again.
    let (ok, out, err) = c.kubectl(&["rollout", "undo", "deployment/kweb", "--to-revision=2"]);
    assert!(ok, "undo --to-revision: {out}{err}");
    eventually(WAIT, "back on nginx:2 as revision 4", || async {
        let rss = replica_sets(&c, "kweb").await;
        (rss.len() == 2
            && rs_replicas(&rss[1]) == 3
            && rs_replicas(&rss[0]) == 0
            && image_of(&rss[1]) == "nginx:2"
            && annotation(&rss[1].metadata, REVISION).as_deref() == Some("4")
            && annotation(
                &rss[1].metadata,
                "deployment.kubernetes.io/revision-history",
            )
            .as_deref()
                == Some("2"))
        .then_some(())
    })
    .await;
    c.stop().await;
}

/// `kubectl set image`, `rollout restart|pause|resume` send strategic merge patches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_set_image_restart_pause_and_resume() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), CONTROLLERS).unwrap();
    let (ok, _, err) = c.kubectl(&[
        "create",
        "deployment",
        "kset",
        "--image=nginx:1",
        "--replicas=2",
    ]);
    assert!(ok, "{err}");
    wait_complete(&c, "kset", 2).await;

    let (ok, out, err) = c.kubectl(&["set", "image", "deployment/kset", "nginx=nginx:2"]);
    assert!(ok, "set image: {out}{err}");
    let (ok, out, err) = c.kubectl(&["rollout", "status", "deployment/kset", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    let rss = replica_sets(&c, "kset").await;
    assert_eq!(rss.len(), 2);
    assert_eq!(image_of(&rss[1]), "nginx:2");

    let (ok, out, err) = c.kubectl(&["rollout", "pause", "deployment/kset"]);
    assert!(ok, "pause: {out}{err}");
    assert!(out.contains("paused"), "{out}");
    let deployments = api::<Deployment>(&c);
    eventually(WAIT, "DeploymentPaused", || async {
        let d = deployments.get("kset").await.unwrap();
        (reason(&d, "Progressing").as_deref() == Some("DeploymentPaused")).then_some(())
    })
    .await;
    let (ok, out, err) = c.kubectl(&["rollout", "resume", "deployment/kset"]);
    assert!(ok, "resume: {out}{err}");
    eventually(WAIT, "resumed", || async {
        let d = deployments.get("kset").await.unwrap();
        (reason(&d, "Progressing").as_deref() != Some("DeploymentPaused")).then_some(())
    })
    .await;

    let (ok, out, err) = c.kubectl(&["rollout", "restart", "deployment/kset"]);
    assert!(ok, "restart: {out}{err}");
    assert!(out.contains("restarted"), "{out}");
    let (ok, out, err) = c.kubectl(&["rollout", "status", "deployment/kset", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    let rss = replica_sets(&c, "kset").await;
    assert_eq!(rss.len(), 3, "restart rolls out a new ReplicaSet");
    let restarted: BTreeMap<String, String> = rss[2]
        .spec
        .as_ref()
        .unwrap()
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .clone()
        .unwrap_or_default();
    assert!(
        restarted.contains_key("kubectl.kubernetes.io/restartedAt"),
        "{restarted:?}"
    );
    assert_eq!(rss.iter().map(rs_replicas).collect::<Vec<_>>(), [0, 0, 2]);
    c.stop().await;
}
