//! Image archives built in pure Rust from the busybox root filesystem: an OCI image layout
//! (`oci-layout`, `index.json` naming the image with `io.containerd.image.name`, blobs) or a
//! docker-archive (`docker save` format, the name in `RepoTags`). One uncompressed layer.

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use super::ImageError;
use super::rootfs::{self, ExtraFile};

/// The fixed creation time, so the same inputs give the same digests.
const CREATED: &str = "2024-01-01T00:00:00Z";

/// What to build: a busybox image with a name, a default command and extra files.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    /// The image reference it is imported as, e.g. `localhost/rkube/busybox:1`.
    pub name: String,
    /// The static busybox binary to copy in.
    pub busybox: PathBuf,
    /// The image's `Cmd`.
    pub cmd: Vec<String>,
    /// The image's `Env`.
    pub env: Vec<String>,
    /// Files added to (or replacing files of) the root filesystem.
    pub files: Vec<ExtraFile>,
}

impl ImageSpec {
    /// A busybox image named `name` from `/bin/busybox`, `PATH=/bin`, running `sleep infinity`
    /// (so it also serves as the pause image).
    pub fn busybox(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            busybox: PathBuf::from("/bin/busybox"),
            cmd: vec!["/bin/sleep".into(), "infinity".into()],
            env: vec!["PATH=/bin".into()],
            files: Vec::new(),
        }
    }

    /// Adds a file (e.g. a test script, or a marker that makes the image distinct).
    pub fn with_file(mut self, file: ExtraFile) -> Self {
        self.files.push(file);
        self
    }

    /// Sets the default command.
    pub fn with_cmd<S: Into<String>>(mut self, cmd: impl IntoIterator<Item = S>) -> Self {
        self.cmd = cmd.into_iter().map(Into::into).collect();
        self
    }
}

/// The archive layout to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// OCI image layout in a tar (`oci-archive`).
    Oci,
    /// `docker save` format (`docker-archive`).
    Docker,
}

/// An archive that was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    /// The image reference inside the archive.
    pub name: String,
    /// Where the archive is.
    pub path: PathBuf,
    /// Its layout.
    pub format: ArchiveFormat,
    /// `sha256:…` of the manifest (as containerd records it for OCI archives).
    pub manifest_digest: String,
    /// `sha256:…` of the config: CRI's image id.
    pub config_digest: String,
    /// `sha256:…` of the uncompressed layer (its diff id and, here, its blob digest).
    pub layer_digest: String,
}

/// Builds `spec` into an archive at `out` (written to a temporary name, then renamed).
/// Blocking: CPU and file IO, and it runs `busybox --list`.
pub fn build_archive(
    spec: &ImageSpec,
    format: ArchiveFormat,
    out: &Path,
) -> Result<BuiltImage, ImageError> {
    let layer = rootfs::layer(&spec.busybox, &spec.files)?;
    let layer_digest = digest(&layer);
    let config = serde_json::to_vec(&json!({
        "created": CREATED,
        "architecture": oci_arch(),
        "os": "linux",
        "config": { "Env": spec.env, "Cmd": spec.cmd, "WorkingDir": "/" },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [{ "created": CREATED, "created_by": "rkube image builder" }],
    }))?;
    let config_digest = digest(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    }))?;
    let manifest_digest = digest(&manifest);

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    match format {
        ArchiveFormat::Oci => {
            let index = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": manifest_digest,
                    "size": manifest.len(),
                    "annotations": {
                        "io.containerd.image.name": spec.name,
                        "org.opencontainers.image.ref.name": tag(&spec.name),
                    },
                    "platform": { "architecture": oci_arch(), "os": "linux" },
                }],
            }))?;
            files.push((
                "oci-layout".into(),
                br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
            ));
            files.push(("index.json".into(), index));
            files.push((blob_path(&layer_digest), layer));
            files.push((blob_path(&config_digest), config));
            files.push((blob_path(&manifest_digest), manifest));
        }
        ArchiveFormat::Docker => {
            let layer_file = format!("{}/layer.tar", hex_of(&layer_digest));
            let config_file = format!("{}.json", hex_of(&config_digest));
            let index = serde_json::to_vec(&json!([{
                "Config": config_file,
                "RepoTags": [spec.name],
                "Layers": [layer_file],
            }]))?;
            files.push((layer_file, layer));
            files.push((config_file, config));
            files.push(("manifest.json".into(), index));
        }
    }
    write_archive(out, &files)?;
    Ok(BuiltImage {
        name: spec.name.clone(),
        path: out.to_path_buf(),
        format,
        manifest_digest,
        config_digest,
        layer_digest,
    })
}

/// Writes `files` (parents created implicitly by their paths) as a tar at `out`, atomically.
fn write_archive(out: &Path, files: &[(String, Vec<u8>)]) -> Result<(), ImageError> {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let file = std::fs::File::create(&tmp).map_err(ImageError::io("create archive", &tmp))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data.as_slice())
            .map_err(ImageError::io("write archive", &tmp))?;
    }
    let mut writer = tar
        .into_inner()
        .map_err(ImageError::io("write archive", &tmp))?;
    std::io::Write::flush(&mut writer).map_err(ImageError::io("write archive", &tmp))?;
    drop(writer);
    std::fs::rename(&tmp, out).map_err(ImageError::io("rename archive to", out))
}

/// `sha256:<hex>` of `data`.
pub(super) fn digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", hex_of(digest))
}

/// The tag of a reference (`latest` when it has none).
fn tag(name: &str) -> &str {
    let last = name.rsplit('/').next().unwrap_or(name);
    let last = last.split('@').next().unwrap_or(last);
    last.rsplit_once(':').map_or("latest", |(_, t)| t)
}

/// The OCI architecture name of this machine.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;

    fn read_tar(path: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut archive = tar::Archive::new(std::fs::File::open(path).expect("open"));
        let mut out = BTreeMap::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            out.insert(name, data);
        }
        out
    }

    #[test]
    fn tags() {
        assert_eq!(tag("localhost/rkube/pause:1"), "1");
        assert_eq!(tag("localhost:5000/busybox"), "latest");
        assert_eq!(tag("busybox:1.35@sha256:ab"), "1.35");
    }

    #[test]
    fn oci_archive_is_consistent_and_reproducible() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = ImageSpec::busybox("localhost/rkube/t:1");
        let a = build_archive(&spec, ArchiveFormat::Oci, &dir.path().join("a.tar")).expect("build");
        let b = build_archive(&spec, ArchiveFormat::Oci, &dir.path().join("b.tar")).expect("build");
        assert_eq!(a.manifest_digest, b.manifest_digest, "reproducible");
        let files = read_tar(&a.path);
        let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).expect("index");
        let desc = &index["manifests"][0];
        assert_eq!(
            desc["annotations"]["io.containerd.image.name"],
            "localhost/rkube/t:1"
        );
        assert_eq!(desc["digest"], a.manifest_digest.as_str());
        for d in [&a.manifest_digest, &a.config_digest, &a.layer_digest] {
            let blob = &files[&blob_path(d)];
            assert_eq!(&digest(blob), d, "blob content matches its digest");
        }
        let config: serde_json::Value =
            serde_json::from_slice(&files[&blob_path(&a.config_digest)]).expect("config");
        assert_eq!(config["config"]["Cmd"], json!(["/bin/sleep", "infinity"]));
        assert_eq!(config["config"]["Env"], json!(["PATH=/bin"]));

        let other = spec.with_file(ExtraFile::new("etc/marker", "x", 0o644));
        let c =
            build_archive(&other, ArchiveFormat::Oci, &dir.path().join("c.tar")).expect("build");
        assert_ne!(
            c.layer_digest, a.layer_digest,
            "extra files make a distinct image"
        );
    }

    #[test]
    fn docker_archive_names_the_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = ImageSpec::busybox("localhost/rkube/d:2");
        let built =
            build_archive(&spec, ArchiveFormat::Docker, &dir.path().join("d.tar")).expect("build");
        let files = read_tar(&built.path);
        let manifest: serde_json::Value =
            serde_json::from_slice(&files["manifest.json"]).expect("json");
        assert_eq!(manifest[0]["RepoTags"][0], "localhost/rkube/d:2");
        let layer = manifest[0]["Layers"][0].as_str().expect("layer");
        assert_eq!(digest(&files[layer]), built.layer_digest);
    }
}
