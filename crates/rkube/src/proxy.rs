//! The Service proxy as `rkube server` and `rkube agent` run it, in-process beside the kubelet
//! (k3s does the same): the node's name and address, the cluster's ranges, and upstream's
//! `/metrics` (port 10249) and `/healthz` answers.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;

/// Proxy flags (names as k3s has them where it has them).
#[derive(Args, Debug, Clone)]
pub struct ProxyArgs {
    /// Do not run the Service proxy (Services then reach nothing from this node).
    #[arg(long)]
    pub disable_kube_proxy: bool,
    /// The nftables table (family ip) the proxy owns.
    #[arg(long, default_value = rkube_proxy::DEFAULT_TABLE)]
    pub kube_proxy_table: String,
    /// Where the proxy serves /metrics and /healthz (plain HTTP; keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:10249")]
    pub kube_proxy_metrics_address: SocketAddr,
}

/// Starts the proxy for `node_name` at `node_ip`.
pub async fn spawn(
    args: &ProxyArgs,
    client: kube::Client,
    node_name: &str,
    node_ip: IpAddr,
    cluster_cidr: &str,
) -> anyhow::Result<rkube_proxy::Proxy> {
    let mut config = rkube_proxy::ProxyConfig::new(node_name);
    config.node_ips = vec![node_ip];
    config.cluster_cidr = cluster_cidr.to_owned();
    config.table = args.kube_proxy_table.clone();
    let proxy = rkube_proxy::Proxy::start(config, client)
        .await
        .map_err(|e| anyhow::anyhow!("the Service proxy could not start: {e}"))?;
    serve_metrics(&proxy, args.kube_proxy_metrics_address).await;
    Ok(proxy)
}

/// Serves `/metrics` and `/healthz` in the background; a bind failure is reported, not fatal.
async fn serve_metrics(proxy: &rkube_proxy::Proxy, addr: SocketAddr) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rkube: proxy metrics not served on {addr}: {e}");
            return;
        }
    };
    let metrics = proxy.metrics();
    let health_timeout = std::time::Duration::from_secs(60);
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get({
                let m = metrics.clone();
                move || async move {
                    (
                        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                        m.encode(),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            axum::routing::get(move || async move {
                if metrics.healthy(health_timeout) {
                    (axum::http::StatusCode::OK, "ok")
                } else {
                    (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "proxy rules are stale",
                    )
                }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Flags of `rkube proxy` (upstream kube-proxy's names).
#[derive(Args, Debug)]
pub struct ProxyCmdArgs {
    /// The kubeconfig to reach the apiserver with (else $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// This node's name (default: the host name).
    #[arg(long)]
    hostname_override: Option<String>,
    /// This node's address (default: the first non-loopback IPv4 address).
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// The cluster's pod network.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    #[command(flatten)]
    proxy: ProxyArgs,
}

/// `rkube proxy`: the Service proxy alone (rules stay in place when it stops, as upstream).
pub fn run(args: ProxyCmdArgs) -> anyhow::Result<()> {
    crate::server::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = crate::server::component_client(args.kubeconfig.as_deref()).await?;
        let node = match args.hostname_override {
            Some(n) => n,
            None => nix::unistd::gethostname()?.to_string_lossy().to_lowercase(),
        };
        let ip = args.node_ip.unwrap_or_else(crate::agent::first_ipv4);
        let proxy = spawn(&args.proxy, client, &node, ip, &args.cluster_cidr).await?;
        eprintln!(
            "rkube proxy: running for node {node} ({ip}), table ip {}",
            args.proxy.kube_proxy_table
        );
        crate::server::stop_signal().await?;
        proxy.stop().await;
        eprintln!("rkube proxy: stopped (rules left in place)");
        Ok(())
    })
}
