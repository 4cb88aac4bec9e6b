//! What the kubelet is told at start: who the node is, where its files live, the cluster's
//! network facts, how often it reports, and where its HTTPS API listens and whom it trusts.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// The port the kubelet API listens on by default (upstream's `--port`).
pub const DEFAULT_KUBELET_PORT: u16 = 10250;

/// The kubelet's configuration.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// The Node object's name (the host name by default).
    pub node_name: String,
    /// The address the node reports as InternalIP and uses as the pods' host IP.
    pub node_ip: IpAddr,
    /// The agent's own directory (`<data-dir>/agent`): pod volumes, logs, CNI state.
    pub root_dir: PathBuf,
    /// The node's pod CIDR when the cluster does not assign one (until node IPAM runs).
    pub pod_cidr: Option<String>,
    /// The cluster DNS servers pods with `dnsPolicy: ClusterFirst` get.
    pub cluster_dns: Vec<IpAddr>,
    /// The cluster domain (`cluster.local`).
    pub cluster_domain: String,
    /// Extra labels put on the Node at registration.
    pub node_labels: BTreeMap<String, String>,
    /// The `pods` capacity (110 upstream).
    pub max_pods: u32,
    /// How long the node Lease is valid (`leaseDurationSeconds`, 40 s upstream).
    pub lease_duration: Duration,
    /// How often the Lease is renewed (10 s upstream: a quarter of the duration).
    pub lease_renew_interval: Duration,
    /// The longest the Node status goes unreported even when nothing changed.
    pub status_report_interval: Duration,
    /// How often the runtime is relisted for container state changes (PLEG, 1 s upstream).
    pub relist_interval: Duration,
    /// How often every pod is synced even when nothing happened (volume refresh).
    pub sync_interval: Duration,
    /// The address the kubelet API listens on (upstream's `--address`, all interfaces).
    pub server_address: IpAddr,
    /// The kubelet API port ([`DEFAULT_KUBELET_PORT`]; 0 picks a free one). Once the kubelet
    /// has started, its copy holds the port actually bound, which the Node reports.
    pub server_port: u16,
    /// The CA (PEM) whose client certificates the kubelet API accepts (upstream's
    /// `--client-ca-file`): the cluster CA. Without it every request is unauthorized.
    pub client_ca_pem: Option<String>,
}

impl KubeletConfig {
    /// Upstream's defaults for a node named `node_name` at `node_ip`, keeping files in `root_dir`.
    pub fn new(
        node_name: impl Into<String>,
        node_ip: IpAddr,
        root_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            node_name: node_name.into(),
            node_ip,
            root_dir: root_dir.into(),
            pod_cidr: None,
            cluster_dns: vec![IpAddr::from([10, 43, 0, 10])],
            cluster_domain: "cluster.local".into(),
            node_labels: BTreeMap::new(),
            max_pods: 110,
            lease_duration: Duration::from_secs(40),
            lease_renew_interval: Duration::from_secs(10),
            status_report_interval: Duration::from_secs(60),
            relist_interval: Duration::from_secs(1),
            sync_interval: Duration::from_secs(60),
            server_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            server_port: DEFAULT_KUBELET_PORT,
            client_ca_pem: None,
        }
    }

    /// Where a pod's own files (volumes, hosts file) live.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root_dir.join("pods").join(uid)
    }

    /// Where a pod's container logs go (upstream: `/var/log/pods/<ns>_<name>_<uid>`).
    pub fn pod_log_dir(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.root_dir
            .join("logs")
            .join("pods")
            .join(format!("{namespace}_{name}_{uid}"))
    }
}
