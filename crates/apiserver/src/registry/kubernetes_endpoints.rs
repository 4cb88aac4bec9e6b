//! The `default/kubernetes` Service's Endpoints and EndpointSlice, which the apiserver keeps
//! itself (upstream's endpoint reconciler): the Service has no selector, so no controller
//! writes them, and in-cluster clients reach the apiserver through them.

use std::net::IpAddr;

use rkube_api::resources::find;
use rkube_api::status::ApiError;
use serde_json::{Value, json};

use super::meta::meta_str;
use super::{Registry, WriteOptions};

/// Where clients reach this apiserver: the bind address when it names one, else the host's
/// first IPv4 address (as k3s advertises the node IP), else loopback.
pub fn advertise_address(bind: IpAddr, host: &[IpAddr]) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    host.iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| host.first())
        .copied()
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn endpoints(ip: IpAddr, port: u16) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip.to_string()}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })
}

fn endpoint_slice(ip: IpAddr, port: u16) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": if ip.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [ip.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })
}

impl Registry {
    /// Writes the `kubernetes` Service's Endpoints and EndpointSlice pointing at `ip:port`
    /// unless they already do.
    pub async fn ensure_kubernetes_endpoints(&self, ip: IpAddr, port: u16) -> Result<(), ApiError> {
        let wanted = [
            (find("", "v1", "endpoints"), endpoints(ip, port), "subsets"),
            (
                find("discovery.k8s.io", "v1", "endpointslices"),
                endpoint_slice(ip, port),
                "endpoints",
            ),
        ];
        for (info, mut obj, content) in wanted {
            let info = info.expect("built-in resource");
            match self.get(info, Some("default"), "kubernetes").await {
                Ok(current) => {
                    if current[content] == obj[content] && current["ports"] == obj["ports"] {
                        continue;
                    }
                    obj["metadata"]["resourceVersion"] =
                        meta_str(&current, "resourceVersion").unwrap_or("").into();
                    self.update(
                        info,
                        Some("default"),
                        "kubernetes",
                        obj,
                        None,
                        WriteOptions::default(),
                    )
                    .await?;
                }
                Err(e) if e.code == 404 => {
                    match self
                        .create(info, Some("default"), obj, WriteOptions::default())
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if e.reason == "AlreadyExists" => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertised_address_prefers_the_bind_address_then_ipv4() {
        let v4: IpAddr = "10.0.0.5".parse().unwrap();
        let v6: IpAddr = "fd00::5".parse().unwrap();
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        assert_eq!(
            advertise_address("10.1.1.1".parse().unwrap(), &[v4]),
            "10.1.1.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(advertise_address(any, &[v6, v4]), v4);
        assert_eq!(advertise_address(any, &[v6]), v6);
        assert_eq!(advertise_address(any, &[]), IpAddr::from([127, 0, 0, 1]));
    }
}
