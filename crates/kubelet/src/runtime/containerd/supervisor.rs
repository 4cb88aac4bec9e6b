//! The supervisor task: waits on the containerd child, restarts it with exponential backoff
//! when it dies (its shims, and so the pods, keep running), and on request terminates exactly
//! the PID it started: SIGTERM, then SIGKILL after the stop timeout.

use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;

use super::launch::{Running, launch};
use super::stale::signal;
use super::{ContainerdConfig, ContainerdError, ContainerdStatus};

/// The state the supervisor task owns.
pub(super) struct Supervisor {
    pub cfg: Arc<ContainerdConfig>,
    pub status: watch::Sender<ContainerdStatus>,
    /// Becomes `true` (or closes, when the handle is dropped) to ask for a stop.
    pub stop: watch::Receiver<bool>,
}

impl Supervisor {
    /// Runs until a stop is requested; returns the exit status of the last process, or `None`
    /// when none was running at that moment.
    pub async fn run(
        mut self,
        mut running: Running,
    ) -> Result<Option<ExitStatus>, ContainerdError> {
        let mut delay = self.cfg.restart_backoff_initial;
        loop {
            let exit = tokio::select! {
                exit = running.child.wait() => exit,
                () = stop_requested(&mut self.stop) => return self.terminate(running).await.map(Some),
            };
            let ran_for = running.started.elapsed();
            let exit = match exit {
                Ok(status) => status.to_string(),
                Err(e) => format!("unknown ({e})"),
            };
            tracing::warn!(
                pid = running.pid,
                status = %exit,
                ?ran_for,
                log = ?self.cfg.log_file(),
                "containerd exited unexpectedly; restarting it (pods keep running in their shims)"
            );
            self.status.send_modify(|s| {
                s.pid = None;
                s.ready = false;
            });
            if ran_for >= self.cfg.restart_backoff_reset {
                delay = self.cfg.restart_backoff_initial;
            }
            running = loop {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop_requested(&mut self.stop) => return Ok(None),
                }
                delay = next_delay(delay, self.cfg.restart_backoff_max);
                match launch(&self.cfg).await {
                    Ok(r) => break r,
                    Err(e) => {
                        tracing::error!(error = %e, retry_in = ?delay, "restarting containerd failed")
                    }
                }
            };
            self.status.send_modify(|s| {
                s.pid = Some(running.pid);
                s.ready = true;
                s.restarts += 1;
            });
            tracing::info!(
                pid = running.pid,
                restarts = self.status.borrow().restarts,
                "containerd restarted"
            );
        }
    }

    /// SIGTERM to our child, SIGKILL after the stop timeout; reaps it and removes the pid file.
    async fn terminate(&self, mut running: Running) -> Result<ExitStatus, ContainerdError> {
        let pid = running.pid;
        let wait_err = |source| ContainerdError::Wait { pid, source };
        let status = match i32::try_from(pid) {
            Ok(raw) => {
                signal(raw, Signal::SIGTERM)?;
                match tokio::time::timeout(self.cfg.stop_timeout, running.child.wait()).await {
                    Ok(status) => status.map_err(wait_err)?,
                    Err(_) => {
                        tracing::warn!(pid, timeout = ?self.cfg.stop_timeout, "containerd ignored SIGTERM; sending SIGKILL");
                        let _ = running.child.start_kill();
                        running.child.wait().await.map_err(wait_err)?
                    }
                }
            }
            // A PID beyond i32 cannot exist; fall back to tokio's SIGKILL.
            Err(_) => {
                let _ = running.child.start_kill();
                running.child.wait().await.map_err(wait_err)?
            }
        };
        self.status.send_modify(|s| {
            s.pid = None;
            s.ready = false;
        });
        let _ = tokio::fs::remove_file(self.cfg.pid_file()).await;
        tracing::info!(pid, %status, "containerd stopped");
        Ok(status)
    }
}

/// Resolves when a stop was requested or the handle was dropped.
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The restart delay after `delay`: doubled, capped at `max`.
fn next_delay(delay: Duration, max: Duration) -> Duration {
    (delay * 2).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let max = Duration::from_secs(30);
        let mut d = Duration::from_millis(500);
        let mut seen = Vec::new();
        for _ in 0..8 {
            seen.push(d.as_millis());
            d = next_delay(d, max);
        }
        assert_eq!(seen, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    }
}
