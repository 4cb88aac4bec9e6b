//! The pod lifecycle event generator: relists the runtime every `relist_interval` and wakes
//! the worker of every pod whose containers changed state (a container exiting is noticed
//! within a second); pods whose API object is gone are stopped and removed here.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use super::{PodManager, cgroups, kill, labels, runtime_state, sync};

/// Per pod UID: its name, namespace and a fingerprint of its containers' states.
type Snapshot = HashMap<String, (String, String, Vec<(String, i32)>)>;

async fn relist(mgr: &PodManager) -> Result<Snapshot, tonic::Status> {
    let mut rt = mgr.cri.runtime.clone();
    let mut snap: Snapshot = HashMap::new();
    let sandboxes = rt
        .list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
        .await?
        .into_inner()
        .items;
    for s in sandboxes {
        let Some(uid) = s.labels.get(labels::POD_UID) else {
            continue;
        };
        let e = snap.entry(uid.clone()).or_insert_with(|| {
            (
                s.labels
                    .get(labels::POD_NAMESPACE)
                    .cloned()
                    .unwrap_or_default(),
                s.labels.get(labels::POD_NAME).cloned().unwrap_or_default(),
                Vec::new(),
            )
        });
        e.2.push((s.id, s.state));
    }
    let containers = rt
        .list_containers(cri::ListContainersRequest { filter: None })
        .await?
        .into_inner()
        .containers;
    for c in containers {
        let Some(uid) = c.labels.get(labels::POD_UID) else {
            continue;
        };
        if let Some(e) = snap.get_mut(uid) {
            e.2.push((c.id, c.state));
        }
    }
    for e in snap.values_mut() {
        e.2.sort();
    }
    Ok(snap)
}

/// Runs the relist loop until `triggers` is closed, sending the pods to sync.
pub async fn run(mgr: Arc<PodManager>, store: Store<Pod>, triggers: mpsc::Sender<ObjectRef<Pod>>) {
    let mut previous: Snapshot = HashMap::new();
    let mut ticker = tokio::time::interval(mgr.config.relist_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let synced = store.wait_until_ready();
    tokio::pin!(synced);
    let mut ready = false;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            r = &mut synced, if !ready => { ready = r.is_ok(); continue; }
        }
        let snap = match relist(&mgr).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "runtime relist failed");
                continue;
            }
        };
        let known: HashSet<String> = store
            .state()
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        for (uid, (ns, name, fingerprint)) in &snap {
            if ready && !known.contains(uid) {
                remove_orphan(&mgr, uid, ns, name).await;
                continue;
            }
            if previous.get(uid).map(|p| &p.2) != Some(fingerprint)
                && triggers
                    .send(ObjectRef::new(name).within(ns))
                    .await
                    .is_err()
            {
                return;
            }
        }
        previous = snap;
    }
}

/// A pod the API no longer has (force-deleted): stop it with the grace period recorded on
/// its containers, then remove it from the node.
async fn remove_orphan(mgr: &PodManager, uid: &str, ns: &str, name: &str) {
    let Ok(rt) = runtime_state::read(&mgr.cri, uid).await else {
        return;
    };
    if let Err(e) = kill::stop_pod(
        &mgr.cri,
        &rt,
        kill::recorded_grace(&rt).min(Duration::from_secs(30)),
    )
    .await
    {
        tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "stopping orphaned pod failed");
        return;
    }
    let mut pod = Pod::default();
    pod.metadata.uid = Some(uid.into());
    pod.metadata.namespace = Some(ns.into());
    pod.metadata.name = Some(name.into());
    if let Err(e) = sync::cleanup_node(mgr, uid, &pod, &rt).await {
        tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "removing orphaned pod failed");
        return;
    }
    // The QoS class is unknown without the spec: try every pod cgroup location.
    for qos in ["", "burstable/", "besteffort/"] {
        cgroups::remove_pod_cgroup(&format!("/kubepods/{qos}pod{uid}"));
    }
    tracing::info!(pod = %format!("{ns}/{name}"), "removed orphaned pod");
}
