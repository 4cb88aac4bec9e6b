//! Node agent flags (shared by `rkube server` and, later, `rkube agent`) and their mapping
//! onto the kubelet crate's `AgentConfig`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use rkube_kubelet::agent::{AgentConfig, RuntimeEndpoint};
use rkube_kubelet::config::KubeletConfig;

/// Flags of the node agent (names as k3s has them where it has them).
#[derive(Args, Debug, Clone)]
pub struct AgentArgs {
    /// The Node's name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// The address the Node reports (default: the first non-loopback IPv4 address).
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Label to put on the Node, `key=value` (repeatable).
    #[arg(long = "node-label")]
    pub node_labels: Vec<String>,
    /// Use this CRI socket instead of starting a private containerd.
    #[arg(long)]
    pub container_runtime_endpoint: Option<PathBuf>,
    /// The cluster's pod network.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: String,
    /// A fixed subnet for this node's pods (default: the one the node IPAM controller assigns
    /// to the Node, inside the cluster CIDR).
    #[arg(long)]
    pub pod_cidr: Option<String>,
    /// The cluster DNS address pods get.
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: IpAddr,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// The Linux bridge pods attach to.
    #[arg(long, default_value = "cni0")]
    pub cni_bridge: String,
    #[command(flatten)]
    pub proxy: crate::proxy::ProxyArgs,
    /// The kubelet API's port (0 picks a free one).
    #[arg(long, default_value_t = rkube_kubelet::config::DEFAULT_KUBELET_PORT)]
    pub kubelet_port: u16,
}

/// This host's first non-loopback IPv4 address (else 127.0.0.1).
pub fn first_ipv4() -> IpAddr {
    if_addrs::get_if_addrs()
        .ok()
        .into_iter()
        .flatten()
        .find(|i| !i.is_loopback() && i.ip().is_ipv4())
        .map_or(IpAddr::from([127, 0, 0, 1]), |i| i.ip())
}

impl AgentArgs {
    /// The agent configuration, with files under `<data_dir>/agent`.
    pub fn config(&self, data_dir: &Path) -> anyhow::Result<AgentConfig> {
        let node_name = match &self.node_name {
            Some(n) => n.clone(),
            None => nix::unistd::gethostname()?.to_string_lossy().to_lowercase(),
        };
        let mut kubelet = KubeletConfig::new(
            node_name,
            self.node_ip.unwrap_or_else(first_ipv4),
            data_dir.join("agent"),
        );
        kubelet.pod_cidr = self.pod_cidr.clone();
        kubelet.cluster_dns = vec![self.cluster_dns];
        kubelet.cluster_domain = self.cluster_domain.clone();
        kubelet.server_port = self.kubelet_port;
        for l in &self.node_labels {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--node-label {l:?}: expected key=value"))?;
            kubelet.node_labels.insert(k.into(), v.into());
        }
        Ok(AgentConfig {
            kubelet,
            runtime: match &self.container_runtime_endpoint {
                Some(p) => RuntimeEndpoint::External(p.clone()),
                None => RuntimeEndpoint::Private,
            },
            cluster_cidr: self.cluster_cidr.clone(),
            cni_bridge: self.cni_bridge.clone(),
        })
    }
}

/// Starts the node's Service proxy unless disabled; a failure is reported and the node runs
/// on without it.
pub async fn start_proxy(
    args: &AgentArgs,
    config: &AgentConfig,
    client: kube::Client,
) -> Option<rkube_proxy::Proxy> {
    if args.proxy.disable_kube_proxy {
        return None;
    }
    match crate::proxy::spawn(
        &args.proxy,
        client,
        &config.kubelet.node_name,
        config.kubelet.node_ip,
        &args.cluster_cidr,
    )
    .await
    {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("rkube: {e}
  Services will not be reachable from this node; fix the cause and restart, or pass --disable-kube-proxy");
            None
        }
    }
}

/// The cluster CA (PEM) from a kubeconfig: the kubelet API trusts client certificates it signed.
pub fn ca_from_kubeconfig(path: &Path) -> anyhow::Result<String> {
    use base64::Engine;
    let kc = kube::config::Kubeconfig::read_from(path)?;
    let data = kc
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.certificate_authority_data.clone())
        .ok_or_else(|| anyhow::anyhow!("{}: no certificate-authority-data", path.display()))?;
    let pem = base64::engine::general_purpose::STANDARD.decode(data.trim())?;
    Ok(String::from_utf8(pem)?)
}
