//! What a node's containerd can leave behind when a test ends: a shim (and its container
//! processes) started for a pod the kubelet created after the last sandbox removal — shims
//! outlive containerd by design — and the mounts of its rootfs. Found by the test's own data
//! dirs (a shim names its containerd's socket), so only what this test started is touched.

use std::path::Path;

/// The PIDs of containerd shims whose containerd socket is under one of `dirs`.
fn shims_under(dirs: &[&Path]) -> Vec<i32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let is_shim = args
                .first()
                .is_some_and(|a| a.ends_with(b"containerd-shim-runc-v2"));
            is_shim
                && args.windows(2).any(|w| {
                    w[0] == b"-address"
                        && dirs
                            .iter()
                            .any(|d| w[1].starts_with(d.as_os_str().as_encoded_bytes()))
                })
        })
        .collect()
}

/// The direct children of `parent`.
fn children(parent: i32) -> Vec<i32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid …`: the comm may hold spaces, so split after its `)`.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Kills the container processes and shims left under `dirs` (each container's first
/// process takes its PID namespace with it), then detaches any mount left under them so the
/// directories can be removed.
pub fn remove(dirs: &[&Path]) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    for shim in shims_under(dirs) {
        for child in children(shim) {
            let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(shim), Signal::SIGKILL);
    }
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    // Field 5 is the mount point; the deepest first.
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| dirs.iter().any(|d| Path::new(p).starts_with(d)))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = std::process::Command::new("umount")
            .args(["-l", p])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_shims_under_the_given_dirs() {
        // This test process is no shim, and no shim uses a directory made just now.
        let dir = tempfile::tempdir().unwrap();
        assert!(shims_under(&[dir.path()]).is_empty());
        // Our own children: none, while a `sleep` we start is one.
        let mut sleep = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        assert!(children(me).contains(&(sleep.id() as i32)));
        sleep.kill().unwrap();
        sleep.wait().unwrap();
    }
}
