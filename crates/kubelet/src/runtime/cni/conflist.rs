//! The node's CNI network configuration: a `bridge` (gateway on the bridge, no plugin
//! masquerading, hairpin on) with `host-local` IPAM over the node's pod CIDR, `portmap` for
//! hostPorts, and `loopback`. CRI reloads the conf dir when the file appears or changes.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{CniError, Ipv4Cidr};

/// The pod network of one node.
#[derive(Clone, Debug)]
pub struct CniNetwork {
    /// The network name (libcni keys its cache by it), `rkube` by default.
    pub name: String,
    /// The Linux bridge the pods attach to, `cni0` by default.
    pub bridge: String,
    /// The node's pod CIDR, e.g. `10.42.0.0/24`.
    pub pod_cidr: Ipv4Cidr,
    /// host-local's lease directory (under the agent directory, e.g. `<agent>/cni/ipam`).
    pub ipam_data_dir: PathBuf,
    /// The bridge and veth MTU; the plugin's default (the host's) when `None`.
    pub mtu: Option<u32>,
}

impl CniNetwork {
    /// The `rkube` network on bridge `cni0` for `pod_cidr`, leases kept in `ipam_data_dir`.
    pub fn new(pod_cidr: &str, ipam_data_dir: impl Into<PathBuf>) -> Result<Self, CniError> {
        Ok(Self::for_cidr(pod_cidr.parse()?, ipam_data_dir))
    }

    /// The `rkube` network on bridge `cni0` for an already parsed `pod_cidr`.
    pub fn for_cidr(pod_cidr: Ipv4Cidr, ipam_data_dir: impl Into<PathBuf>) -> Self {
        Self {
            name: "rkube".into(),
            bridge: "cni0".into(),
            pod_cidr,
            ipam_data_dir: ipam_data_dir.into(),
            mtu: None,
        }
    }

    /// The conflist file name: `10-<name>.conflist`.
    pub fn file_name(&self) -> String {
        format!("10-{}.conflist", self.name)
    }

    /// The conflist document.
    pub fn conflist(&self) -> Result<Value, CniError> {
        self.validate()?;
        let data_dir = self
            .ipam_data_dir
            .to_str()
            .ok_or_else(|| CniError::NonUtf8Path(self.ipam_data_dir.clone()))?;
        let mut bridge = json!({
            "type": "bridge",
            "bridge": self.bridge,
            "isGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "ipam": {
                "type": "host-local",
                "dataDir": data_dir,
                "ranges": [[{
                    "subnet": self.pod_cidr.to_string(),
                    "gateway": self.pod_cidr.gateway().to_string(),
                }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
            },
        });
        if let (Some(mtu), Some(obj)) = (self.mtu, bridge.as_object_mut()) {
            obj.insert("mtu".into(), mtu.into());
        }
        Ok(json!({
            "cniVersion": "1.0.0",
            "name": self.name,
            "plugins": [
                bridge,
                { "type": "portmap", "capabilities": { "portMappings": true } },
                { "type": "loopback" },
            ],
        }))
    }

    /// Writes the conflist into `conf_dir` (created if missing) atomically: CRI watches the
    /// directory and must never read a half-written file. Returns the file's path.
    pub async fn write(&self, conf_dir: &Path) -> Result<PathBuf, CniError> {
        let body = serde_json::to_vec_pretty(&self.conflist()?)?;
        tokio::fs::create_dir_all(conf_dir)
            .await
            .map_err(|source| CniError::Io {
                action: "create directory",
                path: conf_dir.to_path_buf(),
                source,
            })?;
        let path = conf_dir.join(self.file_name());
        // Not a .conf/.conflist/.json name, so libcni ignores it until the rename.
        let tmp = conf_dir.join(format!(".{}.tmp", self.file_name()));
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| CniError::Io {
                action,
                path,
                source,
            }
        };
        tokio::fs::write(&tmp, body)
            .await
            .map_err(io("write", &tmp))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(io("rename to", &path))?;
        Ok(path)
    }

    fn validate(&self) -> Result<(), CniError> {
        let b = &self.bridge;
        if b.is_empty()
            || b.len() > 15
            || b.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
        {
            return Err(CniError::InvalidBridge(b.clone()));
        }
        let n = &self.name;
        if n.is_empty()
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(CniError::InvalidName(n.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_verified_conflist() {
        let net = CniNetwork::new("10.42.0.0/24", "/var/lib/rkube/agent/cni/ipam").expect("net");
        let v = net.conflist().expect("conflist");
        assert_eq!(v["cniVersion"], "1.0.0");
        let bridge = &v["plugins"][0];
        assert_eq!(bridge["bridge"], "cni0");
        assert_eq!(bridge["isGateway"], true);
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["hairpinMode"], true);
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.42.0.0/24");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["gateway"], "10.42.0.1");
        assert_eq!(bridge["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
        assert_eq!(bridge["ipam"]["dataDir"], "/var/lib/rkube/agent/cni/ipam");
        assert_eq!(v["plugins"][1]["capabilities"]["portMappings"], true);
        assert_eq!(v["plugins"][2]["type"], "loopback");
        assert_eq!(net.file_name(), "10-rkube.conflist");
    }

    #[test]
    fn rejects_bad_bridge_names() {
        let mut net = CniNetwork::new("10.42.0.0/24", "/x").expect("net");
        net.bridge = "a-very-long-bridge-name".into();
        assert!(matches!(net.conflist(), Err(CniError::InvalidBridge(_))));
    }
}
