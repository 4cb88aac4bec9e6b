//! Container probes (liveness, readiness, startup): one worker per probe of each running
//! container instance, results kept here for the status, and liveness/startup failures
//! killing the container so that it restarts under its restart policy.

pub mod check;
pub mod threshold;
pub mod worker;

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Pod, Probe};
use tokio::task::JoinHandle;

use super::runtime_state::{PodRuntime, State};

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Restart the container when it fails.
    Liveness,
    /// Gate the container's (and pod's) readiness.
    Readiness,
    /// Hold the other probes until the container has started; restart when it fails.
    Startup,
}

impl Kind {
    /// The word upstream's events use (`Liveness probe failed: …`).
    pub fn title(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }

    /// The probe of this kind in a container spec.
    pub fn of(self, c: &k8s_openapi::api::core::v1::Container) -> Option<&Probe> {
        match self {
            Kind::Liveness => c.liveness_probe.as_ref(),
            Kind::Readiness => c.readiness_probe.as_ref(),
            Kind::Startup => c.startup_probe.as_ref(),
        }
    }
}

/// Probe results by container ID, and the running workers by pod UID.
#[derive(Default)]
pub struct Probes {
    results: Mutex<HashMap<(String, Kind), bool>>,
    workers: Mutex<HashMap<String, PodWorkers>>,
}

/// One pod's probe workers by (container ID, kind).
type PodWorkers = HashMap<(String, Kind), JoinHandle<()>>;

impl Probes {
    /// The latest settled result of a probe for a container instance, if any.
    pub fn result(&self, container_id: &str, kind: Kind) -> Option<bool> {
        self.results
            .lock()
            .ok()?
            .get(&(container_id.to_string(), kind))
            .copied()
    }

    /// Records a settled result; returns whether it changed.
    pub(crate) fn set(&self, container_id: &str, kind: Kind, ok: bool) -> bool {
        let mut r = self.results.lock().unwrap_or_else(|p| p.into_inner());
        r.insert((container_id.to_string(), kind), ok) != Some(ok)
    }

    /// Whether the container instance has started (no startup probe, or it succeeded).
    pub fn started(&self, container_id: &str, has_startup_probe: bool) -> bool {
        !has_startup_probe || self.result(container_id, Kind::Startup) == Some(true)
    }

    /// Readiness per container name for the pod's running containers, as the status wants it.
    pub fn readiness(&self, pod: &Pod, rt: &PodRuntime) -> HashMap<String, bool> {
        let mut out = HashMap::new();
        for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            let Some(latest) = running(rt, &c.name) else {
                continue;
            };
            let started = self.started(&latest.id, c.startup_probe.is_some());
            let ready = c.readiness_probe.is_none()
                || self.result(&latest.id, Kind::Readiness) == Some(true);
            out.insert(c.name.clone(), started && ready);
        }
        out
    }

    /// Makes the pod's workers match its running containers' probes: starts missing ones
    /// with `spawn(container_id, container_name, kind)`, stops the rest.
    pub(crate) fn sync(
        &self,
        uid: &str,
        pod: &Pod,
        rt: &PodRuntime,
        spawn: impl Fn(&str, &str, Kind) -> JoinHandle<()>,
    ) {
        let mut want: HashMap<(String, Kind), String> = HashMap::new();
        for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            let Some(latest) = running(rt, &c.name) else {
                continue;
            };
            for kind in [Kind::Startup, Kind::Liveness, Kind::Readiness] {
                if kind.of(c).is_some() {
                    want.insert((latest.id.clone(), kind), c.name.clone());
                }
            }
        }
        let mut all = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        let workers = all.entry(uid.to_string()).or_default();
        workers.retain(|key, handle| {
            let keep = want.contains_key(key) && !handle.is_finished();
            if !keep {
                handle.abort();
            }
            keep
        });
        for ((id, kind), name) in want {
            workers
                .entry((id.clone(), kind))
                .or_insert_with(|| spawn(&id, &name, kind));
        }
    }

    /// Stops every worker of the pod and forgets the results of its containers.
    pub fn forget_pod(&self, uid: &str, rt: &PodRuntime) {
        let mut all = self.workers.lock().unwrap_or_else(|p| p.into_inner());
        for (_, h) in all.remove(uid).unwrap_or_default() {
            h.abort();
        }
        let ids: Vec<&str> = rt.containers.iter().map(|c| c.id.as_str()).collect();
        let mut r = self.results.lock().unwrap_or_else(|p| p.into_inner());
        r.retain(|(id, _), _| !ids.contains(&id.as_str()));
    }
}

fn running<'a>(rt: &'a PodRuntime, name: &str) -> Option<&'a super::runtime_state::Container> {
    rt.containers
        .iter()
        .find(|x| x.name == name && x.state == State::Running)
}
