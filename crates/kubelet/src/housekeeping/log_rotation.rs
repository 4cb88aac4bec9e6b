//! Container log rotation: a running container's log file past `max_size` is renamed to
//! `<log>.<timestamp>` and the runtime reopens a fresh one (CRI ReopenContainerLog); at most
//! `max_files` files (the live one included) are kept.

use std::path::{Path, PathBuf};

use k8s_cri::v1 as cri;

use crate::cri::Cri;

/// Upstream's `containerLogMaxSize` (10Mi) and `containerLogMaxFiles` (5).
#[derive(Clone, Debug)]
pub struct LogPolicy {
    /// Rotate past this many bytes.
    pub max_size: u64,
    /// Files kept per container, the live one included.
    pub max_files: usize,
}

impl Default for LogPolicy {
    fn default() -> Self {
        Self {
            max_size: 10 << 20,
            max_files: 5,
        }
    }
}

/// Rotates every running container's log that is too big; returns how many were rotated.
pub async fn rotate_once(cri: &Cri, policy: &LogPolicy) -> Result<usize, tonic::Status> {
    let mut rt = cri.runtime.clone();
    let running = rt
        .list_containers(cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                state: Some(cri::ContainerStateValue {
                    state: cri::ContainerState::ContainerRunning as i32,
                }),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    let mut rotated = 0;
    for c in running {
        let Some(status) = rt
            .container_status(cri::ContainerStatusRequest {
                container_id: c.id.clone(),
                verbose: false,
            })
            .await?
            .into_inner()
            .status
        else {
            continue;
        };
        let log = PathBuf::from(&status.log_path);
        if status.log_path.is_empty()
            || std::fs::metadata(&log).map_or(0, |m| m.len()) <= policy.max_size
        {
            continue;
        }
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%d-%H%M%S%.f")
            .to_string();
        let target = PathBuf::from(format!("{}.{stamp}", log.display()));
        if let Err(e) = std::fs::rename(&log, &target) {
            tracing::warn!(log = %log.display(), error = %e, "log rotation rename failed");
            continue;
        }
        if let Err(e) = rt
            .reopen_container_log(cri::ReopenContainerLogRequest {
                container_id: c.id.clone(),
            })
            .await
        {
            // Put it back so the runtime keeps writing somewhere we read.
            let _ = std::fs::rename(&target, &log);
            return Err(e);
        }
        prune(&log, policy.max_files.saturating_sub(1));
        rotated += 1;
    }
    Ok(rotated)
}

/// The rotated files of `log`, oldest first.
pub fn rotated_files(log: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn prune(log: &Path, keep: usize) {
    let files = rotated_files(log);
    let excess = files.len().saturating_sub(keep);
    for f in files.into_iter().take(excess) {
        let _ = std::fs::remove_file(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.log");
        std::fs::write(&log, "live").unwrap();
        for s in ["20260101-000001", "20260101-000002", "20260101-000003"] {
            std::fs::write(dir.path().join(format!("0.log.{s}")), s).unwrap();
        }
        std::fs::write(dir.path().join("1.log"), "other container instance").unwrap();
        prune(&log, 2);
        let left: Vec<String> = rotated_files(&log)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["0.log.20260101-000002", "0.log.20260101-000003"]);
        assert!(log.exists() && dir.path().join("1.log").exists());
    }
}
