//! `rkube images import FILE…`: loads OCI or docker-archive tarballs into the node's runtime,
//! with a line per archive as it goes (the airgap path when no registry is reachable).

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
    let ImagesCommand::Import(args) = args.command;
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
