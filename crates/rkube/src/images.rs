//! `rkube images import FILE…`: loads OCI or docker-archive tarballs into the node's runtime,
//! with a line per archive as it goes (the airgap path when no registry is reachable).
//! `rkube images build-busybox NAME -o FILE`: builds a small image from the host's static
//! busybox (plus any files given), the way the project's tests and examples get images.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};

/// `rkube images …`.
#[derive(Args, Debug)]
pub struct ImagesArgs {
    #[command(subcommand)]
    command: ImagesCommand,
}

#[derive(Subcommand, Debug)]
enum ImagesCommand {
    /// Import image archives (OCI layout or `docker save` tarballs) into the node's runtime.
    Import(ImportArgs),
    /// Build an OCI image archive from the host's static busybox (`/bin/busybox`).
    BuildBusybox(BuildArgs),
}

#[derive(Args, Debug)]
struct BuildArgs {
    /// The image name, e.g. `localhost/rkube/busybox:1` or `mysql:5.7` for a stand-in.
    name: String,
    /// Where to write the archive.
    #[arg(short, long)]
    output: PathBuf,
    /// Add a host file to the image: `HOST_PATH:IMAGE_PATH[:MODE]` (repeatable).
    #[arg(long = "file")]
    files: Vec<String>,
    /// The image's command (default: sleep forever).
    #[arg(long = "cmd", num_args = 1..)]
    cmd: Vec<String>,
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    use rkube_kubelet::runtime::images::{ArchiveFormat, ExtraFile, ImageSpec, build_archive};
    let mut spec = ImageSpec::busybox(&args.name);
    for f in &args.files {
        let mut parts = f.splitn(3, ':');
        let (Some(host), Some(dest)) = (parts.next(), parts.next()) else {
            anyhow::bail!("--file {f:?}: expected HOST_PATH:IMAGE_PATH[:MODE]");
        };
        let mode = match parts.next() {
            Some(m) => u32::from_str_radix(m, 8)
                .map_err(|_| anyhow::anyhow!("--file {f:?}: MODE must be octal, e.g. 755"))?,
            None => 0o644,
        };
        let contents = std::fs::read(host)
            .map_err(|e| anyhow::anyhow!("--file {f:?}: reading {host}: {e}"))?;
        spec = spec.with_file(ExtraFile::new(dest.trim_start_matches('/'), contents, mode));
    }
    if !args.cmd.is_empty() {
        spec = spec.with_cmd(args.cmd.clone());
    }
    let built = build_archive(&spec, ArchiveFormat::Oci, &args.output)?;
    eprintln!(
        "built {} ({}) at {}",
        built.name,
        built.manifest_digest,
        built.path.display()
    );
    eprintln!("next: rkube images import {}", built.path.display());
    Ok(())
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// The archives.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The node's data directory (its private containerd's socket is under it).
    #[arg(long, default_value = "/var/lib/rkube", env = "RKUBE_DATA_DIR")]
    data_dir: PathBuf,
    /// The runtime's socket, when not the private containerd's.
    #[arg(long)]
    container_runtime_endpoint: Option<PathBuf>,
}

/// Runs `rkube images …`; exits non-zero if any archive failed.
pub fn run(args: ImagesArgs) -> anyhow::Result<()> {
    let args = match args.command {
        ImagesCommand::Import(a) => a,
        ImagesCommand::BuildBusybox(b) => return build(b),
    };
    let socket = args
        .container_runtime_endpoint
        .clone()
        .unwrap_or_else(|| args.data_dir.join("agent/containerd/containerd.sock"));
    if !socket.exists() {
        anyhow::bail!(
            "no container runtime socket at {}: start the node (`rkube server`) first, or pass --data-dir / --container-runtime-endpoint",
            socket.display()
        );
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let total = args.files.len();
    let mut failed = 0;
    for (i, file) in args.files.iter().enumerate() {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        eprint!(
            "[{}/{total}] importing {} ({:.1} MB)… ",
            i + 1,
            file.display(),
            size as f64 / 1e6
        );
        let start = Instant::now();
        match runtime.block_on(rkube_kubelet::runtime::images::import(&socket, file)) {
            Ok(imported) => eprintln!(
                "done in {:.1} s: {}",
                start.elapsed().as_secs_f64(),
                imported.images.join(", ")
            ),
            Err(e) => {
                failed += 1;
                eprintln!("failed: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {total} archives failed to import; see the lines above");
    }
    Ok(())
}
