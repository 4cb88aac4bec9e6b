//! Volumes whose files come from API objects: `configMap`, `secret`, `downwardAPI` and
//! `projected` (any mix of those). Re-run on every sync, so updates reach running pods.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Pod, Volume};

use super::atomic_writer::{self, Payload};
use super::{VolumeError, volume_dir};
use crate::pods::env::{PodFacts, field_value, resource_value};
use crate::pods::lookups::Lookups;

const DEFAULT_MODE: i32 = 0o644;

/// Writes the volume's files and returns its directory.
pub async fn setup(
    pod: &Pod,
    v: &Volume,
    pod_dir: &Path,
    facts: &PodFacts,
    lookups: &mut Lookups,
) -> Result<PathBuf, VolumeError> {
    let mut files = BTreeMap::new();
    let plugin;
    if let Some(s) = &v.config_map {
        plugin = "kubernetes.io~configmap";
        let mode = s.default_mode.unwrap_or(DEFAULT_MODE);
        config_map(
            lookups,
            &s.name,
            s.items.as_deref(),
            s.optional,
            mode,
            &mut files,
        )
        .await?;
    } else if let Some(s) = &v.secret {
        plugin = "kubernetes.io~secret";
        let mode = s.default_mode.unwrap_or(DEFAULT_MODE);
        let name = s.secret_name.clone().unwrap_or_default();
        secret(
            lookups,
            &name,
            s.items.as_deref(),
            s.optional,
            mode,
            &mut files,
        )
        .await?;
    } else if let Some(s) = &v.downward_api {
        plugin = "kubernetes.io~downward-api";
        let mode = s.default_mode.unwrap_or(DEFAULT_MODE);
        downward(
            pod,
            s.items.as_deref().unwrap_or_default(),
            mode,
            facts,
            &mut files,
        )?;
    } else if let Some(p) = &v.projected {
        plugin = "kubernetes.io~projected";
        let mode = p.default_mode.unwrap_or(DEFAULT_MODE);
        for src in p.sources.iter().flatten() {
            if let Some(s) = &src.config_map {
                config_map(
                    lookups,
                    &s.name,
                    s.items.as_deref(),
                    s.optional,
                    mode,
                    &mut files,
                )
                .await?;
            }
            if let Some(s) = &src.secret {
                secret(
                    lookups,
                    &s.name,
                    s.items.as_deref(),
                    s.optional,
                    mode,
                    &mut files,
                )
                .await?;
            }
            if let Some(s) = &src.downward_api {
                downward(
                    pod,
                    s.items.as_deref().unwrap_or_default(),
                    mode,
                    facts,
                    &mut files,
                )?;
            }
            if let Some(s) = &src.service_account_token {
                let data = super::service_account_token::token(lookups.client(), pod, s).await?;
                files.insert(
                    s.path.clone(),
                    Payload {
                        data,
                        mode: mode as u32,
                    },
                );
            }
            if src.cluster_trust_bundle.is_some() {
                return Err(VolumeError::Unsupported(format!(
                    "volume {:?}: clusterTrustBundle projections are not supported yet",
                    v.name
                )));
            }
        }
    } else {
        return Err(VolumeError::Unsupported(format!(
            "volume {:?} has no source",
            v.name
        )));
    }
    let dir = volume_dir(pod_dir, plugin, &v.name);
    atomic_writer::write(&dir, &files)
        .map_err(VolumeError::io(format!("write volume {}", v.name)))?;
    Ok(dir)
}

fn add(
    files: &mut BTreeMap<String, Payload>,
    entries: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: i32,
    optional: bool,
    kind: &str,
) -> Result<(), VolumeError> {
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                match entries.get(&item.key) {
                    Some(data) => {
                        let m = item.mode.unwrap_or(mode) as u32;
                        files.insert(
                            item.path.clone(),
                            Payload {
                                data: data.clone(),
                                mode: m,
                            },
                        );
                    }
                    None if optional => {}
                    None => {
                        return Err(VolumeError::Missing(format!(
                            "{kind} references non-existent config key: {}",
                            item.key
                        )));
                    }
                }
            }
        }
        _ => {
            for (k, data) in entries {
                files.insert(
                    k,
                    Payload {
                        data,
                        mode: mode as u32,
                    },
                );
            }
        }
    }
    Ok(())
}

async fn config_map(
    lookups: &mut Lookups,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    mode: i32,
    files: &mut BTreeMap<String, Payload>,
) -> Result<(), VolumeError> {
    let optional = optional == Some(true);
    let Some(cm) = lookups.config_map(name).await? else {
        return if optional {
            Ok(())
        } else {
            Err(VolumeError::Missing(format!(
                "configmap \"{name}\" not found"
            )))
        };
    };
    let mut entries: BTreeMap<String, Vec<u8>> = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    entries.extend(
        cm.binary_data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0)),
    );
    add(files, entries, items, mode, optional, "configMap")
}

async fn secret(
    lookups: &mut Lookups,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: Option<bool>,
    mode: i32,
    files: &mut BTreeMap<String, Payload>,
) -> Result<(), VolumeError> {
    let optional = optional == Some(true);
    let Some(s) = lookups.secret(name).await? else {
        return if optional {
            Ok(())
        } else {
            Err(VolumeError::Missing(format!("secret \"{name}\" not found")))
        };
    };
    let entries = s
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    add(files, entries, items, mode, optional, "secret")
}

fn downward(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: i32,
    facts: &PodFacts,
    files: &mut BTreeMap<String, Payload>,
) -> Result<(), VolumeError> {
    for item in items {
        let text = if let Some(f) = &item.field_ref {
            field_value(pod, f, facts).map_err(|e| VolumeError::Unsupported(e.to_string()))?
        } else if let Some(r) = &item.resource_field_ref {
            let spec = pod.spec.clone().unwrap_or_default();
            let Some(container) = spec
                .containers
                .iter()
                .find(|c| Some(c.name.as_str()) == r.container_name.as_deref())
                .or(spec.containers.first())
            else {
                continue;
            };
            resource_value(pod, container, r, facts)
                .map_err(|e| VolumeError::Unsupported(e.to_string()))?
        } else {
            continue;
        };
        files.insert(
            item.path.clone(),
            Payload {
                data: text.into_bytes(),
                mode: item.mode.unwrap_or(mode) as u32,
            },
        );
    }
    Ok(())
}
