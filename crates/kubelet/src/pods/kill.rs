//! Stopping a pod: each running container gets its preStop hook, then SIGTERM and, after what
//! is left of the grace period, SIGKILL (the runtime's StopContainer timeout); then the
//! sandbox is stopped, which also tears down its network.

use std::time::{Duration, Instant};

use k8s_cri::v1 as cri;

use super::labels;
use super::runtime_state::{Container, PodRuntime, State};
use crate::cri::Cri;

/// The least time a container gets after its preStop hook (upstream's minimum).
const MIN_AFTER_HOOK: Duration = Duration::from_secs(2);

/// Stops one container: runs its preStop exec hook (recorded on the container, so an orphan
/// whose pod object is gone still gets it), then stops it within what is left of `grace`.
pub async fn stop_container(
    cri: &Cri,
    c: &Container,
    grace: Duration,
) -> Result<(), tonic::Status> {
    let start = Instant::now();
    if let Some(cmd) = c
        .annotations
        .get(labels::PRE_STOP)
        .and_then(|j| serde_json::from_str::<Option<Vec<String>>>(j).ok())
        .flatten()
        .filter(|cmd| !cmd.is_empty())
    {
        let req = cri::ExecSyncRequest {
            container_id: c.id.clone(),
            cmd,
            timeout: grace.as_secs() as i64,
        };
        match tokio::time::timeout(grace, cri.runtime.clone().exec_sync(req)).await {
            Ok(Ok(r)) if r.get_ref().exit_code != 0 => {
                tracing::info!(container = %c.name, code = r.get_ref().exit_code, "preStop hook failed")
            }
            Ok(Err(e)) => tracing::info!(container = %c.name, error = %e, "preStop hook failed"),
            Err(_) => {
                tracing::info!(container = %c.name, "preStop hook ran out of the grace period")
            }
            Ok(Ok(_)) => {}
        }
    }
    let left = grace
        .saturating_sub(start.elapsed())
        .max(if grace.is_zero() {
            Duration::ZERO
        } else {
            MIN_AFTER_HOOK
        });
    match cri
        .runtime
        .clone()
        .stop_container(cri::StopContainerRequest {
            container_id: c.id.clone(),
            timeout: left.as_secs() as i64,
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
        Err(s) => Err(s),
    }
}

/// Stops every running container of the pod concurrently, then its sandboxes. Returns the
/// names of the containers that were stopped (for `Killing` events by the caller).
pub async fn stop_pod(
    cri: &Cri,
    rt: &PodRuntime,
    grace: Duration,
) -> Result<Vec<String>, tonic::Status> {
    let running: Vec<&Container> = rt
        .containers
        .iter()
        .filter(|c| matches!(c.state, State::Running | State::Created | State::Unknown))
        .collect();
    let names = running.iter().map(|c| c.name.clone()).collect();
    let results =
        futures::future::join_all(running.iter().map(|c| stop_container(cri, c, grace))).await;
    for r in results {
        r?;
    }
    for s in rt.sandboxes.iter().filter(|s| s.ready) {
        stop_sandbox(cri, &s.id).await?;
    }
    Ok(names)
}

/// Stops one sandbox (idempotent).
pub async fn stop_sandbox(cri: &Cri, id: &str) -> Result<(), tonic::Status> {
    match cri
        .runtime
        .clone()
        .stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.into(),
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
        Err(s) => Err(s),
    }
}

/// Removes every sandbox of the pod (which removes their containers too).
pub async fn remove_pod(cri: &Cri, rt: &PodRuntime) -> Result<(), tonic::Status> {
    for s in &rt.sandboxes {
        stop_sandbox(cri, &s.id).await?;
        match cri
            .runtime
            .clone()
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            })
            .await
        {
            Ok(_) => {}
            Err(st) if st.code() == tonic::Code::NotFound => {}
            Err(st) => return Err(st),
        }
    }
    // Containers of sandboxes already gone.
    for c in &rt.containers {
        let _ = cri
            .runtime
            .clone()
            .remove_container(cri::RemoveContainerRequest {
                container_id: c.id.clone(),
            })
            .await;
    }
    Ok(())
}

/// The grace period recorded on a container, for pods whose object is gone.
pub fn recorded_grace(rt: &PodRuntime) -> Duration {
    let secs = rt
        .containers
        .iter()
        .find_map(|c| c.annotations.get(labels::GRACE_PERIOD)?.parse::<u64>().ok())
        .unwrap_or(30);
    Duration::from_secs(secs)
}
