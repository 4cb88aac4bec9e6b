//! The pod lifecycle event generator: relists the runtime every `relist_interval` and wakes
//! the worker of every pod whose containers changed state (a container exiting is noticed
//! within a second); pods whose API object is gone are stopped and removed here. Each relist
//! goes into the [`super::pod_cache`] before the workers are woken, so they start from it
//! instead of reading the runtime again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use tokio::sync::mpsc;

use super::runtime_state::{self, PodRuntime, State};
use super::{PodManager, cgroups, kill, sync};

/// What a pod's containers and sandboxes are, for telling whether anything changed.
type Fingerprint = Vec<(String, i32)>;

fn fingerprint(rt: &PodRuntime) -> Fingerprint {
    let sandboxes = rt
        .sandboxes
        .iter()
        .map(|s| (s.id.clone(), i32::from(s.ready)));
    let containers = rt.containers.iter().map(|c| {
        let state = match c.state {
            State::Created => 0,
            State::Running => 1,
            State::Exited => 2,
            State::Unknown => 3,
        };
        (c.id.clone(), state)
    });
    let mut f: Fingerprint = sandboxes.chain(containers).collect();
    f.sort();
    f
}

/// Runs the relist loop until `triggers` is closed, sending the pods to sync.
pub async fn run(mgr: Arc<PodManager>, store: Store<Pod>, triggers: mpsc::Sender<ObjectRef<Pod>>) {
    let mut previous: HashMap<String, Fingerprint> = HashMap::new();
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
        let at = Instant::now();
        let listed = match runtime_state::list(&mgr.cri, None, &mgr.runtime.memo).await {
            Ok(l) => l,
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
        // Shared before the workers are woken: they start from this relist.
        mgr.runtime.relisted(&listed.pods, at);
        let mut current = HashMap::new();
        for (uid, rt) in &listed.pods {
            // Containers are always listed with their sandbox, which carries the names.
            let Some((ns, name)) = listed.names.get(uid).cloned() else {
                continue;
            };
            if ready && !known.contains(uid) {
                if !mgr.with_state(|s| s.removing.contains(uid)) {
                    remove_orphan(&mgr, uid, &ns, &name, rt).await;
                }
                continue;
            }
            let f = fingerprint(rt);
            let unchanged = previous.get(uid) == Some(&f);
            current.insert(uid.clone(), f);
            if !unchanged
                && triggers
                    .send(ObjectRef::new(&name).within(&ns))
                    .await
                    .is_err()
            {
                return;
            }
        }
        previous = current;
    }
}

/// A pod the API no longer has (force-deleted): stop it with the grace period recorded on
/// its containers, then remove it from the node.
async fn remove_orphan(mgr: &PodManager, uid: &str, ns: &str, name: &str, rt: &PodRuntime) {
    let stopped = kill::stop_pod(
        &mgr.cri,
        rt,
        kill::recorded_grace(rt).min(Duration::from_secs(30)),
    )
    .await;
    mgr.runtime.changed(uid);
    if let Err(e) = stopped {
        tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "stopping orphaned pod failed");
        return;
    }
    let mut pod = Pod::default();
    pod.metadata.uid = Some(uid.into());
    pod.metadata.namespace = Some(ns.into());
    pod.metadata.name = Some(name.into());
    if let Err(e) = sync::cleanup_node(mgr, uid, &pod, rt).await {
        tracing::warn!(pod = %format!("{ns}/{name}"), error = %e, "removing orphaned pod failed");
        return;
    }
    // The QoS class is unknown without the spec: try every pod cgroup location.
    for qos in ["", "burstable/", "besteffort/"] {
        cgroups::remove_pod_cgroup(&format!("/kubepods/{qos}pod{uid}"));
    }
    tracing::info!(pod = %format!("{ns}/{name}"), "removed orphaned pod");
}
