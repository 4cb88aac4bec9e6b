//! The ReplicaSet and ReplicationController controllers against a real apiserver, the real
//! scheduler and simulated nodes: scaling, replacement, adoption and release, deletion order,
//! minReadySeconds, events, and the seed's RCs through the real kubectl.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod, ReplicationController};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn replicaset(name: &str, replicas: i32, min_ready: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))
    .unwrap()
}

/// Active pods with `app=<app>` (not terminating).
async fn active_pods(c: &Cluster, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(c.client.clone(), "default")
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

/// Waits until the RS reports `n` replicas, all ready and available, for its generation.
async fn wait_status(rs: &Api<ReplicaSet>, name: &str, n: i32) -> ReplicaSet {
    eventually(WAIT, &format!("{name} to report {n} available"), || async {
        let r = rs.get(name).await.unwrap();
        let s = r.status.clone()?;
        (s.replicas == n
            && s.ready_replicas.unwrap_or(0) == n
            && s.available_replicas.unwrap_or(0) == n
            && s.fully_labeled_replicas.unwrap_or(0) == n
            && s.observed_generation == r.metadata.generation)
            .then_some(r)
    })
    .await
}

async fn scale(rs: &Api<ReplicaSet>, name: &str, n: i32) {
    rs.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": n}})),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_up_from_zero_and_down_with_status_and_events() {
    let c = Cluster::with_nodes(3).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["replicaset-controller"]).unwrap();
    let rs: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    rs.create(&PostParams::default(), &replicaset("web", 0, 0))
        .await
        .unwrap();
    wait_status(&rs, "web", 0).await;
    assert!(active_pods(&c, "web").await.is_empty());

    scale(&rs, "web", 5).await;
    wait_status(&rs, "web", 5).await;
    let pods = active_pods(&c, "web").await;
    assert_eq!(pods.len(), 5);
    let owner = rs.get("web").await.unwrap();
    for p in &pods {
        assert!(is_ready(p), "{} ready", p.name_any());
        assert!(p.name_any().starts_with("web-"), "{}", p.name_any());
        let r = &p.owner_references()[0];
        assert_eq!(
            (
                r.kind.as_str(),
                r.uid.as_str(),
                r.controller,
                r.block_owner_deletion
            ),
            (
                "ReplicaSet",
                owner.uid().unwrap().as_str(),
                Some(true),
                Some(true)
            )
        );
        assert_eq!(p.labels()["tier"], "web", "template labels copied");
    }

    scale(&rs, "web", 2).await;
    wait_status(&rs, "web", 2).await;
    eventually(WAIT, "3 pods deleted", || async {
        (active_pods(&c, "web").await.len() == 2).then_some(())
    })
    .await;

    // Upstream's events on the owner, from replicaset-controller.
    let events: Vec<Event> = eventually(WAIT, "the create and delete events", || async {
        let evs = Api::<Event>::namespaced(c.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        let ours: Vec<Event> = evs
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("web"))
            .collect();
        let n = |reason: &str| {
            ours.iter()
                .filter(|e| e.reason.as_deref() == Some(reason))
                .count()
        };
        (n("SuccessfulCreate") == 5 && n("SuccessfulDelete") == 3).then_some(ours)
    })
    .await;
    for e in &events {
        assert_eq!(
            e.source.as_ref().and_then(|s| s.component.as_deref()),
            Some("replicaset-controller")
        );
        let msg = e.message.as_deref().unwrap();
        assert!(
            msg.starts_with("Created pod: web-") || msg.starts_with("Deleted pod: web-"),
            "{msg}"
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_by_hand_is_replaced() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["replicaset"]).unwrap();
    let rs: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    rs.create(&PostParams::default(), &replicaset("keep", 3, 0))
        .await
        .unwrap();
    wait_status(&rs, "keep", 3).await;
    let victim = active_pods(&c, "keep").await[0].name_any();
    let (ok, _, err) = c.kubectl(&["delete", "pod", &victim, "--wait=false"]);
    assert!(ok, "{err}");
    eventually(WAIT, "a replacement pod", || async {
        let pods = active_pods(&c, "keep").await;
        (pods.len() == 3
            && pods.iter().all(|p| p.name_any() != victim)
            && pods.iter().all(is_ready))
        .then_some(())
    })
    .await;
    wait_status(&rs, "keep", 3).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopts_a_matching_orphan_deleting_the_unscheduled_one_first_and_releases_a_relabelled_pod()
{
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["replicaset-controller"]).unwrap();
    let rs: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    rs.create(&PostParams::default(), &replicaset("own", 2, 0))
        .await
        .unwrap();
    wait_status(&rs, "own", 2).await;

    // An orphan matching the selector that can never be scheduled: adopted (3 > 2), then the
    // surplus pod removed is this one — unassigned pods go first.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orphan", "labels": {"app": "own"}},
        "spec": {
            "nodeSelector": {"no-such-label": "x"},
            "containers": [{"name": "c", "image": "nginx"}]
        }
    }))
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    eventually(WAIT, "the unscheduled orphan to be deleted", || async {
        match pods.get_opt("orphan").await.unwrap() {
            None => Some(()),
            Some(p) if p.metadata.deletion_timestamp.is_some() => {
                assert_eq!(p.owner_references().len(), 1, "adopted before deletion");
                Some(())
            }
            Some(_) => None,
        }
    })
    .await;
    // Events are written in the background after the delete returns, so wait for it.
    let events = Api::<Event>::namespaced(c.client.clone(), "default");
    eventually(WAIT, "the orphan's deletion event", || async {
        let listed = events.list(&ListParams::default()).await.unwrap().items;
        listed
            .iter()
            .any(|e| e.message.as_deref() == Some("Deleted pod: orphan"))
            .then_some(())
    })
    .await;
    let running = active_pods(&c, "own").await;
    assert_eq!(running.len(), 2, "the two running pods were kept");

    // Relabel one: released (no owner), and replaced.
    let relabelled = running[0].name_any();
    let (ok, _, err) = c.kubectl(&["label", "pod", &relabelled, "app=elsewhere", "--overwrite"]);
    assert!(ok, "{err}");
    eventually(WAIT, "the relabelled pod to be released", || async {
        let p = pods.get(&relabelled).await.unwrap();
        p.owner_references().is_empty().then_some(())
    })
    .await;
    eventually(WAIT, "a replacement", || async {
        (active_pods(&c, "own").await.len() == 2
            && active_pods(&c, "own")
                .await
                .iter()
                .all(|p| p.name_any() != relabelled))
        .then_some(())
    })
    .await;
    wait_status(&rs, "own", 2).await;

    // Labelled back, it is adopted again and the surplus removed.
    let (ok, _, err) = c.kubectl(&["label", "pod", &relabelled, "app=own", "--overwrite"]);
    assert!(ok, "{err}");
    eventually(WAIT, "back to 2 pods", || async {
        let owned = active_pods(&c, "own").await;
        (owned.len() == 2 && owned.iter().all(|p| p.owner_references().len() == 1)).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_ready_seconds_gates_available_replicas() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["replicaset-controller"]).unwrap();
    let rs: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    rs.create(&PostParams::default(), &replicaset("slow", 2, 3))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    // Ready comes first; available only once the pods have been ready for 3 s.
    let ready_at = eventually(WAIT, "both ready", || async {
        let s = rs.get("slow").await.unwrap().status?;
        (s.ready_replicas == Some(2)).then(|| {
            assert_eq!(s.available_replicas.unwrap_or(0), 0, "not yet available");
            tokio::time::Instant::now()
        })
    })
    .await;
    wait_status(&rs, "slow", 2).await;
    let became = tokio::time::Instant::now();
    // Condition times are whole seconds (as upstream's), so "ready for 3 s" can be seen up to
    // a second early.
    assert!(
        became.duration_since(started) >= Duration::from_secs(2),
        "available only after minReadySeconds: {:?}",
        became.duration_since(started)
    );
    assert!(
        became.duration_since(ready_at) < Duration::from_secs(3),
        "requeued for the remaining time, not a full extra period: {:?}",
        became.duration_since(ready_at)
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_rcs_run_and_scale_with_kubectl() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["*"]).unwrap();
    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed");
    for f in ["mysql-rc.yaml", "myweb-rc.yaml"] {
        let (ok, out, err) = c.kubectl(&["create", "-f", &format!("{seed}/{f}")]);
        assert!(ok, "{err}");
        assert!(out.contains("created"), "{out}");
    }
    let rcs: Api<ReplicationController> = Api::namespaced(c.client.clone(), "default");
    let ready = |name: &'static str, n: i32| {
        let rcs = rcs.clone();
        async move {
            eventually(WAIT, &format!("rc {name} at {n} ready"), || async {
                let s = rcs.get(name).await.unwrap().status?;
                (s.replicas == n
                    && s.ready_replicas.unwrap_or(0) == n
                    && s.available_replicas.unwrap_or(0) == n)
                    .then_some(())
            })
            .await
        }
    };
    ready("mysql", 1).await;
    ready("myweb", 2).await;
    assert_eq!(active_pods(&c, "myweb").await.len(), 2);

    let (ok, out, err) = c.kubectl(&["scale", "rc", "myweb", "--replicas=4"]);
    assert!(ok, "{err}");
    assert!(out.contains("scaled"), "{out}");
    ready("myweb", 4).await;
    let (ok, out, _) = c.kubectl(&["get", "rc", "myweb", "--no-headers"]);
    assert!(ok);
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        &cols[..4],
        ["myweb", "4", "4", "4"],
        "NAME DESIRED CURRENT READY: {out}"
    );

    let (ok, _, err) = c.kubectl(&["scale", "rc/myweb", "--replicas=1"]);
    assert!(ok, "{err}");
    ready("myweb", 1).await;
    eventually(WAIT, "myweb down to 1 pod", || async {
        (active_pods(&c, "myweb").await.len() == 1).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_works_on_replicasets() {
    let c = Cluster::with_nodes(1).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["replicaset-controller"]).unwrap();
    let rs: Api<ReplicaSet> = Api::namespaced(c.client.clone(), "default");
    rs.create(&PostParams::default(), &replicaset("scaled", 1, 0))
        .await
        .unwrap();
    wait_status(&rs, "scaled", 1).await;
    let (ok, _, err) = c.kubectl(&["scale", "rs/scaled", "--replicas=3"]);
    assert!(ok, "{err}");
    wait_status(&rs, "scaled", 3).await;
    let (ok, out, _) = c.kubectl(&["get", "rs", "scaled", "--no-headers"]);
    assert!(ok);
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&cols[..4], ["scaled", "3", "3", "3"], "{out}");
    // Deleting the owner is the garbage collector's business; the controller just stops.
    rs.delete("scaled", &DeleteParams::default()).await.unwrap();
    c.stop().await;
}
