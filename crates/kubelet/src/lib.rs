//! The node agent (kubelet): registers the node and keeps its status and lease fresh, runs the
//! pods bound to it through CRI (containerd + runc), and serves the kubelet HTTP API. A kube-rs
//! client of the apiserver, never of the store.

pub mod agent;
pub mod bootstrap;
pub mod config;
pub mod cri;
pub mod events;
pub mod housekeeping;
pub mod network;
pub mod node;
pub mod pods;
pub mod runtime;
pub mod server;
pub mod stats;
pub mod volumes;

use std::sync::Arc;

use tokio::task::JoinSet;

use config::KubeletConfig;
use node::machine::Machine;

/// The kubelet's version as Nodes report it.
pub const KUBELET_VERSION: &str = concat!("v1.33.0-rkube.", env!("CARGO_PKG_VERSION"));

/// Why the kubelet could not start.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// The runtime did not answer.
    #[error("container runtime: {0}")]
    Runtime(#[from] tonic::Status),
    /// Registering the node failed.
    #[error("registering the node: {0}")]
    Node(#[from] node::NodeError),
    /// The kubelet API could not start.
    #[error("{0}")]
    Server(#[from] server::ServerError),
    /// The agent directory could not be created.
    #[error("agent directory {path}: {source}")]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running kubelet; dropping it stops its loops (pods keep running in the runtime and are
/// adopted by the next kubelet).
pub struct Kubelet {
    tasks: JoinSet<()>,
    /// The pod workers' shared state.
    pub pods: Arc<pods::PodManager>,
    /// Where the kubelet API listens (the port the Node reports).
    pub server_addr: std::net::SocketAddr,
}

impl Kubelet {
    /// Starts the kubelet API, registers the node and starts the heartbeat and the pod
    /// workers on runtime `cri`.
    pub async fn start(
        mut config: KubeletConfig,
        client: kube::Client,
        cri: cri::Cri,
    ) -> Result<Kubelet, KubeletError> {
        for dir in [
            config.root_dir.join("pods"),
            config.root_dir.join("logs").join("pods"),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| KubeletError::Dir {
                path: dir.clone(),
                source,
            })?;
        }
        let machine = Machine::read(&config.root_dir);
        let version = cri
            .runtime
            .clone()
            .version(k8s_cri::v1::VersionRequest {
                version: "v1".into(),
            })
            .await?
            .into_inner();
        let runtime_version = format!("{}://{}", version.runtime_name, version.runtime_version);
        let node_info = machine.node_info(&runtime_version, KUBELET_VERSION);
        let server = server::KubeletServer::bind(&config, client.clone(), cri.clone()).await?;
        // The Node reports the port actually bound (the configured one may be 0).
        config.server_port = server.addr.port();
        let mut tasks = JoinSet::new();
        tasks.spawn(server.serving);
        let node = node::register::register(&client, &config).await?;
        tasks.spawn(node::heartbeat::run(
            client.clone(),
            config.clone(),
            machine.clone(),
            node_info,
            cri.clone(),
            node,
        ));
        let pods = pods::PodManager::new(config, client, cri, machine);
        tasks.spawn(pods::run(pods.clone()));
        Ok(Kubelet {
            tasks,
            pods,
            server_addr: server.addr,
        })
    }

    /// Stops the kubelet's loops (not the pods).
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}
