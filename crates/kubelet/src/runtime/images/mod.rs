//! Images without a registry: minimal busybox images built in pure Rust as OCI or
//! docker-archive tarballs ([`build_archive`]), imported into containerd's `k8s.io` namespace
//! with `ctr` ([`import`], [`import_dir`] for the airgap directory), the pause image
//! ([`ensure_pause_image`]) and busybox test images ([`import_busybox_image`]).

mod archive;
mod ensure;
mod error;
mod import;
mod rootfs;

pub use archive::{ArchiveFormat, BuiltImage, ImageSpec, build_archive};
pub use ensure::{
    Ensured, PAUSE_IMAGE, build_and_import, ensure_pause_image, image_present, import_busybox_image,
};
pub use error::ImageError;
pub use import::{CRI_NAMESPACE, DirImport, Imported, import, import_dir};
pub use rootfs::ExtraFile;
