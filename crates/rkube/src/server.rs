//! `rkube server`: the control plane in one process.

use clap::Args;
use rkube_apiserver::admission::{AdmissionPlugins, UnknownPlugin};
use rkube_apiserver::server::{ServerConfig, start};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

/// Flags of `rkube server` (names as k3s has them).
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the store, certificates and kubeconfig live.
    #[arg(long, default_value = "/var/lib/rkube", env = "RKUBE_DATA_DIR")]
    data_dir: PathBuf,
    /// Address the API listens on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// Address the `kubernetes` Service's endpoints advertise (default: the bind address, or
    /// this host's first IPv4 address when listening on all).
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    /// HTTPS port of the API (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    https_listen_port: u16,
    /// Where to write the admin kubeconfig (default: <data-dir>/kubeconfig.yaml).
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// etcd endpoints, comma-separated (http:// or https://); the embedded store when unset.
    #[arg(long)]
    datastore_endpoint: Option<String>,
    /// CA file to verify etcd's certificate.
    #[arg(long)]
    datastore_cafile: Option<PathBuf>,
    /// Client certificate for etcd.
    #[arg(long)]
    datastore_certfile: Option<PathBuf>,
    /// Client key for etcd.
    #[arg(long)]
    datastore_keyfile: Option<PathBuf>,
    /// Static bearer tokens, one `token,user,uid,"group1,group2"` per line.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Extra host name or IP for the serving certificate (repeatable).
    #[arg(long = "tls-san")]
    tls_san: Vec<String>,
    /// The node join secret agents present (default: generated, kept in <data-dir>/node-token).
    #[arg(long, env = "RKUBE_TOKEN")]
    token: Option<String>,
    /// Read-only requests served at once; more get 429 (0: no limit).
    #[arg(long, default_value_t = rkube_apiserver::inflight::DEFAULT_MAX_REQUESTS_INFLIGHT)]
    max_requests_inflight: usize,
    /// Mutating requests served at once; more get 429 (0: no limit).
    #[arg(long, default_value_t = rkube_apiserver::inflight::DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT)]
    max_mutating_requests_inflight: usize,
    /// Admission plugins to turn off, comma-separated, by upstream's names (e.g.
    /// `ServiceAccount,Priority`); rkube's are all on by default.
    #[arg(long, value_delimiter = ',')]
    disable_admission_plugins: Vec<String>,
    /// Run the control plane only (no node agent on this machine).
    #[arg(long)]
    disable_agent: bool,
    /// Do not run the scheduler (pods stay Pending unless another scheduler binds them).
    #[arg(long)]
    disable_scheduler: bool,
    #[command(flatten)]
    scheduler: crate::scheduler::SchedulerArgs,
    /// Do not run the controller manager (nothing acts on ReplicaSets, Jobs, … unless another
    /// controller manager does).
    #[arg(long)]
    disable_controller_manager: bool,
    #[command(flatten)]
    controllers: crate::controller_manager::ControllersArgs,
    /// Where the controller manager serves /metrics and /healthz (plain HTTP; keep it on
    /// loopback).
    #[arg(long, default_value = "127.0.0.1:10257")]
    controller_manager_metrics_address: std::net::SocketAddr,
    #[command(flatten)]
    dns: crate::dns::DnsArgs,
    #[command(flatten)]
    agent: crate::agent::AgentArgs,
}

impl ServerArgs {
    /// The apiserver configuration these flags describe (an unknown admission plugin name
    /// is an error, as upstream's).
    pub fn config(&self) -> Result<ServerConfig, UnknownPlugin> {
        let mut c = ServerConfig::new(&self.data_dir);
        c.bind_address = self.bind_address;
        c.advertise_address = self.advertise_address;
        c.https_port = self.https_listen_port;
        c.write_kubeconfig = self.write_kubeconfig.clone();
        c.datastore_endpoint = self.datastore_endpoint.clone();
        if self.datastore_cafile.is_some()
            || self.datastore_certfile.is_some()
            || self.datastore_keyfile.is_some()
        {
            c.datastore_tls = Some((
                self.datastore_cafile.clone(),
                self.datastore_certfile.clone(),
                self.datastore_keyfile.clone(),
            ));
        }
        c.token_auth_file = self.token_auth_file.clone();
        c.tls_sans = self.tls_san.clone();
        c.join_secret = self.token.clone();
        c.max_requests_inflight = self.max_requests_inflight;
        c.max_mutating_requests_inflight = self.max_mutating_requests_inflight;
        c.admission = AdmissionPlugins::disabling(&self.disable_admission_plugins)?;
        Ok(c)
    }
}

/// The client a standalone component uses: `--kubeconfig` when given, else kube-rs's usual
/// inference ($KUBECONFIG, ~/.kube/config, in-cluster).
pub async fn component_client(
    kubeconfig: Option<&std::path::Path>,
) -> anyhow::Result<kube::Client> {
    match kubeconfig {
        Some(path) => client_from(path).await,
        None => kube::Client::try_default().await.map_err(|e| {
            anyhow::anyhow!("{e}\npass --kubeconfig or set KUBECONFIG to reach the apiserver")
        }),
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// A kube-rs client from a kubeconfig file (an agent's, or a standalone component's).
pub async fn client_from(kubeconfig: &std::path::Path) -> anyhow::Result<kube::Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Logs to stderr, filtered by `RKUBE_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RKUBE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logging();
    // Bad controller flags (an unknown controller, an unusable load-balancer pool) fail
    // before anything starts.
    crate::controller_manager::check(&args.controllers)?;
    // So do unknown admission plugin names.
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        eprintln!(
            "rkube server: starting (data dir {})",
            config.data_dir.display()
        );
        let mut server = start(config).await.map_err(|e| {
            anyhow::anyhow!(
                "{e}\nrkube server could not start; fix the cause above and run it again"
            )
        })?;
        // The in-process components talk to the apiserver without TLS or a socket (same
        // authentication, authorization and admission as over HTTPS; see
        // rkube_apiserver::loopback).
        let client = kube::Client::new(server.loopback(), "default");
        let controller_manager = if args.disable_controller_manager {
            None
        } else {
            Some(
                crate::controller_manager::spawn(
                    &args.controllers,
                    &args.agent.cluster_cidr,
                    client.clone(),
                    args.controller_manager_metrics_address,
                    crate::agent::ca_from_kubeconfig(&server.kubeconfig).ok(),
                )
                .await?,
            )
        };
        let scheduler = if args.disable_scheduler {
            None
        } else {
            Some(crate::scheduler::spawn(&args.scheduler, client.clone()).await?)
        };
        let dns = if args.dns.disable_dns {
            None
        } else {
            let ip = args
                .agent
                .node_ip
                .or(args.advertise_address)
                .unwrap_or_else(crate::agent::first_ipv4);
            match crate::dns::spawn(
                &args.dns,
                client.clone(),
                ip,
                args.agent.cluster_dns,
                &args.agent.cluster_domain,
            )
            .await
            {
                Ok(s) => {
                    eprintln!("rkube server: cluster DNS on {:?}", s.local_addrs());
                    Some(s)
                }
                Err(e) => {
                    eprintln!("rkube server: cluster DNS not started: {e}");
                    None
                }
            }
        };
        let mut proxy = None;
        // The node agent starts beside the ready control plane, never in its way.
        let agent = if args.disable_agent {
            None
        } else {
            let mut agent_config = args.agent.config(&args.data_dir)?;
            agent_config.kubelet.client_ca_pem = Some(crate::agent::ca_from_kubeconfig(&server.kubeconfig)?);
            proxy = crate::agent::start_proxy(&args.agent, &agent_config, client.clone()).await;
            Some(tokio::spawn(async move {
                eprintln!("rkube server: starting the node agent ({})", agent_config.kubelet.node_name);
                match rkube_kubelet::agent::NodeAgent::start(agent_config, client).await {
                    Ok(agent) => {
                        eprintln!("rkube server: node agent running");
                        Some(agent)
                    }
                    Err(e) => {
                        eprintln!("rkube server: the node agent could not start: {e}\n  the control plane keeps running; fix the cause and restart, or pass --disable-agent");
                        None
                    }
                }
            }))
        };
        // Whoever started us may have stopped reading stdout: that must not stop the server.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "rkube server ready at {}", server.url);
        let _ = writeln!(out, "kubeconfig: {}", server.kubeconfig.display());
        let _ = writeln!(out, "node token: {}", args.data_dir.join("node-token").display());
        let _ = writeln!(
            out,
            "try: kubectl --kubeconfig {} get namespaces",
            server.kubeconfig.display()
        );
        let _ = out.flush();
        drop(out);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("rkube server: interrupted, stopping"),
            _ = term.recv() => eprintln!("rkube server: terminated, stopping"),
            r = server.wait() => {
                return r.map_err(|e| anyhow::anyhow!("serving stopped: {e}"));
            }
        }
        if let Some(agent) = agent
            && let Ok(Some(agent)) = agent.await
        {
            agent.shutdown().await;
        }
        if let Some(s) = scheduler {
            s.abort();
        }
        if let Some(d) = dns {
            d.stop().await;
        }
        if let Some(p) = proxy {
            p.stop().await;
        }
        if let Some(c) = controller_manager {
            c.abort();
        }
        server.shutdown().await;
        eprintln!("rkube server: stopped");
        Ok(())
    })
}
