//! The root filesystem of the busybox image as one layer tar: `bin/busybox`, a symlink per
//! applet, `etc/passwd`, `etc/group`, the usual empty directories, and any extra files.
//! Entries are sorted (parents first) with zero mtimes and owners, so the same inputs always
//! give the same bytes and digests.

use std::collections::BTreeMap;
use std::path::Path;

use super::ImageError;

/// A file added to the image (or replacing one of the defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraFile {
    /// The path inside the image, e.g. `bin/hello.sh` (a leading `/` is ignored).
    pub path: String,
    /// The file's contents.
    pub contents: Vec<u8>,
    /// Its permission bits, e.g. `0o755` for a script.
    pub mode: u32,
}

impl ExtraFile {
    /// A file at `path` with `contents` and `mode`.
    pub fn new(path: impl Into<String>, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self {
            path: path.into(),
            contents: contents.into(),
            mode,
        }
    }
}

#[derive(Debug)]
enum Entry {
    Dir(u32),
    File(Vec<u8>, u32),
    Symlink(String),
}

const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("var", 0o755),
    ("var/www", 0o755),
];
const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n";
const GROUP: &[u8] = b"root:x:0:\nnogroup:x:65534:\n";

/// The applets `busybox --list` names (without `busybox` itself).
pub(super) fn applets(busybox: &Path) -> Result<Vec<String>, ImageError> {
    let out = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|source| ImageError::Busybox {
            path: busybox.to_path_buf(),
            source,
        })?;
    let list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|a| *a != "busybox" && !a.contains('/'))
        .map(str::to_owned)
        .collect();
    if !out.status.success() || list.is_empty() {
        return Err(ImageError::BusyboxList {
            path: busybox.to_path_buf(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(list)
}

/// The uncompressed layer tar for `busybox` plus `extra` files.
pub(super) fn layer(busybox: &Path, extra: &[ExtraFile]) -> Result<Vec<u8>, ImageError> {
    let binary = std::fs::read(busybox).map_err(|source| ImageError::Busybox {
        path: busybox.to_path_buf(),
        source,
    })?;
    let mut tree: BTreeMap<String, Entry> = BTreeMap::new();
    for (dir, mode) in DIRS {
        tree.insert((*dir).to_owned(), Entry::Dir(*mode));
    }
    tree.insert("bin/busybox".into(), Entry::File(binary, 0o755));
    for applet in applets(busybox)? {
        tree.insert(format!("bin/{applet}"), Entry::Symlink("busybox".into()));
    }
    tree.insert("etc/passwd".into(), Entry::File(PASSWD.to_vec(), 0o644));
    tree.insert("etc/group".into(), Entry::File(GROUP.to_vec(), 0o644));
    for file in extra {
        let path = clean_path(&file.path)?;
        // Parent directories the defaults do not have yet.
        let mut parent = String::new();
        for part in path.split('/').take(path.matches('/').count()) {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            tree.entry(parent.clone()).or_insert(Entry::Dir(0o755));
        }
        tree.insert(path, Entry::File(file.contents.clone(), file.mode));
    }
    write_tar(&tree)
}

/// `path` without leading `/` or `./`, rejecting empty, `.` and `..` components.
fn clean_path(path: &str) -> Result<String, ImageError> {
    let trimmed = path.trim_start_matches('/');
    let parts: Vec<&str> = trimmed.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(ImageError::InvalidPath(path.to_owned()));
    }
    Ok(parts.join("/"))
}

fn write_tar(tree: &BTreeMap<String, Entry>) -> Result<Vec<u8>, ImageError> {
    let io_err = |e| ImageError::io("build layer", "<memory>")(e);
    let mut tar = tar::Builder::new(Vec::new());
    for (path, entry) in tree {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match entry {
            Entry::Dir(mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), std::io::empty())
                    .map_err(io_err)?;
            }
            Entry::File(data, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice())
                    .map_err(io_err)?;
            }
            Entry::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target).map_err(io_err)?;
            }
        }
    }
    tar.into_inner().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path("/bin/x.sh").expect("ok"), "bin/x.sh");
        assert_eq!(clean_path("opt//a").expect("ok"), "opt/a");
        assert!(clean_path("../etc").is_err());
        assert!(clean_path("/").is_err());
    }

    #[test]
    fn layer_has_busybox_applets_and_extra_files() {
        let extra = [ExtraFile::new(
            "/opt/app/run.sh",
            "#!/bin/sh\necho hi\n",
            0o755,
        )];
        let bytes = layer(Path::new("/bin/busybox"), &extra).expect("layer");
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = BTreeMap::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let link = entry
                .link_name()
                .expect("link")
                .map(|l| l.to_string_lossy().into_owned());
            seen.insert(
                path,
                (
                    entry.header().entry_type(),
                    link,
                    entry.header().mode().expect("mode"),
                ),
            );
        }
        assert_eq!(seen["bin/sh"].1.as_deref(), Some("busybox"));
        assert_eq!(seen["bin/busybox"].0, tar::EntryType::Regular);
        assert_eq!(seen["tmp/"].2, 0o1777);
        assert_eq!(seen["opt/"].0, tar::EntryType::Directory);
        assert_eq!(seen["opt/app/run.sh"].2, 0o755);
        assert!(seen.contains_key("etc/passwd") && seen.contains_key("var/www/"));
    }
}
