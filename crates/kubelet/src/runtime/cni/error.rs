//! Why the pod network configuration could not be written or the NAT rule installed.

use std::path::PathBuf;
use std::process::ExitStatus;

use crate::runtime::command::CommandError;

/// An error of the CNI helpers.
#[derive(Debug, thiserror::Error)]
pub enum CniError {
    /// The CIDR is not an IPv4 `a.b.c.d/n` with room for a gateway and pods (n ≤ 30).
    #[error("invalid IPv4 CIDR {0:?} for the pod network")]
    InvalidCidr(String),
    /// A Linux interface name must be 1–15 bytes without `/`, whitespace or `:`.
    #[error("invalid bridge name {0:?} (1-15 characters, no '/', ':' or whitespace)")]
    InvalidBridge(String),
    /// The network name must be non-empty and usable as a file name.
    #[error("invalid network name {0:?}")]
    InvalidName(String),
    /// A path that goes into the conflist is not valid UTF-8.
    #[error("path {0:?} is not valid UTF-8")]
    NonUtf8Path(PathBuf),
    /// Writing the conflist failed.
    #[error("{action} {path:?}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// Encoding the conflist failed.
    #[error("encoding the CNI conflist: {0}")]
    Json(#[from] serde_json::Error),
    /// `iptables` could not be run or timed out.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// `iptables` ran and failed.
    #[error("`iptables {args}` failed ({status}): {stderr}")]
    Iptables {
        /// The arguments, space-joined.
        args: String,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
}
