//! Why a private containerd could not be started, supervised or stopped.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// An error of the containerd supervisor.
#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    /// A path that goes into the generated `config.toml` is not valid UTF-8.
    #[error("path {0:?} is not valid UTF-8 and cannot go into containerd's config")]
    NonUtf8Path(PathBuf),
    /// A socket path is longer than a unix socket address allows (107 bytes): choose a
    /// shorter root directory.
    #[error("socket path {path:?} is {len} bytes, longer than the 107 a unix socket allows")]
    SocketPathTooLong {
        /// The socket path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// Creating a directory, writing the config or pid file, or opening the log failed.
    #[error("{action} {path:?}: {source}")]
    Io {
        /// What was being done ("create directory", "write config", …).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The containerd binary could not be executed.
    #[error("cannot start {binary:?}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The error from exec.
        source: std::io::Error,
    },
    /// containerd exited before its CRI socket answered; the end of its log says why.
    #[error("containerd exited during startup ({status}); log {log:?} ends with:\n{log_tail}")]
    ExitedDuringStartup {
        /// How it exited.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },
    /// The CRI socket did not answer `Version` in time (the instance was killed again).
    #[error(
        "containerd's CRI socket {socket:?} not ready after {waited:?} (last error: {last_error}); see {log:?}"
    )]
    NotReady {
        /// The socket that was polled.
        socket: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// The last connect or `Version` error.
        last_error: String,
        /// containerd's log file.
        log: PathBuf,
    },
    /// containerd runs but does not serve CRI (`Version` is unimplemented): its CRI plugin
    /// failed to load, which does not fix itself; the log says why.
    #[error("containerd at {socket:?} does not serve CRI ({message}); see {log:?}")]
    CriUnavailable {
        /// The socket.
        socket: PathBuf,
        /// The gRPC error message.
        message: String,
        /// containerd's log file.
        log: PathBuf,
    },
    /// An instance left behind by an earlier run (named by the pid file) would not die.
    #[error("containerd pid {pid} left by an earlier run (pid file {pid_file:?}) did not exit")]
    StaleInstance {
        /// Its PID.
        pid: i32,
        /// The pid file that named it.
        pid_file: PathBuf,
    },
    /// Sending a signal to a containerd process failed.
    #[error("cannot signal containerd pid {pid}: {source}")]
    Signal {
        /// The PID.
        pid: i32,
        /// The errno from kill(2).
        source: nix::errno::Errno,
    },
    /// Waiting for our containerd child to exit failed.
    #[error("waiting for containerd pid {pid} failed: {source}")]
    Wait {
        /// The PID.
        pid: u32,
        /// The IO error.
        source: std::io::Error,
    },
    /// The supervisor task ended abnormally (it panicked or was cancelled).
    #[error("the containerd supervisor task failed: {0}")]
    Supervisor(String),
}

impl ContainerdError {
    pub(super) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
