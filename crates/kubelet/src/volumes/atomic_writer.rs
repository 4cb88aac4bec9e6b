//! Writing a projected volume's files so that readers never see a half-updated set: the files
//! go into a fresh hidden directory, then one symlink rename (`..data`) switches to it, as
//! upstream's AtomicWriter does. User-visible names are symlinks through `..data`.

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path};

/// One file of a projected volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Contents.
    pub data: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

const DATA_DIR: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Makes `dir` hold exactly `files` (relative paths). Returns whether anything changed.
pub fn write(dir: &Path, files: &BTreeMap<String, Payload>) -> std::io::Result<bool> {
    for path in files.keys() {
        let p = Path::new(path);
        let ok = !path.is_empty()
            && p.components().all(|c| matches!(c, Component::Normal(_)))
            && !path.starts_with("..");
        if !ok {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid file path {path:?}"),
            ));
        }
    }
    std::fs::create_dir_all(dir)?;
    if current_matches(dir, files) {
        return Ok(false);
    }
    let stamp = format!(
        "..{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let new_dir = dir.join(&stamp);
    std::fs::create_dir_all(&new_dir)?;
    for (path, payload) in files {
        let target = new_dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, &payload.data)?;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(payload.mode))?;
    }
    let old = std::fs::read_link(dir.join(DATA_DIR)).ok();
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&stamp, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA_DIR))?;

    // Top-level names point through ..data; stale ones are removed.
    let wanted: std::collections::BTreeSet<String> = files
        .keys()
        .filter_map(|p| p.split('/').next().map(str::to_string))
        .collect();
    for name in &wanted {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA_DIR).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("..") && !wanted.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(old) = old
        && old != Path::new(&stamp)
    {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

fn current_matches(dir: &Path, files: &BTreeMap<String, Payload>) -> bool {
    let Ok(current) = std::fs::read_link(dir.join(DATA_DIR)) else {
        return false;
    };
    let base = dir.join(current);
    let mut count = 0;
    if !files.iter().all(|(path, payload)| {
        let p = base.join(path);
        std::fs::read(&p).is_ok_and(|d| d == payload.data)
            && std::fs::metadata(&p).is_ok_and(|m| m.permissions().mode() & 0o7777 == payload.mode)
    }) {
        return false;
    }
    count_files(&base, &mut count);
    count == files.len()
}

fn count_files(dir: &Path, count: &mut usize) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            count_files(&e.path(), count);
        } else {
            *count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Payload> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Payload {
                        data: v.as_bytes().to_vec(),
                        mode: 0o644,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn writes_swaps_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/b")).unwrap(),
            "2"
        );
        assert!(
            !write(dir.path(), &files(&[("a", "1"), ("sub/b", "2")])).unwrap(),
            "unchanged"
        );
        assert!(write(dir.path(), &files(&[("a", "3")])).unwrap());
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "3");
        assert!(!dir.path().join("sub").exists(), "removed key is gone");
        let hidden: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name().to_string_lossy().starts_with("..") && e.file_type().unwrap().is_dir()
            })
            .collect();
        assert_eq!(hidden.len(), 1, "old generation removed");
    }

    #[test]
    fn modes_and_bad_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = files(&[("key", "x")]);
        f.get_mut("key").unwrap().mode = 0o400;
        write(dir.path(), &f).unwrap();
        let m = std::fs::metadata(dir.path().join("key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o400);
        assert!(write(dir.path(), &files(&[("../escape", "x")])).is_err());
        assert!(write(dir.path(), &files(&[("/abs", "x")])).is_err());
    }
}
