//! Starting one containerd process: preparing its directory and config, clearing what an
//! earlier run left (a stale socket file, an instance named by the pid file), spawning it with
//! its output appended to the log, and waiting until its CRI socket answers `Version`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::{ContainerdConfig, ContainerdError};
use crate::cri::Cri;

/// How long one `Version` probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// How many lines of the log a startup error quotes.
const LOG_TAIL_LINES: usize = 20;

/// A containerd process that answered `Version`.
#[derive(Debug)]
pub(super) struct Running {
    /// The child (never reaped by anyone else, so its PID cannot be reused under us).
    pub child: Child,
    /// Its PID.
    pub pid: u32,
    /// When it was spawned.
    pub started: Instant,
}

/// Creates the directories, writes `config.toml` and stops an instance an earlier run of ours
/// left behind (named by the pid file and still running with our config).
pub(super) async fn prepare(cfg: &ContainerdConfig) -> Result<(), ContainerdError> {
    cfg.check_socket_paths()?;
    for dir in cfg.dirs() {
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(ContainerdError::io("create directory", &dir))?;
    }
    let toml = cfg.render()?;
    let path = cfg.config_file();
    tokio::fs::write(&path, toml)
        .await
        .map_err(ContainerdError::io("write config", &path))?;
    super::stale::stop_left_behind(cfg).await
}

/// Spawns containerd and waits until it serves CRI; on failure the process is killed again.
pub(super) async fn launch(cfg: &ContainerdConfig) -> Result<Running, ContainerdError> {
    // A socket file left by an instance that died would accept nothing (or, worse, belong to
    // an instance that still runs): remove it so only the new process can answer on the path.
    for sock in [cfg.socket_path(), cfg.ttrpc_socket_path()] {
        match tokio::fs::remove_file(&sock).await {
            Ok(()) => tracing::debug!(path = ?sock, "removed stale socket file"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ContainerdError::io("remove stale socket", &sock)(e)),
        }
    }
    let log_path = cfg.log_file();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(ContainerdError::io("open log", &log_path))?;
    let stamp = jiff::Timestamp::now();
    writeln!(
        log,
        "--- rkube: starting {} at {stamp}",
        cfg.containerd_bin.display()
    )
    .map_err(ContainerdError::io("write log", &log_path))?;
    let stderr = log
        .try_clone()
        .map_err(ContainerdError::io("open log", &log_path))?;

    let mut child = Command::new(&cfg.containerd_bin)
        .arg("--config")
        .arg(cfg.config_file())
        .env("PATH", path_with_sbin())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(stderr))
        // Its own process group: a terminal's Ctrl-C reaches the agent, which stops it in order.
        .process_group(0)
        // Last resort if the supervisor is dropped without stopping it.
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ContainerdError::Spawn {
            binary: cfg.containerd_bin.clone(),
            source,
        })?;
    let started = Instant::now();
    let Some(pid) = child.id() else {
        // Cannot happen for a child nobody has waited for yet; treat it as an early exit.
        let status = child
            .wait()
            .await
            .map_err(|source| ContainerdError::Wait { pid: 0, source })?;
        return Err(exited(cfg, status).await);
    };
    let pid_file = cfg.pid_file();
    if let Err(e) = tokio::fs::write(&pid_file, format!("{pid}\n")).await {
        kill_and_reap(&mut child).await;
        return Err(ContainerdError::io("write pid file", &pid_file)(e));
    }
    match wait_ready(cfg, &mut child).await {
        Ok(()) => {
            tracing::info!(pid, socket = ?cfg.socket_path(), elapsed = ?started.elapsed(), "containerd ready");
            Ok(Running {
                child,
                pid,
                started,
            })
        }
        Err(e) => {
            kill_and_reap(&mut child).await;
            let _ = tokio::fs::remove_file(&pid_file).await;
            Err(e)
        }
    }
}

/// Polls `Version` on the socket until it answers, the child exits or the timeout passes.
async fn wait_ready(cfg: &ContainerdConfig, child: &mut Child) -> Result<(), ContainerdError> {
    let socket = cfg.socket_path();
    let start = Instant::now();
    let mut last_error = String::from("socket not created yet");
    loop {
        if let Some(status) = child.try_wait().map_err(|source| ContainerdError::Wait {
            pid: child.id().unwrap_or(0),
            source,
        })? {
            return Err(exited(cfg, status).await);
        }
        if socket.exists() {
            match probe(&socket).await {
                Ok(()) => return Ok(()),
                Err(Probe::NoCri(message)) => {
                    return Err(ContainerdError::CriUnavailable {
                        socket,
                        message,
                        log: cfg.log_file(),
                    });
                }
                Err(Probe::NotYet(e)) => last_error = e,
            }
        }
        if start.elapsed() >= cfg.start_timeout {
            return Err(ContainerdError::NotReady {
                socket,
                waited: start.elapsed(),
                last_error,
                log: cfg.log_file(),
            });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Why a readiness probe failed.
enum Probe {
    /// Not (yet) answering: keep polling.
    NotYet(String),
    /// Answering without the CRI service: give up.
    NoCri(String),
}

/// One connect + `Version` call.
async fn probe(socket: &Path) -> Result<(), Probe> {
    let mut cri = Cri::connect(socket, Duration::ZERO)
        .await
        .map_err(|e| Probe::NotYet(e.to_string()))?;
    let req = k8s_cri::v1::VersionRequest {
        version: "v1".into(),
    };
    match tokio::time::timeout(PROBE_TIMEOUT, cri.runtime.version(req)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
            Err(Probe::NoCri(status.message().to_owned()))
        }
        Ok(Err(status)) => Err(Probe::NotYet(format!("Version: {status}"))),
        Err(_) => Err(Probe::NotYet(format!(
            "Version: no answer within {PROBE_TIMEOUT:?}"
        ))),
    }
}

async fn exited(cfg: &ContainerdConfig, status: std::process::ExitStatus) -> ContainerdError {
    let log = cfg.log_file();
    let text = tokio::fs::read(&log).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let log_tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
    ContainerdError::ExitedDuringStartup {
        status,
        log,
        log_tail,
    }
}

/// SIGKILLs our child and reaps it (errors ignored: it may be gone already).
async fn kill_and_reap(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

/// `$PATH` with the sbin directories added: the CNI plugins run `iptables` from it.
fn path_with_sbin() -> OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<_> = std::env::split_paths(&current).collect();
    for extra in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !dirs.iter().any(|d| d == Path::new(extra)) {
            dirs.push(extra.into());
        }
    }
    std::env::join_paths(dirs).unwrap_or(current)
}
