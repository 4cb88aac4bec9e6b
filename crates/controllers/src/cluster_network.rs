//! The cluster's address plan as the controllers need it (upstream's kube-controller-manager
//! `--cluster-cidr` and `--node-cidr-mask-size`; k3s/MetalLB's load-balancer pool).

/// Address ranges the controllers hand out from.
#[derive(Clone, Debug)]
pub struct ClusterNetwork {
    /// Pod addresses, split into one range per node (default 10.42.0.0/16 as k3s).
    pub cluster_cidr: String,
    /// The prefix length of each node's range (default 24).
    pub node_cidr_mask_size: u8,
    /// Where LoadBalancer Services get their address (an IPv4 CIDR or `first-last` range);
    /// unset, they get the addresses of the Ready nodes as k3s's ServiceLB does.
    pub load_balancer_pool: Option<String>,
}

impl Default for ClusterNetwork {
    fn default() -> Self {
        ClusterNetwork {
            cluster_cidr: "10.42.0.0/16".into(),
            node_cidr_mask_size: 24,
            load_balancer_pool: None,
        }
    }
}
