//! Why an image could not be built, imported or checked.

use std::path::PathBuf;
use std::process::ExitStatus;

use crate::runtime::command::CommandError;

/// An error of the image helpers.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The busybox binary could not be read or run (`busybox --list`).
    #[error("busybox {path:?}: {source}")]
    Busybox {
        /// The binary.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// `busybox --list` failed or printed no applets.
    #[error("`{path:?} --list` failed ({status}): {stderr}")]
    BusyboxList {
        /// The binary.
        path: PathBuf,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file to put in the image has an unusable path (absolute after trimming, `..`, empty).
    #[error("invalid path in image: {0:?}")]
    InvalidPath(String),
    /// Writing the archive or reading a directory failed.
    #[error("{action} {path:?}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// Encoding the image's JSON documents failed.
    #[error("encoding image JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `ctr` could not be run or timed out.
    #[error("importing {archive:?}: {source}")]
    ImportCommand {
        /// The archive.
        archive: PathBuf,
        /// The command failure.
        source: CommandError,
    },
    /// `ctr images import` ran and failed (a corrupt archive, containerd not reachable, …).
    #[error("`ctr images import {archive:?}` failed ({status}): {stderr}")]
    ImportFailed {
        /// The archive.
        archive: PathBuf,
        /// How ctr exited.
        status: ExitStatus,
        /// What ctr printed on stderr.
        stderr: String,
    },
    /// A CRI image call failed.
    #[error("CRI {call} for {image}: {source}")]
    Cri {
        /// The call (`ImageStatus`).
        call: &'static str,
        /// The image reference.
        image: String,
        /// The gRPC status.
        source: tonic::Status,
    },
    /// The image was imported but CRI still does not know it (wrong namespace or name).
    #[error("image {0} imported but CRI ImageStatus does not show it")]
    NotVisibleAfterImport(String),
    /// A blocking build task panicked or was cancelled.
    #[error("image build task failed: {0}")]
    Task(String),
}

impl ImageError {
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
