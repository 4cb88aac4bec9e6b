//! `emptyDir`: a directory that lives as long as the pod, on disk or in memory (tmpfs).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::EmptyDirVolumeSource;
use nix::mount::{MntFlags, MsFlags};

use super::{VolumeError, volume_dir};
use rkube_api::validation::quantity::Quantity as Parsed;

const PLUGIN: &str = "kubernetes.io~empty-dir";

/// Creates the directory (mounting a tmpfs for `medium: Memory`) and returns it.
pub fn setup(
    pod_dir: &Path,
    name: &str,
    source: &EmptyDirVolumeSource,
) -> Result<PathBuf, VolumeError> {
    let dir = volume_dir(pod_dir, PLUGIN, name);
    std::fs::create_dir_all(&dir).map_err(VolumeError::io(format!("create emptyDir {name}")))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
        .map_err(VolumeError::io(format!("chmod emptyDir {name}")))?;
    if source.medium.as_deref() == Some("Memory") && !is_mount_point(&dir) {
        let size = source
            .size_limit
            .as_ref()
            .and_then(|q| Parsed::parse(&q.0).ok().flatten())
            .map(|q| format!("size={}", q.scaled_value(0)));
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            size.as_deref(),
        )
        .map_err(|e| VolumeError::Io {
            what: format!("mount tmpfs for emptyDir {name}"),
            source: e.into(),
        })?;
    }
    Ok(dir)
}

/// Unmounts every memory-backed emptyDir of the pod.
pub fn unmount_all(pod_dir: &Path) {
    let base = pod_dir.join("volumes").join(PLUGIN);
    for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
        if is_mount_point(&e.path())
            && let Err(err) = nix::mount::umount2(&e.path(), MntFlags::MNT_DETACH)
        {
            tracing::warn!(dir = %e.path().display(), error = %err, "emptyDir unmount failed");
        }
    }
}

/// Whether `dir` is a mount point (listed in /proc/self/mountinfo).
pub fn is_mount_point(dir: &Path) -> bool {
    let Ok(canon) = dir.canonicalize() else {
        return false;
    };
    let target = canon.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_and_memory_media() {
        let pod_dir = tempfile::tempdir().unwrap();
        let disk = setup(pod_dir.path(), "scratch", &EmptyDirVolumeSource::default()).unwrap();
        assert!(disk.is_dir() && !is_mount_point(&disk));
        let mem = setup(
            pod_dir.path(),
            "ram",
            &EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
                    "16Mi".into(),
                )),
            },
        )
        .unwrap();
        assert!(is_mount_point(&mem), "tmpfs mounted");
        std::fs::write(mem.join("f"), b"x").unwrap();
        unmount_all(pod_dir.path());
        assert!(!is_mount_point(&mem));
        assert!(
            !mem.join("f").exists(),
            "memory contents went with the mount"
        );
    }
}
