//! The DaemonSet controller against a real apiserver, the real scheduler and simulated nodes:
//! one pod per eligible node (taints, nodeSelector, relabelled nodes, nodes added later), pods
//! placed through node affinity with the daemon tolerations, rolling updates with
//! maxUnavailable and maxSurge, OnDelete, ControllerRevisions, status, events, and the real
//! kubectl's `rollout status`.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Cluster, eventually};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use rkube_sim::{SimConfig, SimNodes};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

fn daemonset(name: &str, extra: Value) -> DaemonSet {
    let mut v = json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "agent:1"}]}
            }
        }
    });
    common::merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn node_of(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Live pods of `app` by node they are bound to.
async fn placement(c: &Cluster, app: &str) -> BTreeMap<String, Vec<Pod>> {
    let pods = Api::<Pod>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items;
    let mut out: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for p in pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        out.entry(node_of(&p)).or_default().push(p);
    }
    out
}

/// Waits for `app`'s pods to run, ready, exactly on `nodes`, one each.
async fn wait_on_nodes(c: &Cluster, app: &str, nodes: &[&str]) -> BTreeMap<String, Vec<Pod>> {
    eventually(WAIT, &format!("{app} on {nodes:?}"), || async {
        let p = placement(c, app).await;
        let names: Vec<&str> = p.keys().map(String::as_str).collect();
        (names == nodes && p.values().all(|v| v.len() == 1 && is_ready(&v[0]))).then_some(p)
    })
    .await
}

/// Waits for the status to show `desired` nodes all current, ready, available, updated.
async fn wait_status(ds: &Api<DaemonSet>, name: &str, desired: i32) -> DaemonSet {
    eventually(WAIT, &format!("{name} status at {desired}"), || async {
        let d = ds.get(name).await.unwrap();
        let s = d.status.clone()?;
        (s.desired_number_scheduled == desired
            && s.current_number_scheduled == desired
            && s.number_ready == desired
            && s.number_available.unwrap_or(0) == desired
            && s.updated_number_scheduled.unwrap_or(0) == desired
            && s.number_unavailable.unwrap_or(0) == 0
            && s.number_misscheduled == 0
            && s.observed_generation == d.metadata.generation)
            .then_some(d)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_per_eligible_node_with_taints_selectors_and_relabelling() {
    let c = Cluster::with_nodes(3).await;
    let (ok, _, err) = c.kubectl(&["taint", "node", "sim-node-2", "dedicated=x:NoSchedule"]);
    assert!(ok, "{err}");
    let (ok, _, err) = c.kubectl(&["label", "node", "sim-node-0", "disk=ssd"]);
    assert!(ok, "{err}");
    let _cm = rkube_controllers::start(c.client.clone(), &["daemonset-controller"]).unwrap();
    let ds: Api<DaemonSet> = Api::namespaced(c.client.clone(), "default");
    ds.create(&PostParams::default(), &daemonset("all", json!({})))
        .await
        .unwrap();
    ds.create(
        &PostParams::default(),
        &daemonset(
            "ssd",
            json!({"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}}),
        ),
    )
    .await
    .unwrap();
    ds.create(
        &PostParams::default(),
        &daemonset(
            "tol",
            json!({"spec": {"template": {"spec": {"tolerations": [
            {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}}}}),
        ),
    )
    .await
    .unwrap();

    let all = wait_on_nodes(&c, "all", &["sim-node-0", "sim-node-1"]).await;
    wait_on_nodes(&c, "ssd", &["sim-node-0"]).await;
    wait_on_nodes(&c, "tol", &["sim-node-0", "sim-node-1", "sim-node-2"]).await;
    wait_status(&ds, "all", 2).await;
    wait_status(&ds, "ssd", 1).await;
    wait_status(&ds, "tol", 3).await;

    // Placed by the scheduler through node affinity, with upstream's daemon tolerations.
    let pod = &all["sim-node-1"][0];
    let spec = pod.spec.as_ref().unwrap();
    let terms = &spec
        .affinity
        .as_ref()
        .unwrap()
        .node_affinity
        .as_ref()
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap()
        .node_selector_terms;
    let field = &terms[0].match_fields.as_ref().unwrap()[0];
    assert_eq!(
        (
            field.key.as_str(),
            field.operator.as_str(),
            field.values.clone().unwrap()
        ),
        ("metadata.name", "In", vec!["sim-node-1".to_string()])
    );
    let tolerations: Vec<(String, String)> = spec
        .tolerations
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.effect.clone().unwrap_or_default(),
            )
        })
        .collect();
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ] {
        assert!(
            tolerations.contains(&(key.into(), effect.into())),
            "{key} {effect}: {tolerations:?}"
        );
    }
    assert!(pod.name_any().starts_with("all-"));
    assert!(pod.labels().contains_key("controller-revision-hash"));
    assert_eq!(pod.owner_references()[0].kind, "DaemonSet");

    // Relabelling moves the nodeSelector's pods.
    let (ok, _, err) = c.kubectl(&["label", "node", "sim-node-1", "disk=ssd"]);
    assert!(ok, "{err}");
    wait_on_nodes(&c, "ssd", &["sim-node-0", "sim-node-1"]).await;
    let (ok, _, err) = c.kubectl(&["label", "node", "sim-node-0", "disk-"]);
    assert!(ok, "{err}");
    wait_on_nodes(&c, "ssd", &["sim-node-1"]).await;
    wait_status(&ds, "ssd", 1).await;

    // A NoExecute taint evicts pods that do not tolerate it.
    let (ok, _, err) = c.kubectl(&["taint", "node", "sim-node-0", "evict=y:NoExecute"]);
    assert!(ok, "{err}");
    wait_on_nodes(&c, "all", &["sim-node-1"]).await;

    let events = eventually(WAIT, "creation events", || async {
        let events: Vec<Event> = Api::<Event>::namespaced(c.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("all"))
            .collect();
        (events
            .iter()
            .any(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
            && events
                .iter()
                .any(|e| e.reason.as_deref() == Some("SuccessfulDelete")))
        .then_some(events)
    })
    .await;
    for e in &events {
        assert_eq!(
            e.source.as_ref().and_then(|s| s.component.as_deref()),
            Some("daemonset-controller")
        );
        let msg = e.message.as_deref().unwrap_or_default();
        assert!(
            msg.starts_with("Created pod: all-") || msg.starts_with("Deleted pod: all-"),
            "{msg}"
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_added_later_gets_a_pod() {
    let c = Cluster::with_nodes(1).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["daemonset"]).unwrap();
    let ds: Api<DaemonSet> = Api::namespaced(c.client.clone(), "default");
    ds.create(&PostParams::default(), &daemonset("agent", json!({})))
        .await
        .unwrap();
    wait_on_nodes(&c, "agent", &["sim-node-0"]).await;
    wait_status(&ds, "agent", 1).await;

    let mut late = SimConfig::new(2);
    late.prefix = "late-".into();
    late.node_ip_base = std::net::Ipv4Addr::new(172, 17, 0, 0);
    let sim = SimNodes::start(c.client.clone(), late).await.unwrap();
    wait_on_nodes(&c, "agent", &["late-0", "late-1", "sim-node-0"]).await;
    wait_status(&ds, "agent", 3).await;

    // A node that goes away is no longer desired.
    let (ok, _, err) = c.kubectl(&["delete", "node", "late-1"]);
    assert!(ok, "{err}");
    eventually(WAIT, "desired back to 2", || async {
        let s = ds.get("agent").await.unwrap().status?;
        (s.desired_number_scheduled == 2).then_some(())
    })
    .await;
    sim.stop().await;
    c.stop().await;
}

/// What a pod watch saw during an update.
#[derive(Clone, Copy, Debug, Default)]
struct Peak {
    /// Most live (not terminating) pods at once.
    max_live: usize,
    /// Fewest live Ready pods at once.
    min_ready: usize,
    /// Whether a node ever had two live pods.
    doubled: bool,
}

/// Tracks [`Peak`] for `app`'s pods from the watch's initial listing on.
fn watch_peak(c: &Cluster, app: &str) -> (Arc<Mutex<Peak>>, tokio::task::JoinHandle<()>) {
    let peak = Arc::new(Mutex::new(Peak {
        min_ready: usize::MAX,
        ..Peak::default()
    }));
    let api: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let config = watcher::Config::default().labels(&format!("app={app}"));
    let p = peak.clone();
    let task = tokio::spawn(async move {
        // Live pods: name → (node, ready).
        let mut live: HashMap<String, (String, bool)> = HashMap::new();
        let mut synced = false;
        let mut stream = watcher::watcher(api, config).boxed();
        while let Some(Ok(ev)) = stream.next().await {
            match ev {
                watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                    if pod.metadata.deletion_timestamp.is_some() {
                        live.remove(&pod.name_any());
                    } else {
                        let node = pod
                            .spec
                            .as_ref()
                            .and_then(|s| s.node_name.clone())
                            .unwrap_or_else(|| format!("unbound-{}", pod.name_any()));
                        live.insert(pod.name_any(), (node, is_ready(&pod)));
                    }
                }
                watcher::Event::Delete(pod) => {
                    live.remove(&pod.name_any());
                }
                watcher::Event::InitDone => synced = true,
                watcher::Event::Init => {}
            }
            if !synced {
                continue;
            }
            let mut nodes: Vec<&String> = live.values().map(|(n, _)| n).collect();
            nodes.sort();
            let doubled = nodes.windows(2).any(|w| w[0] == w[1]);
            let ready = live.values().filter(|(_, r)| *r).count();
            let mut g = p.lock().unwrap();
            g.max_live = g.max_live.max(live.len());
            g.min_ready = g.min_ready.min(ready);
            g.doubled |= doubled;
        }
    });
    (peak, task)
}

async fn set_image(ds: &Api<DaemonSet>, name: &str, image: &str) {
    ds.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_updates_with_max_unavailable_and_max_surge() {
    let c = Cluster::with_nodes(3).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["daemonset-controller"]).unwrap();
    let ds: Api<DaemonSet> = Api::namespaced(c.client.clone(), "default");
    let nodes = ["sim-node-0", "sim-node-1", "sim-node-2"];
    ds.create(&PostParams::default(), &daemonset("ru", json!({})))
        .await
        .unwrap();
    wait_on_nodes(&c, "ru", &nodes).await;
    let before = wait_status(&ds, "ru", 3).await;
    let (ok, out, err) = c.kubectl(&["rollout", "status", "daemonset/ru", "--timeout=20s"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("daemon set \"ru\" successfully rolled out"),
        "{out}"
    );

    // maxUnavailable 1 (the default), no surge: never more than one pod per node, never more
    // than three pods.
    let (peak, task) = watch_peak(&c, "ru");
    set_image(&ds, "ru", "agent:2").await;
    let (ok, out, err) = c.kubectl(&["rollout", "status", "daemonset/ru", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("successfully rolled out"), "{out}");
    let placed = wait_on_nodes(&c, "ru", &nodes).await;
    assert!(placed.values().all(|p| image(&p[0]) == "agent:2"));
    let after = wait_status(&ds, "ru", 3).await;
    assert!(after.metadata.generation > before.metadata.generation);
    let seen = *peak.lock().unwrap();
    assert!(seen.max_live <= 3 && !seen.doubled, "no surge: {seen:?}");
    assert!(seen.min_ready >= 2, "at most one unavailable: {seen:?}");
    task.abort();

    // Revisions: two, numbered, the pods labelled with the newest's hash.
    let revisions = Api::<ControllerRevision>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default().labels("app=ru"))
        .await
        .unwrap()
        .items;
    assert_eq!(revisions.len(), 2);
    let newest = revisions.iter().max_by_key(|r| r.revision).unwrap();
    assert_eq!(newest.revision, 2);
    let hash = newest.labels()["controller-revision-hash"].clone();
    assert_eq!(newest.name_any(), format!("ru-{hash}"));
    assert!(
        placed
            .values()
            .all(|p| p[0].labels()["controller-revision-hash"] == hash)
    );

    // maxSurge 1, maxUnavailable 0: a new pod starts beside the old one first.
    ds.patch(
        "ru",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"updateStrategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}})),
    )
    .await
    .unwrap();
    let (peak, task) = watch_peak(&c, "ru");
    set_image(&ds, "ru", "agent:3").await;
    let (ok, out, err) = c.kubectl(&["rollout", "status", "daemonset/ru", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    let placed = wait_on_nodes(&c, "ru", &nodes).await;
    assert!(placed.values().all(|p| image(&p[0]) == "agent:3"));
    wait_status(&ds, "ru", 3).await;
    let seen = *peak.lock().unwrap();
    assert!(
        seen.doubled,
        "a node ran old and new side by side: {seen:?}"
    );
    assert!(seen.max_live > 3, "{seen:?}");
    assert!(
        seen.min_ready >= 3,
        "maxUnavailable 0: never fewer ready pods: {seen:?}"
    );
    task.abort();
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_replaces_only_deleted_pods() {
    let c = Cluster::with_nodes(2).await;
    let _cm = rkube_controllers::start(c.client.clone(), &["daemonset-controller"]).unwrap();
    let ds: Api<DaemonSet> = Api::namespaced(c.client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    ds.create(
        &PostParams::default(),
        &daemonset(
            "od",
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        ),
    )
    .await
    .unwrap();
    let placed = wait_on_nodes(&c, "od", &["sim-node-0", "sim-node-1"]).await;
    set_image(&ds, "od", "agent:2").await;
    eventually(WAIT, "the new generation observed", || async {
        let d = ds.get("od").await.unwrap();
        let s = d.status?;
        (s.observed_generation == d.metadata.generation
            && s.updated_number_scheduled.unwrap_or(0) == 0)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = placement(&c, "od").await;
    assert!(
        now.values().all(|p| image(&p[0]) == "agent:1"),
        "nothing replaced yet"
    );

    let victim = placed["sim-node-1"][0].name_any();
    pods.delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    eventually(WAIT, "a new-revision pod on sim-node-1", || async {
        let p = placement(&c, "od").await;
        let on1 = p.get("sim-node-1")?;
        (on1.len() == 1
            && on1[0].name_any() != victim
            && image(&on1[0]) == "agent:2"
            && is_ready(&on1[0]))
        .then_some(())
    })
    .await;
    eventually(WAIT, "one updated", || async {
        let s = ds.get("od").await.unwrap().status?;
        (s.updated_number_scheduled == Some(1) && s.number_ready == 2).then_some(())
    })
    .await;
    assert_eq!(
        image(&placement(&c, "od").await["sim-node-0"][0]),
        "agent:1"
    );
    c.stop().await;
}
