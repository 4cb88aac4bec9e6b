//! host-gw routing: `<other node's podCIDR> via <its InternalIP>` for every other node. Our
//! routes carry their own routing protocol number so we find (and remove) exactly ours.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Node;
use kube::ResourceExt;
use tokio::process::Command;

use crate::runtime::cni::Ipv4Cidr;

/// The `proto` our routes are installed with (an unassigned number in rt_protos).
pub const ROUTE_PROTO: u8 = 157;

/// Why the routes could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// `ip` could not be run.
    #[error("running ip: {0}")]
    Spawn(#[from] std::io::Error),
    /// `ip` refused the change (e.g. a gateway not on a connected network).
    #[error("ip {args}: {stderr}")]
    Ip {
        /// The arguments given.
        args: String,
        /// What it printed.
        stderr: String,
    },
    /// `ip -j route` printed something unreadable.
    #[error("unreadable route list: {0}")]
    Parse(#[from] serde_json::Error),
}

/// The routes this node wants: every other node's podCIDR through its first InternalIPv4.
/// Nodes without either are skipped; so is a podCIDR that is this node's own.
pub fn desired_routes<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    own_name: &str,
) -> BTreeMap<Ipv4Cidr, Ipv4Addr> {
    let mut out = BTreeMap::new();
    for node in nodes {
        if node.name_any() == own_name {
            continue;
        }
        let Some(cidr) = node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref())
            .and_then(|c| c.parse::<Ipv4Cidr>().ok())
        else {
            continue;
        };
        let ip = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .filter(|a| a.type_ == "InternalIP")
            .find_map(|a| a.address.parse::<Ipv4Addr>().ok());
        if let Some(ip) = ip {
            out.insert(cidr, ip);
        }
    }
    out
}

/// Installs and removes our routes with iproute2.
#[derive(Clone, Debug, Default)]
pub struct HostGwRoutes {
    /// Gateways refused last time, so a node we cannot reach directly (another network,
    /// a simulated node) is reported once rather than every sync.
    refused: BTreeMap<Ipv4Cidr, Ipv4Addr>,
}

impl HostGwRoutes {
    /// The routes of ours the kernel has now.
    pub async fn installed(&self) -> Result<BTreeMap<Ipv4Cidr, Ipv4Addr>, RouteError> {
        let proto = ROUTE_PROTO.to_string();
        let out = run(&["-4", "-j", "route", "show", "proto", &proto]).await?;
        let list: Vec<serde_json::Value> = if out.trim().is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(&out)?
        };
        Ok(list
            .iter()
            .filter_map(|r| {
                let dst = r.get("dst")?.as_str()?.parse::<Ipv4Cidr>().ok()?;
                let via = r.get("gateway")?.as_str()?.parse().ok()?;
                Some((dst, via))
            })
            .collect())
    }

    /// Makes the kernel's routes of ours equal `want`; returns how many it changed. A route
    /// the kernel refuses is skipped (logged the first time) and the rest still applied.
    pub async fn sync(&mut self, want: &BTreeMap<Ipv4Cidr, Ipv4Addr>) -> Result<usize, RouteError> {
        let have = self.installed().await?;
        let proto = ROUTE_PROTO.to_string();
        let mut changed = 0;
        for (dst, via) in want {
            if have.get(dst) == Some(via) {
                continue;
            }
            let (d, v) = (dst.to_string(), via.to_string());
            match run(&["-4", "route", "replace", &d, "via", &v, "proto", &proto]).await {
                Ok(_) => {
                    self.refused.remove(dst);
                    changed += 1;
                    tracing::info!(pod_cidr = %d, via = %v, "route to another node's pods installed");
                }
                Err(e) => {
                    if self.refused.insert(*dst, *via) != Some(*via) {
                        tracing::warn!(pod_cidr = %d, via = %v, error = %e, "no route to that node's pods");
                    }
                }
            }
        }
        for dst in have.keys().filter(|d| !want.contains_key(d)) {
            let d = dst.to_string();
            run(&["-4", "route", "del", &d, "proto", &proto]).await?;
            changed += 1;
            tracing::info!(pod_cidr = %d, "route to a removed node's pods deleted");
        }
        self.refused.retain(|d, _| want.contains_key(d));
        Ok(changed)
    }
}

async fn run(args: &[&str]) -> Result<String, RouteError> {
    let out = Command::new("ip").args(args).output().await?;
    if !out.status.success() {
        return Err(RouteError::Ip {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cidr: Option<&str>, ip: Option<&str>) -> Node {
        let addresses: Vec<_> = ip
            .into_iter()
            .map(|a| json!({"type": "InternalIP", "address": a}))
            .chain([json!({"type": "Hostname", "address": name})])
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"podCIDR": cidr},
            "status": {"addresses": addresses},
        }))
        .unwrap()
    }

    #[test]
    fn every_other_node_with_a_cidr_and_an_address_gets_a_route() {
        let nodes = [
            node("me", Some("10.42.0.0/24"), Some("10.250.0.1")),
            node("b", Some("10.42.1.0/24"), Some("10.250.0.2")),
            node("no-cidr", None, Some("10.250.0.3")),
            node("no-ip", Some("10.42.3.0/24"), None),
            node("v6", Some("10.42.4.0/24"), Some("fd00::4")),
        ];
        let want = desired_routes(&nodes, "me");
        assert_eq!(
            want.into_iter()
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
            vec![("10.42.1.0/24".to_string(), "10.250.0.2".to_string())]
        );
    }
}
