//! The controller manager as the binary runs it: inside `rkube server`, or alone as
//! `rkube controller-manager` (flags named as upstream's kube-controller-manager).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rkube_controllers::cluster_network::ClusterNetwork;
use rkube_controllers::manager::{self, LEASE_NAME, LeaderElectionConfig};
use rkube_controllers::{Manager, ManagerConfig};

/// Controller manager flags shared by `rkube server` and `rkube controller-manager`.
#[derive(Args, Debug, Clone)]
pub struct ControllersArgs {
    /// Controllers to enable: '*' enables all on-by-default controllers, 'foo' enables the
    /// controller named 'foo', '-foo' disables it (comma-separated, first match wins).
    #[arg(long, value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
    /// The prefix length of the pod range each node gets from the cluster CIDR.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u8).range(8..=30))]
    pub node_cidr_mask_size: u8,
    /// Addresses LoadBalancer Services get, one each: an IPv4 CIDR (10.44.0.0/24) or a range
    /// (10.44.0.10-10.44.0.50). Unset, they get the Ready nodes' addresses (as k3s).
    #[arg(long)]
    pub service_lb_pool: Option<String>,
}

impl ControllersArgs {
    /// The address plan these flags and the cluster CIDR describe; a bad pool is an error
    /// here, at start, not a silent controller failure later.
    pub fn network(&self, cluster_cidr: &str) -> anyhow::Result<ClusterNetwork> {
        if let Some(p) = &self.service_lb_pool {
            rkube_controllers::service_lb::Pool::parse(p)
                .map_err(|e| anyhow::anyhow!("--service-lb-pool: {e}"))?;
        }
        Ok(ClusterNetwork {
            cluster_cidr: cluster_cidr.to_owned(),
            node_cidr_mask_size: self.node_cidr_mask_size,
            load_balancer_pool: self.service_lb_pool.clone(),
        })
    }
}

/// Flags of `rkube controller-manager`.
#[derive(Args, Debug)]
pub struct ControllerManagerCmdArgs {
    /// The kubeconfig to reach the apiserver with (else $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    #[command(flatten)]
    controllers: ControllersArgs,
    /// The cluster's pod network, split into one range per node.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// Elect a leader on the Lease kube-system/kube-controller-manager before acting.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    leader_elect: bool,
    /// How long a lease is valid without renewal (e.g. 15s).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_elect_lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up (e.g. 10s).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_elect_renew_deadline: Duration,
    /// How often candidates try to acquire or renew (e.g. 2s).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_elect_retry_period: Duration,
    /// Address /metrics and /healthz are served on (plain HTTP; keep it on loopback).
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// Port /metrics and /healthz are served on (0: not served).
    #[arg(long, default_value_t = manager::DEFAULT_PORT)]
    secure_port: u16,
}

/// A duration as upstream's flags write them: `1h2m3s`, `500ms`, `15s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?} (use e.g. 15s, 500ms, 1m30s)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(n * scale);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// This process's identity as a lease candidate (`<host>_<pid>`).
pub fn identity() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "rkube".into());
    format!("{host}_{}", std::process::id())
}

/// A manager from the flags; fails on an unknown controller name. `root_ca_pem` is the
/// cluster CA published as `kube-root-ca.crt` (the kubeconfig's certificate-authority-data).
pub fn build(
    args: &ControllersArgs,
    cluster_cidr: &str,
    client: kube::Client,
    leader: Option<LeaderElectionConfig>,
    root_ca_pem: Option<String>,
) -> anyhow::Result<Manager> {
    let mut config = ManagerConfig::new(identity());
    config.network = args.network(cluster_cidr)?;
    config.controllers = args.controllers.clone();
    config.leader_election = leader;
    config.root_ca_pem = root_ca_pem;
    Manager::new(client, config).map_err(|e| {
        anyhow::anyhow!(
            "--controllers: {e}\nknown controllers: {}",
            known().join(", ")
        )
    })
}

/// Fails on a `--controllers` entry naming no known controller.
pub fn check(args: &ControllersArgs) -> anyhow::Result<()> {
    args.network("10.42.0.0/16")?;
    manager::select(rkube_controllers::all(), &args.controllers)
        .map(|_| ())
        .map_err(|e| {
            anyhow::anyhow!(
                "--controllers: {e}\nknown controllers: {}",
                known().join(", ")
            )
        })
}

fn known() -> Vec<&'static str> {
    rkube_controllers::all().iter().map(|d| d.name).collect()
}

/// Serves the manager's /metrics and /healthz on `addr` in the background (a bind failure is
/// reported, not fatal).
pub async fn serve_metrics(manager: &Manager, addr: SocketAddr) {
    match manager::bind(addr).await {
        Ok((listener, addr)) => {
            eprintln!("rkube: controller-manager metrics on http://{addr}/metrics");
            let ctx = manager.context().clone();
            tokio::spawn(async move {
                let _ = manager::serve(listener, ctx).await;
            });
        }
        Err(e) => eprintln!("rkube: controller-manager metrics not served on {addr}: {e}"),
    }
}

/// Runs the controller manager inside `rkube server` (leader-elected with upstream's timings);
/// after a lost lease it campaigns again rather than stopping the server.
pub async fn spawn(
    args: &ControllersArgs,
    cluster_cidr: &str,
    client: kube::Client,
    metrics_address: SocketAddr,
    root_ca_pem: Option<String>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let leader = LeaderElectionConfig::new(LEASE_NAME, identity());
    let manager = build(args, cluster_cidr, client, Some(leader), root_ca_pem)?;
    serve_metrics(&manager, metrics_address).await;
    Ok(tokio::spawn(async move {
        loop {
            match manager.run().await {
                Ok(()) => return,
                Err(e) => eprintln!("rkube: controller-manager: {e}; campaigning again"),
            }
        }
    }))
}

/// `rkube controller-manager`: the controllers alone against a remote apiserver.
pub fn run(args: ControllerManagerCmdArgs) -> anyhow::Result<()> {
    crate::server::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    // A bad --controllers fails before anything connects.
    check(&args.controllers)?;
    runtime.block_on(async move {
        let config = match &args.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)?;
                kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?
            }
            None => kube::Config::infer().await.map_err(|e| {
                anyhow::anyhow!("{e}\npass --kubeconfig or set KUBECONFIG to reach the apiserver")
            })?,
        };
        let root_ca = root_ca_pem(&config);
        let client = kube::Client::try_from(config)?;
        let leader = args.leader_elect.then(|| {
            let mut l = LeaderElectionConfig::new(LEASE_NAME, identity());
            l.lease_duration = args.leader_elect_lease_duration;
            l.renew_deadline = args.leader_elect_renew_deadline;
            l.retry_period = args.leader_elect_retry_period;
            l
        });
        let manager = build(
            &args.controllers,
            &args.cluster_cidr,
            client,
            leader,
            root_ca,
        )?;
        if args.secure_port != 0 {
            serve_metrics(
                &manager,
                SocketAddr::new(args.bind_address, args.secure_port),
            )
            .await;
        }
        eprintln!(
            "rkube controller-manager: running {}",
            manager.controller_names().join(", ")
        );
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                eprintln!("rkube controller-manager: interrupted, stopping");
                Ok(())
            }
            r = manager.run() => r.map_err(|e| anyhow::anyhow!("{e}")),
        }
    })
}

/// The CA certificates the client trusts (the kubeconfig's certificate-authority-data), as
/// PEM; `None` when it trusts the system roots only.
fn root_ca_pem(config: &kube::Config) -> Option<String> {
    use base64::Engine;
    let certs = config.root_cert.as_ref().filter(|c| !c.is_empty())?;
    let mut pem = String::new();
    for der in certs {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    Some(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_upstream_writes_them() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("fast").is_err());
    }
}
