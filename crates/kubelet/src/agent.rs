//! The node agent as `rkube server` and `rkube agent` run it: the container runtime (a private
//! supervised containerd, or an existing CRI socket), the pod network config, the pause image,
//! airgap image import in the background, and the kubelet on top.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::KubeletConfig;
use crate::cri::{Cri, CriConnectError};
use crate::network::{PodNetwork, PodNetworkConfig};
use crate::runtime::cni::{CniError, EgressMasquerade};
use crate::runtime::containerd::{Containerd, ContainerdConfig, ContainerdError};
use crate::runtime::images::{self, ImageError, PAUSE_IMAGE};
use crate::{Kubelet, KubeletError};

/// Where the agent's containers run.
#[derive(Clone, Debug)]
pub enum RuntimeEndpoint {
    /// A private containerd the agent starts and supervises under its directory.
    Private,
    /// An existing CRI socket (`--container-runtime-endpoint`); its CNI setup is its own.
    External(PathBuf),
}

/// The agent's configuration.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The kubelet's (its `root_dir` is the agent directory, `<data-dir>/agent`).
    pub kubelet: KubeletConfig,
    /// The runtime to use.
    pub runtime: RuntimeEndpoint,
    /// The cluster-wide pod network (`10.42.0.0/16`), masqueraded when leaving it.
    pub cluster_cidr: String,
    /// The Linux bridge pods attach to (`cni0`).
    pub cni_bridge: String,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The private containerd did not start.
    #[error("containerd: {0}")]
    Containerd(#[from] ContainerdError),
    /// The CRI socket did not answer.
    #[error("{0}")]
    Connect(#[from] CriConnectError),
    /// The pod network config could not be written.
    #[error("pod network: {0}")]
    Cni(#[from] CniError),
    /// The pause image could not be made.
    #[error("pause image: {0}")]
    Image(#[from] ImageError),
    /// The kubelet did not start.
    #[error("{0}")]
    Kubelet(#[from] KubeletError),
}

/// A running node agent.
pub struct NodeAgent {
    kubelet: Kubelet,
    containerd: Option<Containerd>,
    imports: tokio::task::JoinHandle<()>,
    network: Option<PodNetwork>,
}

impl NodeAgent {
    /// Starts the runtime, the network config and the kubelet.
    pub async fn start(config: AgentConfig, client: kube::Client) -> Result<NodeAgent, AgentError> {
        let root = config.kubelet.root_dir.clone();
        let mut network = None;
        let (cri, containerd) = match &config.runtime {
            RuntimeEndpoint::External(socket) => {
                (Cri::connect(socket, Duration::from_secs(30)).await?, None)
            }
            RuntimeEndpoint::Private => {
                let conf_dir = root.join("cni").join("net.d");
                let mut net = PodNetworkConfig::new(
                    config.kubelet.node_name.clone(),
                    conf_dir.clone(),
                    root.join("cni").join("ipam"),
                );
                net.bridge = config.cni_bridge.clone();
                net.static_pod_cidr = match &config.kubelet.pod_cidr {
                    Some(c) => Some(c.parse()?),
                    None => None,
                };
                net.write_static().await?;
                network = Some(net);
                if let Err(e) = EgressMasquerade::new(&config.cluster_cidr)?.ensure().await {
                    tracing::warn!(error = %e, "pod egress masquerade rule not installed");
                }
                let ctd = Containerd::start(ContainerdConfig::new(
                    root.join("containerd"),
                    "/usr/lib/cni",
                    conf_dir,
                    PAUSE_IMAGE,
                ))
                .await?;
                (ctd.connect(Duration::from_secs(30)).await?, Some(ctd))
            }
        };
        images::ensure_pause_image(&cri, PAUSE_IMAGE, &root.join("images").join("build")).await?;
        // Airgap tarballs: imported in the background, the node comes up meanwhile.
        let images_dir = root.join("images");
        let socket = cri.socket().to_path_buf();
        let imports = tokio::spawn(async move {
            match images::import_dir(&socket, &images_dir).await {
                Ok(results) => {
                    for r in results {
                        match r.result {
                            Ok(i) => {
                                tracing::info!(archive = %r.archive.display(), images = ?i.images, "imported images")
                            }
                            Err(e) => {
                                tracing::warn!(archive = %r.archive.display(), error = %e, "image archive not imported")
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(dir = %images_dir.display(), error = %e, "image directory not imported")
                }
            }
        });
        // Without a fixed podCIDR the runtime stays network-not-ready (and the Node NotReady,
        // as upstream) until the node IPAM controller has assigned one to the registered Node.
        let network = network.map(|n| PodNetwork::start(n, client.clone()));
        let kubelet = Kubelet::start(config.kubelet, client, cri).await?;
        Ok(NodeAgent {
            kubelet,
            network,
            containerd,
            imports,
        })
    }

    /// Stops the kubelet and the private containerd; pods keep running (their shims do) and
    /// are adopted at the next start.
    pub async fn shutdown(self) {
        self.imports.abort();
        if let Some(n) = self.network {
            n.stop();
        }
        self.kubelet.shutdown().await;
        if let Some(c) = self.containerd
            && let Err(e) = c.stop().await
        {
            tracing::warn!(error = %e, "containerd did not stop cleanly");
        }
    }
}
