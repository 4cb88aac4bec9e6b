//! Where a pod's kubelet is: the pod (and the container a request names, checked as upstream
//! checks it), its node, and the node's address and kubelet port.

use rkube_api::resources;
use rkube_api::status::ApiError;
use serde_json::Value;

use crate::handlers::App;

/// The address types tried, in order (k3s' `--kubelet-preferred-address-types`).
const PREFERRED_ADDRESS_TYPES: [&str; 3] = ["InternalIP", "ExternalIP", "Hostname"];
/// The kubelet port when the Node reports none.
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// A kubelet's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletAddr {
    /// Host (an IP address or a name).
    pub host: String,
    /// Port.
    pub port: u16,
}

/// The kubelet of node `name`; `port` overrides the Node's reported port.
pub async fn node(app: &App, name: &str, port: Option<u16>) -> Result<KubeletAddr, ApiError> {
    let nodes = resources::find("", "v1", "nodes").ok_or_else(ApiError::no_route)?;
    let node = app.registry.get(nodes, None, name).await?;
    kubelet_addr(&node, port)
}

/// The kubelet address a Node object reports.
pub fn kubelet_addr(node: &Value, port: Option<u16>) -> Result<KubeletAddr, ApiError> {
    let addresses = node["status"]["addresses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let host = PREFERRED_ADDRESS_TYPES
        .iter()
        .find_map(|t| {
            addresses
                .iter()
                .find(|a| a["type"] == *t)
                .and_then(|a| a["address"].as_str())
                .filter(|a| !a.is_empty())
        })
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .iter()
                .map(|a| {
                    format!(
                        "{{{} {}}}",
                        a["type"].as_str().unwrap_or(""),
                        a["address"].as_str().unwrap_or("")
                    )
                })
                .collect();
            unknown(format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            ))
        })?;
    let reported = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    Ok(KubeletAddr {
        host: host.to_string(),
        port: port.or(reported).unwrap_or(DEFAULT_KUBELET_PORT),
    })
}

/// A 500 whose reason is unknown (how upstream reports plain errors).
pub fn unknown(message: String) -> ApiError {
    ApiError {
        code: 500,
        reason: "",
        message,
        details: None,
    }
}

/// The container a pod request means: `requested`, which must exist in the pod, or the only
/// container; upstream's 400 otherwise.
pub fn container(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let names = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    let (init, regular, ephemeral) = (
        names("initContainers"),
        names("containers"),
        names("ephemeralContainers"),
    );
    match requested.filter(|c| !c.is_empty()) {
        Some(c) => {
            if init
                .iter()
                .chain(&regular)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None => match regular.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => {
                let all: Vec<String> = init.into_iter().chain(regular).chain(ephemeral).collect();
                Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    all.join(" ")
                )))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_as_upstream_validates_them() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {
            "initContainers": [{"name": "init"}], "containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(container(&pod, Some("init")).unwrap(), "init");
        assert_eq!(
            container(&pod, Some("x")).unwrap_err().message,
            "container x is not valid for pod p"
        );
        assert_eq!(
            container(&pod, None).unwrap_err().message,
            "a container name must be specified for pod p, choose one of: [init a b]"
        );
        let one = json!({"metadata": {"name": "q"}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(container(&one, Some("")).unwrap(), "c");
    }

    #[test]
    fn node_addresses_and_ports() {
        let node = json!({"status": {
            "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 41234}}}});
        assert_eq!(
            kubelet_addr(&node, None).unwrap(),
            KubeletAddr {
                host: "10.0.0.5".into(),
                port: 41234
            }
        );
        assert_eq!(kubelet_addr(&node, Some(1)).unwrap().port, 1);
        let bare = json!({"status": {"addresses": [{"type": "Hostname", "address": "n1"}]}});
        assert_eq!(kubelet_addr(&bare, None).unwrap().port, 10250);
        let none = json!({"status": {}});
        assert!(
            kubelet_addr(&none, None)
                .unwrap_err()
                .message
                .starts_with("no preferred addresses")
        );
    }
}
