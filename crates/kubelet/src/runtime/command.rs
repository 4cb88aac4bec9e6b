//! Running the helper programs of the runtime layer (`ctr`, `iptables`) with a deadline and
//! captured output. A program still running at the deadline is killed.

use std::ffi::OsStr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Command;

/// What a finished helper program printed and how it ended.
#[derive(Debug)]
pub struct CommandOutput {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output (lossily decoded as UTF-8).
    pub stdout: String,
    /// Its standard error (lossily decoded as UTF-8).
    pub stderr: String,
}

/// Why a helper program produced no result.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program could not be started (not installed, not executable).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program name.
        program: String,
        /// The error from exec.
        source: std::io::Error,
    },
    /// Waiting for the program or reading its output failed.
    #[error("waiting for {program} failed: {source}")]
    Wait {
        /// The program name.
        program: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The program did not finish before the deadline and was killed.
    #[error("{program} did not finish within {after:?}")]
    Timeout {
        /// The program name.
        program: String,
        /// The deadline.
        after: Duration,
    },
}

/// Runs `program args…` with no stdin, waits at most `timeout` and returns its output
/// whatever its exit status.
pub(crate) async fn run<I, S>(
    program: &OsStr,
    args: I,
    timeout: Duration,
) -> Result<CommandOutput, CommandError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let name = program.to_string_lossy().into_owned();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| CommandError::Spawn {
            program: name.clone(),
            source,
        })?;
    // Dropping the child on timeout kills it (kill_on_drop).
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(CommandOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
        Ok(Err(source)) => Err(CommandError::Wait {
            program: name,
            source,
        }),
        Err(_) => Err(CommandError::Timeout {
            program: name,
            after: timeout,
        }),
    }
}
