//! `rkube sim nodes --count N`: simulated nodes (like kwok) for scheduler scale tests and
//! benchmarks, run until Ctrl-C or SIGTERM; stopping leaves them as dead nodes.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

/// `rkube sim …`.
#[derive(Args, Debug)]
pub struct SimArgs {
    #[command(subcommand)]
    command: SimCommand,
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Register simulated nodes that heartbeat and run the pods bound to them without
    /// containers (Running and Ready; a Job's pods Succeeded), until Ctrl-C.
    Nodes(NodesArgs),
}

/// Flags of `rkube sim nodes`.
#[derive(Args, Debug)]
pub struct NodesArgs {
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Node name prefix: nodes are <prefix>0, <prefix>1, …
    #[arg(long, default_value = "sim-node-")]
    prefix: String,
    /// CPU capacity of each node.
    #[arg(long, default_value = "32")]
    cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "256Gi")]
    memory: String,
    /// Pods each node takes.
    #[arg(long, default_value_t = 110)]
    pods: u32,
    /// Ephemeral storage capacity of each node.
    #[arg(long, default_value = "100Gi")]
    ephemeral_storage: String,
    /// Extra node label KEY=VALUE (repeatable). Every simulated node also has type=rkube-sim.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    labels: Vec<(String, String)>,
    /// Node taint KEY[=VALUE]:EFFECT (repeatable), e.g. sim=true:NoSchedule.
    #[arg(long = "taint", value_name = "KEY[=VALUE]:EFFECT", value_parser = rkube_sim::parse_taint)]
    taints: Vec<rkube_sim::Taint>,
    /// Seconds a pod owned by a Job runs before it succeeds.
    #[arg(long, default_value_t = 1.0)]
    job_run_seconds: f64,
    /// Only nodes and heartbeats: leave pods alone.
    #[arg(long)]
    no_pods: bool,
    /// The kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

impl NodesArgs {
    /// The simulator configuration these flags describe.
    fn config(&self) -> anyhow::Result<rkube_sim::SimConfig> {
        let mut c = rkube_sim::SimConfig::new(self.count);
        c.prefix = self.prefix.clone();
        c.cpu = self.cpu.clone();
        c.memory = self.memory.clone();
        c.max_pods = self.pods;
        c.ephemeral_storage = self.ephemeral_storage.clone();
        c.labels = self.labels.iter().cloned().collect();
        c.taints = self.taints.clone();
        c.job_pod_run_time = Duration::try_from_secs_f64(self.job_run_seconds)
            .map_err(|_| anyhow::anyhow!("--job-run-seconds must be a non-negative number"))?;
        c.pod_agent = !self.no_pods;
        c.validate()
            .map_err(|e| anyhow::anyhow!("{e}\nfix the flag and run it again"))?;
        Ok(c)
    }
}

/// The client every rkube client command uses: `--kubeconfig`, else `$KUBECONFIG`, else
/// `~/.kube/config` (else the in-cluster service account).
async fn connect(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the kubeconfig {}: {e}\ncheck the --kubeconfig path \
                     (rkube server prints where it wrote its admin kubeconfig)",
                    path.display()
                )
            })?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .map_err(|e| {
                    anyhow::anyhow!("the kubeconfig {} is not usable: {e}", path.display())
                })?
        }
        None => kube::Config::infer().await.map_err(|e| {
            anyhow::anyhow!(
                "no usable kubeconfig: {e}\npass --kubeconfig PATH or set $KUBECONFIG \
                 (rkube server writes one to <data-dir>/kubeconfig.yaml, by default \
                 /var/lib/rkube/kubeconfig.yaml), or write ~/.kube/config"
            )
        })?,
    };
    let url = config.cluster_url.clone();
    let client = kube::Client::try_from(config)
        .map_err(|e| anyhow::anyhow!("cannot build a client for {url}: {e}"))?;
    Ok(client)
}

/// What to do about a registration failure.
fn hint(e: &rkube_sim::SimError) -> &'static str {
    let source = match e {
        rkube_sim::SimError::Register { source, .. }
        | rkube_sim::SimError::Lease { source, .. } => Some(source),
        _ => None,
    };
    match source {
        Some(kube::Error::Api(s)) if s.code == 401 || s.code == 403 => {
            "the kubeconfig's user may not manage nodes and leases: use an admin kubeconfig"
        }
        Some(kube::Error::Api(s)) if s.code == 422 => {
            "the apiserver rejected the node: check --label, --taint and the capacity flags"
        }
        Some(kube::Error::Api(_)) => "see the apiserver's message above",
        Some(_) => "is the apiserver running and reachable at the kubeconfig's server URL?",
        None => "is the apiserver running, and may this user list and watch pods and nodes?",
    }
}

/// Runs the simulated nodes until SIGINT or SIGTERM.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let SimCommand::Nodes(args) = args.command;
    crate::server::init_logging();
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = connect(args.kubeconfig.as_deref()).await?;
        let total = config.count;
        let lease_seconds = config.lease_duration.as_secs();
        let prefix = config.prefix.clone();
        let step = (total / 5).clamp(1, 1000);
        let started = Instant::now();
        eprintln!("rkube sim: registering {total} nodes ({prefix}0 … {prefix}{})", total - 1);
        let sim = rkube_sim::SimNodes::start_with_progress(client, config, move |done, total| {
            if done % step == 0 || done == total {
                eprintln!(
                    "registered {done}/{total} nodes ({:.1} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", hint(&e)))?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "rkube sim: {total} simulated nodes running ({prefix}0 … {prefix}{}, label type=rkube-sim); Ctrl-C stops their heartbeats",
            total - 1
        );
        let _ = out.flush();
        drop(out);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("rkube sim: interrupted, stopping"),
            _ = term.recv() => eprintln!("rkube sim: terminated, stopping"),
        }
        let stats = sim.stats();
        sim.stop().await;
        eprintln!(
            "rkube sim: stopped; the nodes stay registered as dead nodes (their leases expire after \
             {} s) ({} lease renewals, {} failed; {} pods started, {} completed, {} deleted)",
            lease_seconds,
            stats.lease_renewals,
            stats.lease_failures,
            stats.pods_started,
            stats.pods_completed,
            stats.pods_deleted
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse() {
        assert_eq!(parse_label("a=b").unwrap(), ("a".into(), "b".into()));
        assert_eq!(parse_label("a=").unwrap(), ("a".into(), "".into()));
        assert!(parse_label("a").is_err());
    }
}
