//! `rkube agent --server URL --token T`: joins a cluster with its node token and runs the node
//! agent (kubelet on a private containerd) against the remote apiserver.

use std::path::PathBuf;

use clap::Args;

/// Flags of `rkube agent`.
#[derive(Args, Debug)]
pub struct AgentCmdArgs {
    /// The server's API URL, e.g. https://10.0.0.1:6443.
    #[arg(long, env = "RKUBE_URL")]
    server: String,
    /// The node token from the server's <data-dir>/node-token.
    #[arg(long, env = "RKUBE_TOKEN")]
    token: String,
    /// Where the agent keeps its files.
    #[arg(long, default_value = "/var/lib/rkube", env = "RKUBE_DATA_DIR")]
    data_dir: PathBuf,
    #[command(flatten)]
    agent: crate::agent::AgentArgs,
}

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(args: AgentCmdArgs) -> anyhow::Result<()> {
    crate::server::init_logging();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let config = args.agent.config(&args.data_dir)?;
        let node = config.kubelet.node_name.clone();
        let kubeconfig = args.data_dir.join("agent").join("kubeconfig.yaml");
        eprintln!("rkube agent: joining {} as node {node}", args.server);
        rkube_kubelet::bootstrap::join(&args.server, &args.token, &node, &kubeconfig)
            .await
            .map_err(|e| anyhow::anyhow!("{e}\nrkube agent could not join the cluster"))?;
        let client = crate::server::client_from(&kubeconfig).await?;
        let mut config = config;
        config.kubelet.client_ca_pem = Some(crate::agent::ca_from_kubeconfig(&kubeconfig)?);
        eprintln!("rkube agent: joined; starting the node agent");
        let proxy = crate::agent::start_proxy(&args.agent, &config, client.clone()).await;
        let agent = rkube_kubelet::agent::NodeAgent::start(config, client)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e}\nthe node agent could not start; fix the cause above and run it again"
                )
            })?;
        println!("rkube agent running: node {node}");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("rkube agent: interrupted, stopping"),
            _ = term.recv() => eprintln!("rkube agent: terminated, stopping"),
        }
        agent.shutdown().await;
        if let Some(p) = proxy {
            p.stop().await;
        }
        eprintln!("rkube agent: stopped (pods keep running and are adopted at the next start)");
        Ok(())
    })
}
