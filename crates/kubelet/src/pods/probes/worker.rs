//! One probe of one container instance, run every `periodSeconds` after
//! `initialDelaySeconds`; a settled change is recorded and wakes the pod's sync; a failed
//! liveness or startup probe kills the container.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::runtime::reflector::ObjectRef;

use super::threshold::Threshold;
use super::{Kind, check};
use crate::events::EventType::{Normal, Warning};
use crate::pods::PodManager;

/// What a worker needs to know.
pub struct Target {
    /// The pod (as when the worker started).
    pub pod: Pod,
    /// The container spec.
    pub container: Container,
    /// The container instance.
    pub container_id: String,
    /// The pod IP.
    pub pod_ip: String,
    /// When the container started (ns since the epoch), for the initial delay.
    pub started_at: i64,
}

/// Runs until aborted or, for liveness and startup, until it kills the container.
pub async fn run(mgr: Arc<PodManager>, target: Target, kind: Kind) {
    let Some(probe) = kind.of(&target.container).cloned() else {
        return;
    };
    let initial = match kind {
        Kind::Liveness => Some(true),
        Kind::Readiness | Kind::Startup => None,
    };
    let mut threshold = Threshold::new(
        probe.success_threshold.unwrap_or(1),
        probe.failure_threshold.unwrap_or(3),
        initial,
    );
    let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
    let delay = Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
    let started = Duration::from_nanos(target.started_at.max(0) as u64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    tokio::time::sleep((started + delay).saturating_sub(now)).await;
    let has_startup = target.container.startup_probe.is_some();
    let mut ticker = tokio::time::interval(period);
    loop {
        ticker.tick().await;
        if kind != Kind::Startup && !mgr.probes.started(&target.container_id, has_startup) {
            continue;
        }
        if kind == Kind::Startup
            && mgr.probes.result(&target.container_id, Kind::Startup) == Some(true)
        {
            return; // a startup probe stops once it has passed
        }
        let outcome = check::run(
            &mgr.cri,
            &probe,
            &target.container,
            &target.container_id,
            &target.pod_ip,
        )
        .await;
        if !outcome.ok {
            let msg = format!(
                "{} probe failed: {}",
                kind.title(),
                outcome.output.trim_end()
            );
            mgr.events.pod_event(
                &target.pod,
                Some(&target.container.name),
                Warning,
                "Unhealthy",
                &msg,
            );
        }
        let Some(settled) = threshold.record(outcome.ok) else {
            continue;
        };
        if mgr.probes.set(&target.container_id, kind, settled) {
            wake(&mgr, &target.pod).await;
        }
        if !settled && matches!(kind, Kind::Liveness | Kind::Startup) {
            let name = &target.container.name;
            let what = if kind == Kind::Liveness {
                "liveness"
            } else {
                "startup"
            };
            let msg = format!("Container {name} failed {what} probe, will be restarted");
            mgr.events
                .pod_event(&target.pod, Some(name), Normal, "Killing", &msg);
            let grace = probe
                .termination_grace_period_seconds
                .or_else(|| {
                    target
                        .pod
                        .spec
                        .as_ref()
                        .and_then(|s| s.termination_grace_period_seconds)
                })
                .unwrap_or(30);
            let req = k8s_cri::v1::StopContainerRequest {
                container_id: target.container_id.clone(),
                timeout: grace.max(0),
            };
            let stopped = mgr.cri.runtime.clone().stop_container(req).await;
            // The worker's next sync must not start from a state read before the stop.
            mgr.runtime
                .changed(target.pod.metadata.uid.as_deref().unwrap_or_default());
            if let Err(e) = stopped {
                tracing::warn!(container = %name, error = %e, "stopping an unhealthy container failed");
            }
            wake(&mgr, &target.pod).await;
            return;
        }
    }
}

async fn wake(mgr: &PodManager, pod: &Pod) {
    let r = ObjectRef::new(pod.metadata.name.as_deref().unwrap_or_default())
        .within(pod.metadata.namespace.as_deref().unwrap_or_default());
    let _ = mgr.trigger.send(r).await;
}
