//! `hostPath`: a path on the node, checked against the declared `type`.

use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::HostPathVolumeSource;

use super::VolumeError;

/// Checks (and for the `…OrCreate` types creates) the path; returns it.
pub fn setup(source: &HostPathVolumeSource) -> Result<PathBuf, VolumeError> {
    let path = PathBuf::from(&source.path);
    let kind = source.type_.as_deref().unwrap_or("");
    let meta = std::fs::metadata(&path);
    let fail = |what: &str| {
        VolumeError::HostPathType(format!(
            "hostPath type check failed: {} is not a {what}",
            source.path
        ))
    };
    match kind {
        "" => {}
        "DirectoryOrCreate" => {
            if meta.is_err() {
                std::fs::create_dir_all(&path)
                    .map_err(VolumeError::io(format!("create {}", source.path)))?;
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
            } else if !meta.as_ref().is_ok_and(|m| m.is_dir()) {
                return Err(fail("directory"));
            }
        }
        "Directory" => {
            if !meta.as_ref().is_ok_and(|m| m.is_dir()) {
                return Err(fail("directory"));
            }
        }
        "FileOrCreate" => {
            if meta.is_err() {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(VolumeError::io(format!("create {}", source.path)))?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(VolumeError::io(format!("create {}", source.path)))?;
            } else if !meta.as_ref().is_ok_and(|m| m.is_file()) {
                return Err(fail("file"));
            }
        }
        "File" => {
            if !meta.as_ref().is_ok_and(|m| m.is_file()) {
                return Err(fail("file"));
            }
        }
        "Socket" => {
            if !meta.as_ref().is_ok_and(|m| m.file_type().is_socket()) {
                return Err(fail("socket file"));
            }
        }
        "CharDevice" => {
            if !meta.as_ref().is_ok_and(|m| m.file_type().is_char_device()) {
                return Err(fail("character device"));
            }
        }
        "BlockDevice" => {
            if !meta.as_ref().is_ok_and(|m| m.file_type().is_block_device()) {
                return Err(fail("block device"));
            }
        }
        other => {
            return Err(VolumeError::HostPathType(format!(
                "invalid hostPath type {other:?}"
            )));
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &std::path::Path, t: &str) -> HostPathVolumeSource {
        HostPathVolumeSource {
            path: path.to_string_lossy().into(),
            type_: Some(t.into()),
        }
    }

    #[test]
    fn type_checks() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("made");
        assert!(setup(&src(&sub, "Directory")).is_err());
        setup(&src(&sub, "DirectoryOrCreate")).unwrap();
        assert!(sub.is_dir());
        setup(&src(&sub, "Directory")).unwrap();
        assert!(
            setup(&src(&sub, "File"))
                .unwrap_err()
                .to_string()
                .contains("is not a file")
        );
        let f = dir.path().join("x/f");
        setup(&src(&f, "FileOrCreate")).unwrap();
        assert!(f.is_file());
        assert!(setup(&src(&f, "DirectoryOrCreate")).is_err());
        setup(&src(std::path::Path::new("/dev/null"), "CharDevice")).unwrap();
        assert!(setup(&src(&f, "Socket")).is_err());
        setup(&src(&dir.path().join("missing"), "")).unwrap();
    }
}
