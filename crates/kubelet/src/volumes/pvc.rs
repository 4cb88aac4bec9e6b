//! `persistentVolumeClaim`: the claim's bound PersistentVolume, when it is a `hostPath` or
//! `local` volume on this node.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod,
};
use kube::Api;

use super::VolumeError;
use crate::pods::lookups::Lookups;

/// The host path backing `claim` and whether the PV is read-only.
pub async fn resolve(
    lookups: &Lookups,
    pod: &Pod,
    claim: &PersistentVolumeClaimVolumeSource,
) -> Result<(PathBuf, bool), VolumeError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(lookups.client().clone(), ns);
    let pvc = claims.get_opt(&claim.claim_name).await?.ok_or_else(|| {
        VolumeError::Missing(format!(
            "persistentvolumeclaim \"{}\" not found",
            claim.claim_name
        ))
    })?;
    let pv_name = pvc
        .spec
        .and_then(|s| s.volume_name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            VolumeError::Missing(format!(
                "persistentvolumeclaim \"{}\" is not bound",
                claim.claim_name
            ))
        })?;
    let pvs: Api<PersistentVolume> = Api::all(lookups.client().clone());
    let pv = pvs
        .get_opt(&pv_name)
        .await?
        .ok_or_else(|| VolumeError::Missing(format!("persistentvolume \"{pv_name}\" not found")))?;
    let spec = pv.spec.unwrap_or_default();
    let read_only = spec
        .access_modes
        .iter()
        .flatten()
        .all(|m| m == "ReadOnlyMany");
    if let Some(h) = spec.host_path {
        let path = super::host_path::setup(&h)?;
        return Ok((path, read_only));
    }
    if let Some(l) = spec.local {
        return Ok((PathBuf::from(l.path), read_only));
    }
    Err(VolumeError::Unsupported(format!(
        "persistentvolume \"{pv_name}\": only hostPath and local volumes are supported on this node"
    )))
}
