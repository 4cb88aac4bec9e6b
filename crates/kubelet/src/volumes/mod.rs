//! Pod volumes on the node: each volume of the pod spec becomes a host directory (or file)
//! that the runtime bind-mounts into containers.

pub mod atomic_writer;
pub mod empty_dir;
pub mod host_path;
pub mod projected;
pub mod pvc;
pub mod service_account_token;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Pod, Volume};

use crate::pods::env::PodFacts;
use crate::pods::lookups::Lookups;

/// Why a volume could not be set up (upstream's `FailedMount` event carries the message).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A referenced object (ConfigMap, Secret, PVC, PV) or key is missing.
    #[error("{0}")]
    Missing(String),
    /// A hostPath did not pass its type check.
    #[error("{0}")]
    HostPathType(String),
    /// The volume source is not supported on this node.
    #[error("{0}")]
    Unsupported(String),
    /// The node's filesystem refused.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The apiserver could not be asked.
    #[error("apiserver: {0}")]
    Api(#[from] kube::Error),
}

impl VolumeError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VolumeError {
        let what = what.into();
        move |source| VolumeError::Io { what, source }
    }
}

/// A volume ready on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// What containers mount.
    pub host_path: PathBuf,
    /// Whether the source forces read-only mounts.
    pub read_only: bool,
}

/// Where the pod's volumes live: `<pod dir>/volumes/<plugin>/<name>`.
pub fn volume_dir(pod_dir: &Path, plugin: &str, name: &str) -> PathBuf {
    pod_dir.join("volumes").join(plugin).join(name)
}

/// Sets up (or refreshes: ConfigMap and Secret contents reach running pods) every volume of
/// `pod`, returning them by name; a failure names its volume.
pub async fn prepare(
    pod: &Pod,
    pod_dir: &Path,
    facts: &PodFacts,
    lookups: &mut Lookups,
) -> Result<HashMap<String, Prepared>, (String, VolumeError)> {
    let mut out = HashMap::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let prepared = prepare_one(pod, v, pod_dir, facts, lookups)
            .await
            .map_err(|e| (v.name.clone(), e))?;
        out.insert(v.name.clone(), prepared);
    }
    Ok(out)
}

async fn prepare_one(
    pod: &Pod,
    v: &Volume,
    pod_dir: &Path,
    facts: &PodFacts,
    lookups: &mut Lookups,
) -> Result<Prepared, VolumeError> {
    let writable = |host_path: PathBuf| Prepared {
        host_path,
        read_only: false,
    };
    if let Some(e) = &v.empty_dir {
        return empty_dir::setup(pod_dir, &v.name, e).map(writable);
    }
    if let Some(h) = &v.host_path {
        return host_path::setup(h).map(writable);
    }
    if v.config_map.is_some()
        || v.secret.is_some()
        || v.downward_api.is_some()
        || v.projected.is_some()
    {
        let dir = projected::setup(pod, v, pod_dir, facts, lookups).await?;
        return Ok(Prepared {
            host_path: dir,
            read_only: true,
        });
    }
    if let Some(claim) = &v.persistent_volume_claim {
        let (path, ro) = pvc::resolve(lookups, pod, claim).await?;
        return Ok(Prepared {
            host_path: path,
            read_only: ro || claim.read_only == Some(true),
        });
    }
    Err(VolumeError::Unsupported(format!(
        "volume {:?}: this volume type is not supported on this node",
        v.name
    )))
}

/// Unmounts and removes everything under `<pod dir>/volumes` (hostPath and PV data are never
/// touched: they live elsewhere).
pub fn cleanup(pod_dir: &Path) {
    empty_dir::unmount_all(pod_dir);
    let _ = std::fs::remove_dir_all(pod_dir);
}
