//! The node's heartbeat loop: renew the Lease every `lease_renew_interval`, and report the
//! Node status when it changes or `status_report_interval` has passed.

use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Node, NodeStatus, NodeSystemInfo};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;

use super::lease;
use super::machine::Machine;
use super::status::{CHECK_INTERVAL, RuntimeHealth, changed, desired_status, report};
use crate::config::KubeletConfig;
use crate::cri::Cri;

/// The runtime's health as the Ready condition words it.
pub async fn runtime_health(cri: &Cri) -> RuntimeHealth {
    let status = match cri
        .runtime
        .clone()
        .status(cri::StatusRequest { verbose: false })
        .await
    {
        Ok(r) => r.into_inner().status,
        Err(e) => {
            return RuntimeHealth::NotReady(format!("container runtime is down: {}", e.message()));
        }
    };
    for cond in status.iter().flat_map(|s| s.conditions.iter()) {
        if !cond.status {
            let what = if cond.r#type == "NetworkReady" {
                "container runtime network not ready"
            } else {
                "container runtime not ready"
            };
            return RuntimeHealth::NotReady(format!(
                "{what}: {}=false reason:{} message:{}",
                cond.r#type, cond.reason, cond.message
            ));
        }
    }
    RuntimeHealth::Ready
}

/// Runs forever: lease renewals and status reports. Errors are logged and retried.
pub async fn run(
    client: Client,
    config: KubeletConfig,
    machine: Machine,
    node_info: NodeSystemInfo,
    cri: Cri,
    node: Node,
) {
    let mut last_report: Option<(NodeStatus, tokio::time::Instant)> = None;
    let mut next_lease = tokio::time::Instant::now();
    let mut next_status = tokio::time::Instant::now();
    let status_every = CHECK_INTERVAL.min(config.lease_renew_interval);
    loop {
        let now = tokio::time::Instant::now();
        if now >= next_lease {
            match lease::renew(&client, &config, &node).await {
                Ok(_) => next_lease = now + config.lease_renew_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "node lease renewal failed");
                    next_lease = now + Duration::from_secs(1);
                }
            }
        }
        if now >= next_status {
            let health = runtime_health(&cri).await;
            let previous = last_report.as_ref().map(|(s, _)| s);
            let want = desired_status(
                &config,
                &machine,
                &node_info,
                &health,
                previous,
                Time(jiff::Timestamp::now()),
            );
            let due = match &last_report {
                None => true,
                Some((prev, at)) => {
                    changed(prev, &want) || at.elapsed() >= config.status_report_interval
                }
            };
            if due {
                match report(&client, &config.node_name, &want).await {
                    Ok(_) => last_report = Some((want, now)),
                    Err(e) => tracing::warn!(error = %e, "node status report failed"),
                }
            }
            next_status = now + status_every;
        }
        tokio::time::sleep_until(next_lease.min(next_status)).await;
    }
}
