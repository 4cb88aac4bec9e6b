//! Compiles Kubernetes' `generated.proto` files into the descriptor set that the protobuf
//! request-body decoder (`src/protobuf/`) reads its schema from.
//!
//! The `.proto` files are the ones the `k8s-rs-pb` crate ships (a build-dependency used for
//! nothing else); we find that crate's directory with `cargo metadata` and run `protoc` (or
//! `$PROTOC`) over one Kubernetes version's files. Nothing is downloaded and nothing is copied
//! into this repository.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Kubernetes version whose protos we compile: the one our `k8s-openapi` types are
/// (field numbers never change across versions; newer versions only add fields).
const PROTO_VERSION_DIR: &str = "src/v1_33";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PROTOC");
    let crate_dir = k8s_rs_pb_dir();
    let root = crate_dir.join(PROTO_VERSION_DIR);
    let mut files = Vec::new();
    collect_protos(&root, &root, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no .proto files under {}",
        root.display()
    );

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("k8s.fds");
    let protoc = std::env::var("PROTOC").unwrap_or_else(|_| "protoc".to_string());
    let output = Command::new(&protoc)
        .arg("-I")
        .arg(&root)
        .arg("--include_imports")
        .arg("-o")
        .arg(&out)
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!("running {protoc} (install Debian's protobuf-compiler, or set PROTOC): {e}")
        });
    // protoc warns about every unused import in these files: show its output only on failure.
    assert!(
        output.status.success(),
        "{protoc} failed on the Kubernetes protos: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Paths of the `.proto` files under `dir`, relative to `root` (as protoc wants them).
fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_protos(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
}

/// The version pinned in Cargo.toml (`k8s-rs-pb = "=…"`).
const K8S_RS_PB_VERSION: &str = "0.5.0";

/// The source directory of the `k8s-rs-pb` package in this build's dependency graph: from
/// `cargo metadata` (which also covers vendored sources), else from cargo's registry cache.
/// Offline metadata can fail when the build did not download every package of the graph
/// (`cargo build -p X` skips other members' dev-dependencies); the registry cache holds this
/// build-dependency in any case.
fn k8s_rs_pb_dir() -> PathBuf {
    let wanted = format!("k8s-rs-pb-{K8S_RS_PB_VERSION}");
    let dir = from_cargo_metadata(&wanted)
        .or_else(|| from_registry_cache(&wanted))
        .unwrap_or_else(|| panic!("the {wanted} package (a build-dependency) was not found"));
    println!(
        "cargo:rerun-if-changed={}",
        dir.join(PROTO_VERSION_DIR).display()
    );
    dir
}

fn from_cargo_metadata(wanted: &str) -> Option<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?).join("Cargo.toml");
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--offline",
        "--manifest-path",
    ])
    .arg(&manifest);
    if let Ok(target) = std::env::var("TARGET") {
        cmd.args(["--filter-platform", &target]);
    }
    let output = cmd.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // Each package has `"manifest_path":"<dir>/Cargo.toml"`; JSON escapes nothing in a Unix path
    // but `\` and `"`, which a registry path does not contain.
    const KEY: &str = "\"manifest_path\":\"";
    text.match_indices(KEY).find_map(|(i, _)| {
        let rest = &text[i + KEY.len()..];
        let dir = Path::new(&rest[..rest.find('"')?]).parent()?;
        let name = dir.file_name()?.to_str()?;
        (name == wanted && dir.join(PROTO_VERSION_DIR).is_dir()).then(|| dir.to_path_buf())
    })
}

fn from_registry_cache(wanted: &str) -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let registries = std::fs::read_dir(home.join("registry").join("src")).ok()?;
    registries
        .filter_map(|r| r.ok())
        .map(|r| r.path().join(wanted))
        .find(|dir| dir.join(PROTO_VERSION_DIR).is_dir())
}
