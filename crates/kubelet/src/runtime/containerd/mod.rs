//! A private containerd for the node, started and supervised by the agent.
//!
//! [`Containerd::start`] writes a generated `config.toml` under the instance's root (private
//! root, state, sockets and runc root; overlayfs; cgroupfs; `restrict_oom_score_adj`; stream
//! server on 127.0.0.1 with a random port; `certs.d` registry hosts), clears what an earlier
//! run left behind, starts `containerd --config …` with its output appended to
//! `<root>/containerd.log`, and returns once the CRI socket answers `Version`. A supervisor
//! task then restarts containerd with backoff whenever it dies; pods survive that because each
//! runs under its own shim. [`Containerd::stop`] terminates exactly the PID it started.

mod config;
mod error;
mod launch;
mod stale;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::ContainerdConfig;
pub use error::ContainerdError;

use crate::cri::{Cri, CriConnectError};

/// What the supervisor last saw of its containerd.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerdStatus {
    /// The PID of the running process (`None` while it is down or being restarted).
    pub pid: Option<u32>,
    /// Whether the current process answered `Version` and has not exited since.
    pub ready: bool,
    /// How many times it was restarted after dying.
    pub restarts: u32,
}

/// A running, supervised private containerd. Dropping the handle without [`stop`](Self::stop)
/// still stops it (gracefully while the tokio runtime lives, SIGKILL if the runtime goes too).
#[derive(Debug)]
pub struct Containerd {
    config: Arc<ContainerdConfig>,
    status: watch::Receiver<ContainerdStatus>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<Option<ExitStatus>, ContainerdError>>,
}

impl Containerd {
    /// Prepares the instance's directory and config, starts containerd and waits until its CRI
    /// socket answers (at most `config.start_timeout`), then supervises it in the background.
    pub async fn start(config: ContainerdConfig) -> Result<Self, ContainerdError> {
        launch::prepare(&config).await?;
        let running = launch::launch(&config).await?;
        let (status_tx, status) = watch::channel(ContainerdStatus {
            pid: Some(running.pid),
            ready: true,
            restarts: 0,
        });
        let (stop, stop_rx) = watch::channel(false);
        let config = Arc::new(config);
        let supervisor = supervisor::Supervisor {
            cfg: config.clone(),
            status: status_tx,
            stop: stop_rx,
        };
        let task = tokio::spawn(supervisor.run(running));
        Ok(Self {
            config,
            status,
            stop,
            task,
        })
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &ContainerdConfig {
        &self.config
    }

    /// The CRI socket (also containerd's own API, e.g. for `ctr -a`).
    pub fn socket(&self) -> PathBuf {
        self.config.socket_path()
    }

    /// The PID of the current containerd process, if one is running.
    pub fn pid(&self) -> Option<u32> {
        self.status.borrow().pid
    }

    /// The supervisor's current view.
    pub fn status(&self) -> ContainerdStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change (restarts, readiness).
    pub fn watch_status(&self) -> watch::Receiver<ContainerdStatus> {
        self.status.clone()
    }

    /// Connects CRI clients to the socket, retrying for up to `wait`.
    pub async fn connect(&self, wait: Duration) -> Result<Cri, CriConnectError> {
        Cri::connect(&self.config.socket_path(), wait).await
    }

    /// Stops supervising and terminates the containerd process we started (SIGTERM, then
    /// SIGKILL after `config.stop_timeout`). Returns its exit status, or `None` if it was
    /// down (between restarts) at that moment. Pods keep running in their shims.
    pub async fn stop(self) -> Result<Option<ExitStatus>, ContainerdError> {
        // The receiver lives in the task until it returns, so this cannot fail while it runs.
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(ContainerdError::Supervisor(e.to_string())),
        }
    }
}
