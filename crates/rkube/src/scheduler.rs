//! The scheduler as the binary runs it: inside `rkube server`, or alone as `rkube scheduler`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use rkube_scheduler::config::SchedulerConfiguration;
use rkube_scheduler::leader::LeaderElectionConfig;
use rkube_scheduler::{Scheduler, SchedulerOptions};

/// Scheduler flags (shared by `rkube server` and `rkube scheduler`).
#[derive(Args, Debug, Clone)]
pub struct SchedulerArgs {
    /// A KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1): profiles, plugins,
    /// weights, args. Upstream's defaults when unset.
    #[arg(long = "scheduler-config")]
    pub config: Option<PathBuf>,
    /// Where the scheduler serves /metrics and /healthz (plain HTTP; keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:10259")]
    pub scheduler_metrics_address: SocketAddr,
}

/// Flags of `rkube scheduler`.
#[derive(Args, Debug)]
pub struct SchedulerCmdArgs {
    /// The kubeconfig to reach the apiserver with (else $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    scheduler: SchedulerArgs,
}

/// A scheduler built from the flags, and the leader election it should run under.
pub fn build(
    args: &SchedulerArgs,
    client: kube::Client,
) -> anyhow::Result<(Arc<Scheduler>, Option<LeaderElectionConfig>)> {
    let config = match &args.config {
        Some(path) => SchedulerConfiguration::load(path).map_err(|e| {
            anyhow::anyhow!("{e}\nfix the file or drop --scheduler-config to use the defaults")
        })?,
        None => SchedulerConfiguration::default(),
    };
    let frameworks = config.frameworks().map_err(|e| {
        anyhow::anyhow!("{e}\nfix the file or drop --scheduler-config to use the defaults")
    })?;
    let mut options = SchedulerOptions::new(frameworks);
    if let Some(s) = config.pod_initial_backoff_seconds {
        options.initial_backoff = std::time::Duration::from_secs(s);
    }
    if let Some(s) = config.pod_max_backoff_seconds {
        options.max_backoff = std::time::Duration::from_secs(s);
    }
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "rkube".into());
    options.identity = format!("{host}_{}", std::process::id());
    let le = config.leader_election.clone();
    let leader = if le.as_ref().and_then(|l| l.leader_elect) == Some(false) {
        None
    } else {
        let mut l = LeaderElectionConfig::new(
            le.as_ref()
                .and_then(|l| l.resource_name.as_deref())
                .unwrap_or("kube-scheduler"),
            options.identity.clone(),
        );
        if let Some(ns) = le.as_ref().and_then(|l| l.resource_namespace.clone()) {
            l.namespace = ns;
        }
        Some(l)
    };
    Ok((Scheduler::new(client, options), leader))
}

/// Starts the scheduler and its metrics endpoint in the background.
pub async fn spawn(
    args: &SchedulerArgs,
    client: kube::Client,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let (scheduler, leader) = build(args, client)?;
    match rkube_scheduler::serve::bind(args.scheduler_metrics_address).await {
        Ok((listener, addr)) => {
            eprintln!("rkube: scheduler metrics on http://{addr}/metrics");
            let s = scheduler.clone();
            tokio::spawn(async move {
                let _ = rkube_scheduler::serve::serve(listener, s).await;
            });
        }
        Err(e) => eprintln!(
            "rkube: scheduler metrics not served on {}: {e} (choose another --scheduler-metrics-address)",
            args.scheduler_metrics_address
        ),
    }
    Ok(tokio::spawn(async move {
        if let Err(e) = rkube_scheduler::run(scheduler, leader).await {
            eprintln!("rkube: scheduler stopped: {e}");
        }
    }))
}

/// `rkube scheduler`: the scheduler alone against a remote apiserver.
pub fn run(args: SchedulerCmdArgs) -> anyhow::Result<()> {
    crate::server::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = crate::server::component_client(args.kubeconfig.as_deref()).await?;
        let task = spawn(&args.scheduler, client).await?;
        eprintln!("rkube scheduler: running");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("rkube scheduler: interrupted, stopping"),
            r = task => if let Err(e) = r { eprintln!("rkube scheduler: {e}") },
        }
        Ok(())
    })
}
