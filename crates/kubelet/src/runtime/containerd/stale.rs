//! Stopping a containerd that an earlier run of ours left behind (the agent was killed, so
//! nobody stopped it): the pid file names it, and it is signalled only if that PID still runs
//! containerd with *our* config file — never by name.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{ContainerdConfig, ContainerdError};

/// How long to wait after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Stops the instance named by the pid file if it is still ours and running.
pub(super) async fn stop_left_behind(cfg: &ContainerdConfig) -> Result<(), ContainerdError> {
    let pid_file = cfg.pid_file();
    let text = match tokio::fs::read_to_string(&pid_file).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ContainerdError::io("read pid file", &pid_file)(e)),
    };
    let pid = text.trim().parse::<i32>().ok().filter(|p| *p > 1);
    if let Some(pid) = pid.filter(|p| runs_config(*p, &cfg.config_file())) {
        tracing::warn!(pid, "stopping containerd left running by an earlier run");
        signal(pid, Signal::SIGTERM)?;
        if !wait_gone(pid, cfg.stop_timeout).await {
            tracing::warn!(pid, "containerd ignored SIGTERM; sending SIGKILL");
            signal(pid, Signal::SIGKILL)?;
            if !wait_gone(pid, KILL_WAIT).await {
                return Err(ContainerdError::StaleInstance { pid, pid_file });
            }
        }
    }
    match tokio::fs::remove_file(&pid_file).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ContainerdError::io("remove pid file", &pid_file)(e)),
    }
}

/// Sends `sig` to `pid`; a process that is already gone is fine.
pub(super) fn signal(pid: i32, sig: Signal) -> Result<(), ContainerdError> {
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(source) => Err(ContainerdError::Signal { pid, source }),
    }
}

/// Whether `pid` is a live containerd started with `--config <config>`.
fn runs_config(pid: i32, config: &Path) -> bool {
    if gone(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_containerd = args
        .first()
        .and_then(|a| a.rsplit(|b| *b == b'/').next())
        .is_some_and(|name| name == b"containerd");
    let config = config.as_os_str().as_encoded_bytes();
    is_containerd
        && args
            .windows(2)
            .any(|w| w[0] == b"--config" && w[1] == config)
}

/// Whether `pid` no longer runs (absent, or a zombie waiting for its parent).
fn gone(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // "<pid> (<comm>) <state> …": comm may contain anything, so look after the last ')'.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next());
    matches!(state, Some('Z' | 'X') | None)
}

async fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gone(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_not_containerd() {
        let me = i32::try_from(std::process::id()).expect("pid fits i32");
        assert!(!gone(me));
        assert!(!runs_config(me, Path::new("/nonexistent/config.toml")));
        assert!(gone(i32::MAX));
    }
}
