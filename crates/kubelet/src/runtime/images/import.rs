//! Importing image archives into containerd's `k8s.io` namespace (the one CRI reads) with
//! `ctr images import`: one archive, or every `*.tar` of a directory (the airgap images in
//! `<data-dir>/agent/images/`, OCI or docker-archive).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::ImageError;
use crate::runtime::command;

/// The containerd namespace CRI uses.
pub const CRI_NAMESPACE: &str = "k8s.io";
/// The longest one import may take (large airgap tarballs on a slow disk).
const IMPORT_TIMEOUT: Duration = Duration::from_secs(600);

/// An archive that was imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// The archive.
    pub archive: PathBuf,
    /// The image names ctr reported unpacking.
    pub images: Vec<String>,
    /// How long the import took.
    pub elapsed: Duration,
}

/// The outcome for one archive of [`import_dir`].
#[derive(Debug)]
pub struct DirImport {
    /// The archive.
    pub archive: PathBuf,
    /// What happened to it.
    pub result: Result<Imported, ImageError>,
}

/// Imports `archive` into the `k8s.io` namespace of the containerd at `socket`.
pub async fn import(socket: &Path, archive: &Path) -> Result<Imported, ImageError> {
    let start = Instant::now();
    let args = [
        "-a".as_ref(),
        socket.as_os_str(),
        "--connect-timeout".as_ref(),
        "10s".as_ref(),
        "-n".as_ref(),
        CRI_NAMESPACE.as_ref(),
        "images".as_ref(),
        "import".as_ref(),
        archive.as_os_str(),
    ];
    let out = command::run("ctr".as_ref(), args, IMPORT_TIMEOUT)
        .await
        .map_err(|source| ImageError::ImportCommand {
            archive: archive.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        return Err(ImageError::ImportFailed {
            archive: archive.to_path_buf(),
            status: out.status,
            stderr: out.stderr.trim().to_owned(),
        });
    }
    let images = unpacked_names(&out.stdout);
    tracing::info!(archive = ?archive, ?images, elapsed = ?start.elapsed(), "imported image archive");
    Ok(Imported {
        archive: archive.to_path_buf(),
        images,
        elapsed: start.elapsed(),
    })
}

/// Imports every `*.tar` in `dir` (sorted by name), one after the other, and reports each.
/// A missing directory has nothing to import. Meant to run in a background task at start.
pub async fn import_dir(socket: &Path, dir: &Path) -> Result<Vec<DirImport>, ImageError> {
    let mut archives = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImageError::io("read directory", dir)(e)),
    };
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(ImageError::io("read directory", dir))?
    {
        let path = entry.path();
        let is_file = entry
            .file_type()
            .await
            .is_ok_and(|t| t.is_file() || t.is_symlink());
        if is_file && path.extension().is_some_and(|e| e == "tar") {
            archives.push(path);
        }
    }
    archives.sort();
    let mut results = Vec::with_capacity(archives.len());
    for archive in archives {
        let result = import(socket, &archive).await;
        if let Err(e) = &result {
            tracing::warn!(archive = ?archive, error = %e, "image archive not imported");
        }
        results.push(DirImport { archive, result });
    }
    Ok(results)
}

/// The names in ctr's `unpacking <name> (sha256:…)...done` lines.
fn unpacked_names(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("unpacking "))
        .filter_map(|l| l.split_once(" (").map(|(name, _)| name.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ctr_output() {
        let out = "unpacking localhost/rkube/pause:1 (sha256:abc)...done\n\
                   unpacking docker.io/library/x:2 (sha256:def)...done\n";
        assert_eq!(
            unpacked_names(out),
            ["localhost/rkube/pause:1", "docker.io/library/x:2"]
        );
    }
}
