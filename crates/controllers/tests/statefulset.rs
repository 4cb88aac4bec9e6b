//! The StatefulSet controller against a real apiserver, the real scheduler and simulated
//! nodes: ordered creation and reverse-order scale-down (watched event by event), Parallel
//! pod management, claims from templates with the retention policy, rolling updates with a
//! partition, OnDelete, failed-pod replacement, events, ControllerRevisions, and the real
//! kubectl's `scale` and `rollout status`.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Cluster, eventually};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn statefulset(name: &str, replicas: i32, extra: Value) -> StatefulSet {
    let mut v = json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": format!("{name}-svc"),
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
            }
        }
    });
    common::merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Pods of `app` that are not being deleted, by name.
async fn pods_of(c: &Cluster, app: &str) -> Vec<Pod> {
    let mut pods: Vec<Pod> = Api::<Pod>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    pods.sort_by_key(|p| p.name_any());
    pods
}

/// What a pod watch saw, in order: ("added" | "ready" | "terminating" | "deleted", pod).
type Log = Arc<Mutex<Vec<(&'static str, String)>>>;

/// Records pod transitions of `app` until the returned task is aborted.
fn record(c: &Cluster, app: &str) -> (Log, tokio::task::JoinHandle<()>) {
    let log: Log = Arc::default();
    let api: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let config = watcher::Config::default().labels(&format!("app={app}"));
    let l = log.clone();
    let task = tokio::spawn(async move {
        let mut seen: std::collections::HashMap<String, (bool, bool)> = Default::default();
        let mut stream = watcher::watcher(api, config).boxed();
        while let Some(Ok(ev)) = stream.next().await {
            let (pod, gone) = match ev {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
                watcher::Event::Delete(p) => (p, true),
                _ => continue,
            };
            let name = pod.name_any();
            let mut log = l.lock().unwrap();
            let state = seen.entry(name.clone()).or_insert_with(|| {
                log.push(("added", name.clone()));
                (false, false)
            });
            if !state.0 && is_ready(&pod) {
                state.0 = true;
                log.push(("ready", name.clone()));
            }
            if !state.1 && pod.metadata.deletion_timestamp.is_some() {
                state.1 = true;
                log.push(("terminating", name.clone()));
            }
            if gone {
                seen.remove(&name);
                log.push(("deleted", name));
            }
        }
    });
    (log, task)
}

async fn wait_ready(sts: &Api<StatefulSet>, name: &str, n: i32) -> StatefulSet {
    eventually(
        WAIT,
        &format!("{name} to have {n} ready replicas"),
        || async {
            let s = sts.get(name).await.unwrap();
            let st = s.status.clone()?;
            (st.replicas == n
                && st.ready_replicas.unwrap_or(0) == n
                && st.available_replicas.unwrap_or(0) == n
                && st.observed_generation == s.metadata.generation)
                .then_some(s)
        },
    )
    .await
}

async fn events_of(c: &Cluster, name: &str) -> Vec<Event> {
    Api::<Event>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_ready_creates_one_at_a_time_and_scales_down_in_reverse() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["statefulset-controller"]).unwrap();
    let (log, recorder) = record(&c, "web");
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    sts.create(&PostParams::default(), &statefulset("web", 3, json!({})))
        .await
        .unwrap();
    let s = wait_ready(&sts, "web", 3).await;
    let st = s.status.unwrap();
    assert_eq!(st.current_revision, st.update_revision);
    assert!(st.current_revision.as_deref().unwrap().starts_with("web-"));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.updated_replicas, Some(3));
    assert_eq!(st.collision_count, Some(0));

    // Each pod was created only once every earlier one was ready.
    eventually(WAIT, "the watch to see web-2 ready", || async {
        log.lock()
            .unwrap()
            .iter()
            .any(|(w, p)| *w == "ready" && p == "web-2")
            .then_some(())
    })
    .await;
    let seen = log.lock().unwrap().clone();
    let order: Vec<String> = seen
        .iter()
        .filter(|(what, _)| *what != "terminating")
        .map(|(what, p)| format!("{what} {p}"))
        .collect();
    assert_eq!(
        order,
        [
            "added web-0",
            "ready web-0",
            "added web-1",
            "ready web-1",
            "added web-2",
            "ready web-2"
        ],
        "{seen:?}"
    );

    // Stable identities.
    let pods = pods_of(&c, "web").await;
    for (i, p) in pods.iter().enumerate() {
        let name = format!("web-{i}");
        assert_eq!(p.name_any(), name);
        assert_eq!(p.labels()["statefulset.kubernetes.io/pod-name"], name);
        assert_eq!(p.labels()["apps.kubernetes.io/pod-index"], i.to_string());
        assert_eq!(
            p.labels()["controller-revision-hash"],
            st.update_revision.clone().unwrap()
        );
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("web-svc"));
        let owner = &p.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("StatefulSet", Some(true))
        );
    }
    let revisions = Api::<ControllerRevision>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap()
        .items;
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].revision, 1);
    assert_eq!(Some(revisions[0].name_any()), st.update_revision);

    // Scale down with kubectl: web-2 goes first, web-1 only once web-2 is gone.
    log.lock().unwrap().clear();
    let (ok, out, err) = c.kubectl(&["scale", "statefulset", "web", "--replicas=1"]);
    assert!(ok, "{err}");
    assert!(out.contains("scaled"), "{out}");
    wait_ready(&sts, "web", 1).await;
    eventually(WAIT, "web-1 and web-2 gone", || async {
        (pods_of(&c, "web").await.len() == 1).then_some(())
    })
    .await;
    let seen: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(what, _)| *what == "terminating" || *what == "deleted")
        .map(|(what, p)| format!("{what} {p}"))
        .collect();
    assert_eq!(
        seen,
        [
            "terminating web-2",
            "deleted web-2",
            "terminating web-1",
            "deleted web-1"
        ]
    );
    assert_eq!(pods_of(&c, "web").await[0].name_any(), "web-0");

    let has = |events: &[Event], reason: &str, msg: &str| {
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some(reason) && e.message.as_deref() == Some(msg))
    };
    let events = eventually(WAIT, "the events", || async {
        let events = events_of(&c, "web").await;
        (has(
            &events,
            "SuccessfulCreate",
            "create Pod web-0 in StatefulSet web successful",
        ) && has(
            &events,
            "SuccessfulDelete",
            "delete Pod web-2 in StatefulSet web successful",
        ))
        .then_some(events)
    })
    .await;
    assert!(
        events
            .iter()
            .all(|e| e.source.as_ref().and_then(|s| s.component.as_deref())
                == Some("statefulset-controller"))
    );
    recorder.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_without_waiting_and_ordered_ready_waits() {
    let c = Cluster::with_nodes(1).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["statefulset"]).unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    // No node matches: pods stay Pending and never become ready.
    let stuck = json!({"spec": {"template": {"spec": {"nodeSelector": {"nowhere": "true"}}}}});
    sts.create(
        &PostParams::default(),
        &statefulset("ord", 3, stuck.clone()),
    )
    .await
    .unwrap();
    let mut parallel = stuck;
    common::merge(
        &mut parallel,
        json!({"spec": {"podManagementPolicy": "Parallel"}}),
    );
    sts.create(&PostParams::default(), &statefulset("par", 3, parallel))
        .await
        .unwrap();

    eventually(WAIT, "all parallel pods", || async {
        (pods_of(&c, "par").await.len() == 3).then_some(())
    })
    .await;
    eventually(WAIT, "the first ordered pod", || async {
        (pods_of(&c, "ord").await.len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ord = pods_of(&c, "ord").await;
    assert_eq!(ord.len(), 1, "OrderedReady waits for web-0 to be ready");
    assert_eq!(ord[0].name_any(), "ord-0");
    let par = sts.get("par").await.unwrap().status.unwrap();
    assert_eq!((par.replicas, par.ready_replicas.unwrap_or(0)), (3, 0));

    // Parallel scale-down removes all at once, not ready or not.
    sts.patch(
        "par",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "parallel pods gone", || async {
        pods_of(&c, "par").await.is_empty().then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_come_from_templates_and_follow_the_retention_policy() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(
        c.client.clone(),
        &["statefulset-controller", "garbage-collector-controller"],
    )
    .unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(c.client.clone(), "default");
    let claims = |policy: Value| {
        json!({"spec": {
            "persistentVolumeClaimRetentionPolicy": policy,
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }})
    };
    let (log, recorder) = record(&c, "db");
    sts.create(
        &PostParams::default(),
        &statefulset(
            "db",
            2,
            claims(json!({"whenDeleted": "Delete", "whenScaled": "Delete"})),
        ),
    )
    .await
    .unwrap();
    // Default policy (Retain/Retain) on a second set: no owners on its claims.
    let mut kept = claims(json!({}));
    common::merge(
        &mut kept,
        json!({"spec": {"selector": {"matchLabels": {"app": "keep"}},
        "template": {"metadata": {"labels": {"app": "keep"}}}}}),
    );
    sts.create(&PostParams::default(), &statefulset("keep", 1, kept))
        .await
        .unwrap();
    wait_ready(&sts, "db", 2).await;
    wait_ready(&sts, "keep", 1).await;

    let db = sts.get("db").await.unwrap();
    for i in 0..2 {
        let claim = pvcs.get(&format!("data-db-{i}")).await.unwrap();
        assert_eq!(claim.labels()["app"], "db", "the selector's labels");
        let owners = claim.owner_references();
        assert_eq!(owners.len(), 1, "{owners:?}");
        assert_eq!(owners[0].uid, db.metadata.uid.clone().unwrap());
        assert_eq!(owners[0].controller, Some(true));
        let pod = Api::<Pod>::namespaced(c.client.clone(), "default")
            .get(&format!("db-{i}"))
            .await
            .unwrap();
        let vol = pod
            .spec
            .unwrap()
            .volumes
            .unwrap()
            .into_iter()
            .find(|v| v.name == "data")
            .unwrap();
        assert_eq!(
            vol.persistent_volume_claim.unwrap().claim_name,
            format!("data-db-{i}")
        );
    }
    // Each claim existed before its pod: the claim was created first.
    let created = |name: &str| {
        let pvcs = pvcs.clone();
        let name = name.to_string();
        async move {
            pvcs.get(&name)
                .await
                .unwrap()
                .metadata
                .creation_timestamp
                .unwrap()
                .0
        }
    };
    let pod_created = Api::<Pod>::namespaced(c.client.clone(), "default")
        .get("db-0")
        .await
        .unwrap()
        .metadata
        .creation_timestamp
        .unwrap()
        .0;
    assert!(created("data-db-0").await <= pod_created);
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|(w, p)| *w == "added" && p == "db-0")
    );
    let keep_claim = pvcs.get("data-keep-0").await.unwrap();
    assert!(keep_claim.owner_references().is_empty(), "Retain: no owner");
    eventually(WAIT, "the claim's event", || async {
        events_of(&c, "db")
            .await
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("SuccessfulCreate")
                    && e.message.as_deref()
                        == Some("create Claim data-db-0 Pod db-0 in StatefulSet db success")
            })
            .then_some(())
    })
    .await;

    // whenScaled=Delete: the scaled-away pod's claim is handed to the pod and collected with it.
    sts.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "data-db-1 deleted with db-1", || async {
        pvcs.get_opt("data-db-1")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        pvcs.get_opt("data-db-0").await.unwrap().is_some(),
        "a kept pod's claim stays"
    );

    // whenDeleted=Delete: deleting the set collects the remaining claim.
    sts.delete("db", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "data-db-0 deleted with the set", || async {
        pvcs.get_opt("data-db-0")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    sts.delete("keep", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "the keep set gone", || async {
        sts.get_opt("keep").await.unwrap().is_none().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        pvcs.get_opt("data-keep-0").await.unwrap().is_some(),
        "Retain keeps the claim"
    );
    recorder.abort();
    c.stop().await;
}

async fn set_image(sts: &Api<StatefulSet>, name: &str, image: &str) {
    sts.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})),
    )
    .await
    .unwrap();
}

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_honours_the_partition_and_kubectl_rollout_status() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["statefulset-controller"]).unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    sts.create(
        &PostParams::default(),
        &statefulset("roll", 3, json!({"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}})),
    )
    .await
    .unwrap();
    let first = wait_ready(&sts, "roll", 3)
        .await
        .status
        .unwrap()
        .update_revision
        .unwrap();
    let (ok, out, err) = c.kubectl(&["rollout", "status", "statefulset/roll", "--timeout=20s"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated"),
        "{out}"
    );

    set_image(&sts, "roll", "nginx:2").await;
    // Only ordinals at or above the partition move.
    let s = eventually(WAIT, "roll-2 updated", || async {
        let s = sts.get("roll").await.unwrap();
        let st = s.status.clone()?;
        let pods = pods_of(&c, "roll").await;
        (st.updated_replicas == Some(1)
            && st.ready_replicas == Some(3)
            && pods.len() == 3
            && image(&pods[2]) == "nginx:2")
            .then_some(s)
    })
    .await;
    let st = s.status.unwrap();
    assert_ne!(st.update_revision.as_deref(), Some(first.as_str()));
    assert_eq!(st.current_revision.as_deref(), Some(first.as_str()));
    assert_eq!(st.current_replicas, Some(2));
    let pods = pods_of(&c, "roll").await;
    assert_eq!(image(&pods[0]), "nginx:1");
    assert_eq!(image(&pods[1]), "nginx:1");
    let (ok, out, err) = c.kubectl(&["rollout", "status", "statefulset/roll", "--timeout=20s"]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("partitioned roll out complete: 1 new pods have been updated"),
        "{out}"
    );

    // Partition 0: the rest roll, highest ordinal first, and the update becomes current.
    let (log, recorder) = record(&c, "roll");
    sts.patch(
        "roll",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})),
    )
    .await
    .unwrap();
    let (ok, out, err) = c.kubectl(&["rollout", "status", "statefulset/roll", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    // kubectl reports any set with a rollingUpdate block (defaulted) as partitioned.
    assert!(
        out.contains("partitioned roll out complete: 3 new pods have been updated"),
        "{out}"
    );
    let st = wait_ready(&sts, "roll", 3).await.status.unwrap();
    assert_eq!(st.current_revision, st.update_revision);
    assert_eq!(st.updated_replicas, Some(3));
    assert!(
        pods_of(&c, "roll")
            .await
            .iter()
            .all(|p| image(p) == "nginx:2")
    );
    let terminated: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(w, _)| *w == "terminating")
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(terminated, ["roll-1", "roll-0"], "reverse ordinal order");
    recorder.abort();

    // Rolling back reuses the first revision, renumbered.
    set_image(&sts, "roll", "nginx:1").await;
    let st = eventually(WAIT, "rolled back", || async {
        let st = sts.get("roll").await.unwrap().status?;
        (st.update_revision.as_deref() == Some(first.as_str())
            && st.current_revision.as_deref() == Some(first.as_str())
            && st.ready_replicas == Some(3))
        .then_some(st)
    })
    .await;
    assert_eq!(st.updated_replicas, Some(3));
    let revisions = Api::<ControllerRevision>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels("app=roll"))
        .await
        .unwrap()
        .items;
    assert_eq!(
        revisions.len(),
        2,
        "no duplicate revision for the old template"
    );
    let r = revisions.iter().find(|r| r.name_any() == first).unwrap();
    assert_eq!(r.revision, 3);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_waits_for_pods_to_be_deleted_and_failed_pods_are_replaced() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["statefulset-controller"]).unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    sts.create(
        &PostParams::default(),
        &statefulset(
            "od",
            2,
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        ),
    )
    .await
    .unwrap();
    wait_ready(&sts, "od", 2).await;
    set_image(&sts, "od", "nginx:2").await;
    eventually(WAIT, "a new update revision", || async {
        let st = sts.get("od").await.unwrap().status?;
        (st.update_revision != st.current_revision && st.observed_generation == Some(2))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        pods_of(&c, "od")
            .await
            .iter()
            .all(|p| image(p) == "nginx:1"),
        "nothing replaced"
    );
    let (ok, _, err) = c.kubectl(&["rollout", "status", "statefulset/od", "--timeout=5s"]);
    assert!(!ok, "kubectl refuses OnDelete");
    assert!(err.contains("only available for RollingUpdate"), "{err}");

    let old_uid = pods.get("od-1").await.unwrap().metadata.uid;
    pods.delete("od-1", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, "od-1 recreated at the new revision", || async {
        let p = pods.get_opt("od-1").await.unwrap()?;
        (p.metadata.uid != old_uid && image(&p) == "nginx:2" && is_ready(&p)).then_some(())
    })
    .await;
    let st = eventually(WAIT, "one updated replica", || async {
        let st = sts.get("od").await.unwrap().status?;
        (st.updated_replicas == Some(1) && st.ready_replicas == Some(2)).then_some(st)
    })
    .await;
    assert_eq!(st.current_replicas, Some(1));
    assert_eq!(image(&pods.get("od-0").await.unwrap()), "nginx:1");

    // A failed pod is deleted and recreated under the same name.
    let uid = pods.get("od-0").await.unwrap().metadata.uid;
    pods.patch_status(
        "od-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Failed"}})),
    )
    .await
    .unwrap();
    eventually(WAIT, "od-0 replaced", || async {
        let p = pods.get_opt("od-0").await.unwrap()?;
        (p.metadata.uid != uid && is_ready(&p)).then_some(())
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinals_start_names_the_pods() {
    let c = Cluster::with_nodes(1).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["statefulset-controller"]).unwrap();
    let sts: Api<StatefulSet> = Api::namespaced(c.client.clone(), "default");
    sts.create(
        &PostParams::default(),
        &statefulset(
            "ord5",
            2,
            json!({"spec": {"ordinals": {"start": 5}, "podManagementPolicy": "Parallel"}}),
        ),
    )
    .await
    .unwrap();
    wait_ready(&sts, "ord5", 2).await;
    let names: Vec<String> = pods_of(&c, "ord5")
        .await
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(names, ["ord5-5", "ord5-6"]);
    c.stop().await;
}
