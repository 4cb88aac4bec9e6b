//! Making sure images exist in CRI without a registry: the pause image every sandbox runs,
//! and busybox images for tests, built and imported on demand.

use std::path::Path;

use k8s_cri::v1::{ImageSpec as CriImageSpec, ImageStatusRequest};

use super::archive::{ArchiveFormat, BuiltImage, ImageSpec, build_archive};
use super::rootfs::ExtraFile;
use super::{ImageError, import};
use crate::cri::Cri;

/// The pause image rkube builds from busybox (`sleep infinity`); never pulled.
pub const PAUSE_IMAGE: &str = "localhost/rkube/pause:1";

/// What [`ensure_pause_image`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ensured {
    /// CRI already had the image.
    Present,
    /// It was built and imported.
    Imported(BuiltImage),
}

/// Whether CRI knows the image `name`.
pub async fn image_present(cri: &Cri, name: &str) -> Result<bool, ImageError> {
    let req = ImageStatusRequest {
        image: Some(CriImageSpec {
            image: name.to_owned(),
            ..Default::default()
        }),
        verbose: false,
    };
    let resp = cri
        .images
        .clone()
        .image_status(req)
        .await
        .map_err(|source| ImageError::Cri {
            call: "ImageStatus",
            image: name.to_owned(),
            source,
        })?;
    Ok(resp.into_inner().image.is_some())
}

/// Builds and imports the pause image `name` (normally [`PAUSE_IMAGE`]) unless CRI has it.
/// `work_dir` holds the archive while it is imported.
pub async fn ensure_pause_image(
    cri: &Cri,
    name: &str,
    work_dir: &Path,
) -> Result<Ensured, ImageError> {
    if image_present(cri, name).await? {
        return Ok(Ensured::Present);
    }
    build_and_import(cri, ImageSpec::busybox(name), ArchiveFormat::Oci, work_dir)
        .await
        .map(Ensured::Imported)
}

/// Builds a busybox image `name` with `files` added, imports it, and checks CRI sees it.
/// Used by tests (e.g. `localhost/rkube/busybox:1`).
pub async fn import_busybox_image(
    cri: &Cri,
    name: &str,
    files: Vec<ExtraFile>,
    work_dir: &Path,
) -> Result<BuiltImage, ImageError> {
    let mut spec = ImageSpec::busybox(name);
    spec.files = files;
    build_and_import(cri, spec, ArchiveFormat::Oci, work_dir).await
}

/// Builds `spec` into an archive in `work_dir`, imports it into CRI's namespace, removes the
/// archive and checks that CRI's `ImageStatus` shows the image.
pub async fn build_and_import(
    cri: &Cri,
    spec: ImageSpec,
    format: ArchiveFormat,
    work_dir: &Path,
) -> Result<BuiltImage, ImageError> {
    tokio::fs::create_dir_all(work_dir)
        .await
        .map_err(ImageError::io("create directory", work_dir))?;
    let file: String = spec
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let out = work_dir.join(format!("{file}.{}.tar", std::process::id()));
    let name = spec.name.clone();
    let built = tokio::task::spawn_blocking(move || build_archive(&spec, format, &out))
        .await
        .map_err(|e| ImageError::Task(e.to_string()))??;
    let imported = import(cri.socket(), &built.path).await;
    let _ = tokio::fs::remove_file(&built.path).await;
    imported?;
    // CRI learns of imported images from containerd's events: under load that takes a moment.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !image_present(cri, &name).await? {
        if tokio::time::Instant::now() >= deadline {
            return Err(ImageError::NotVisibleAfterImport(name));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(built)
}
