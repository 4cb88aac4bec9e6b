//! Removing a pod's cgroup directories: runc removes only each container's leaf, so the pod
//! level (`/kubepods/…/pod<uid>`) is the kubelet's to clean up in every hierarchy.

use std::path::Path;

/// The cgroupfs mount point.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Removes `parent` (e.g. `/kubepods/burstable/pod<uid>`) from every cgroup hierarchy where it
/// exists and is empty. Best effort: a busy or missing directory is left alone.
pub fn remove_pod_cgroup(parent: &str) {
    let Ok(hierarchies) = std::fs::read_dir(CGROUP_ROOT) else {
        return;
    };
    let relative = parent.trim_start_matches('/');
    for h in hierarchies.flatten() {
        let dir = h.path().join(relative);
        if dir.is_dir() {
            remove_tree(&dir);
        }
    }
}

/// cgroup directories are removed bottom-up with rmdir (their files cannot be unlinked).
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "pod cgroup not removed");
    }
}
