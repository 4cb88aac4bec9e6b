//! The proxy's typed configuration with upstream's defaults (kube-proxy's
//! `KubeProxyConfiguration`: minSyncPeriod 1 s, syncPeriod 30 s, masqueradeBit 14) and the
//! k3s-style CIDRs the rest of rkube uses.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cidr::{Ipv4Cidr, parse_ipv4_list};
use crate::error::ProxyError;

/// Upstream's nftables table name.
pub const DEFAULT_TABLE: &str = "kube-proxy";

/// How a node's proxy is set up.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// This node's name: endpoints whose `nodeName` equals it are local (traffic policy Local).
    pub node_name: String,
    /// This node's addresses (LoadBalancer source ranges allow the node itself when one of
    /// them is inside a range, as upstream).
    pub node_ips: Vec<IpAddr>,
    /// The pod network (comma-separated CIDRs; IPv6 entries ignored). Traffic to a ClusterIP
    /// from outside it is masqueraded; external traffic from inside it short-circuits Local
    /// policy. Empty: every ClusterIP connection is masqueraded (upstream's masqueradeAll).
    pub cluster_cidr: String,
    /// The Service network (comma-separated CIDRs): traffic to unallocated addresses in it is
    /// dropped, as upstream.
    pub service_cidr: String,
    /// Addresses accepting NodePort traffic, as CIDRs. `None`: every local address, including
    /// 127.0.0.1 (which needs `route_localnet`, set by [`crate::Proxy::start`]).
    pub nodeport_addresses: Option<Vec<String>>,
    /// The nftables table (family `ip`) the proxy owns.
    pub table: String,
    /// The network namespace to program (`/var/run/netns/NAME`); `None`: the process's own.
    /// nft, conntrack, ip and sysctl then run through `nsenter --net=PATH`.
    pub netns: Option<PathBuf>,
    /// The minimum time between two syncs (bursts of 2 are allowed, as upstream's runner).
    pub min_sync_period: Duration,
    /// How often a sync runs even without changes (it also checks the table for tampering and
    /// repairs it with a full sync); also the upper bound of the retry backoff.
    pub sync_period: Duration,
    /// How often a full (rewrite-everything) sync runs without any other reason.
    pub full_sync_period: Duration,
    /// The packet mark bit used to flag connections for masquerade.
    pub masquerade_bit: u8,
    /// Masquerade every connection to a ClusterIP.
    pub masquerade_all: bool,
    /// Set `net.ipv4.conf.all.route_localnet=1` so NodePorts answer on 127.0.0.1 (only when
    /// `nodeport_addresses` admits loopback).
    pub localhost_nodeports: bool,
    /// The nft binary.
    pub nft_path: PathBuf,
    /// The conntrack binary.
    pub conntrack_path: PathBuf,
}

impl ProxyConfig {
    /// The defaults for node `node_name`.
    pub fn new(node_name: impl Into<String>) -> ProxyConfig {
        ProxyConfig {
            node_name: node_name.into(),
            node_ips: Vec::new(),
            cluster_cidr: "10.42.0.0/16".into(),
            service_cidr: "10.43.0.0/16".into(),
            nodeport_addresses: None,
            table: DEFAULT_TABLE.into(),
            netns: None,
            min_sync_period: Duration::from_secs(1),
            sync_period: Duration::from_secs(30),
            full_sync_period: Duration::from_secs(3600),
            masquerade_bit: 14,
            masquerade_all: false,
            localhost_nodeports: true,
            nft_path: "nft".into(),
            conntrack_path: "conntrack".into(),
        }
    }

    /// Checks and parses the fields rule generation needs.
    pub fn validate(&self) -> Result<Validated, ProxyError> {
        let bad = |field: &str, msg: String| ProxyError::Config(format!("{field}: {msg}"));
        let cluster_cidrs =
            parse_ipv4_list(&self.cluster_cidr).map_err(|e| bad("clusterCIDR", e))?;
        let service_cidrs =
            parse_ipv4_list(&self.service_cidr).map_err(|e| bad("serviceCIDR", e))?;
        let nodeport_cidrs = match &self.nodeport_addresses {
            None => None,
            Some(list) => {
                Some(parse_ipv4_list(&list.join(",")).map_err(|e| bad("nodePortAddresses", e))?)
            }
        };
        if self.masquerade_bit > 31 {
            return Err(bad("masqueradeBit", "must be within [0, 31]".into()));
        }
        if self.table.is_empty()
            || !self
                .table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return Err(bad(
                "table",
                format!("{:?} is not a plain nft name", self.table),
            ));
        }
        if self.sync_period.is_zero() {
            return Err(bad("syncPeriod", "must be greater than 0".into()));
        }
        Ok(Validated {
            cluster_cidrs,
            service_cidrs,
            nodeport_cidrs,
            masquerade_mark: 1u32 << self.masquerade_bit,
        })
    }
}

/// The parsed parts of a [`ProxyConfig`].
#[derive(Clone, Debug)]
pub struct Validated {
    /// IPv4 pod networks.
    pub cluster_cidrs: Vec<Ipv4Cidr>,
    /// IPv4 Service networks.
    pub service_cidrs: Vec<Ipv4Cidr>,
    /// NodePort address filter (`None`: all local addresses).
    pub nodeport_cidrs: Option<Vec<Ipv4Cidr>>,
    /// The masquerade mark value.
    pub masquerade_mark: u32,
}
