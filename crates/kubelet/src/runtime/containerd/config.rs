//! What a private containerd instance is told: its directory, the CNI directories, the sandbox
//! image and timings, and the `config.toml` rendered from them (the settings of RUNTIME.md §1).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ContainerdError;

/// The longest path a unix socket address can hold (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Settings of one private containerd. Everything it writes lives under [`root`](Self::root)
/// (except the shim sockets in `/run/containerd/s/` and pod netns in `/var/run/netns/`).
#[derive(Clone, Debug)]
pub struct ContainerdConfig {
    /// The instance's directory, e.g. `<data-dir>/agent/containerd`: content store, state,
    /// sockets, runc root, `certs.d`, the generated `config.toml`, the log and the pid file.
    pub root: PathBuf,
    /// Where the CNI plugin binaries are (`/usr/lib/cni` on Debian).
    pub cni_bin_dir: PathBuf,
    /// Where the CNI network configuration is read from (see `runtime::cni`).
    pub cni_conf_dir: PathBuf,
    /// The pause image every pod sandbox runs (imported locally, never pulled).
    pub sandbox_image: String,
    /// The containerd binary.
    pub containerd_bin: PathBuf,
    /// The runc binary the runc v2 shim runs.
    pub runc_bin: PathBuf,
    /// containerd's log level (`info`, `debug`, …).
    pub log_level: String,
    /// How long a start (or restart) may take until the CRI socket answers `Version`.
    pub start_timeout: Duration,
    /// How long `stop` waits after SIGTERM before sending SIGKILL.
    pub stop_timeout: Duration,
    /// The first delay before restarting a containerd that died.
    pub restart_backoff_initial: Duration,
    /// The longest delay between restarts (the delay doubles up to this).
    pub restart_backoff_max: Duration,
    /// A run at least this long counts as healthy: the next restart delay starts over.
    pub restart_backoff_reset: Duration,
}

impl ContainerdConfig {
    /// Defaults for an instance in `root` using the CNI directories given and `sandbox_image`.
    pub fn new(
        root: impl Into<PathBuf>,
        cni_bin_dir: impl Into<PathBuf>,
        cni_conf_dir: impl Into<PathBuf>,
        sandbox_image: impl Into<String>,
    ) -> Self {
        Self {
            root: root.into(),
            cni_bin_dir: cni_bin_dir.into(),
            cni_conf_dir: cni_conf_dir.into(),
            sandbox_image: sandbox_image.into(),
            containerd_bin: PathBuf::from("containerd"),
            runc_bin: PathBuf::from("/usr/sbin/runc"),
            log_level: "info".into(),
            start_timeout: Duration::from_secs(30),
            stop_timeout: Duration::from_secs(10),
            restart_backoff_initial: Duration::from_millis(500),
            restart_backoff_max: Duration::from_secs(30),
            restart_backoff_reset: Duration::from_secs(60),
        }
    }

    /// The CRI (and containerd API) gRPC socket.
    pub fn socket_path(&self) -> PathBuf {
        self.root.join("containerd.sock")
    }

    /// The ttrpc socket (shims talk back on it).
    pub fn ttrpc_socket_path(&self) -> PathBuf {
        self.root.join("containerd.sock.ttrpc")
    }

    /// The generated configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// containerd's stdout and stderr (appended to across restarts).
    pub fn log_file(&self) -> PathBuf {
        self.root.join("containerd.log")
    }

    /// The PID of the running instance, so a later run can stop an instance left behind.
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("containerd.pid")
    }

    /// Per-registry `hosts.toml` directories (`certs.d/<host>/hosts.toml`).
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("certs.d")
    }

    /// containerd's persistent root (content store, snapshots, metadata).
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("root")
    }

    /// containerd's state directory (per-boot state, shim bundles).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// runc's state root: private, because the default is shared between containerds.
    pub fn runc_root(&self) -> PathBuf {
        self.root.join("runc")
    }

    /// The `opt` plugin's directory.
    pub fn opt_dir(&self) -> PathBuf {
        self.root.join("opt")
    }

    /// The directories [`render`](Self::render) refers to and the instance needs to exist.
    pub fn dirs(&self) -> Vec<PathBuf> {
        vec![
            self.root.clone(),
            self.data_dir(),
            self.state_dir(),
            self.runc_root(),
            self.opt_dir(),
            self.certs_dir(),
            self.cni_conf_dir.clone(),
        ]
    }

    /// Checks that the socket paths fit a unix socket address.
    pub fn check_socket_paths(&self) -> Result<(), ContainerdError> {
        for path in [self.socket_path(), self.ttrpc_socket_path()] {
            let len = path.as_os_str().len();
            if len > MAX_SOCKET_PATH {
                return Err(ContainerdError::SocketPathTooLong { path, len });
            }
        }
        Ok(())
    }

    /// The `config.toml` for this instance.
    pub fn render(&self) -> Result<String, ContainerdError> {
        let root = toml_path(&self.data_dir())?;
        let state = toml_path(&self.state_dir())?;
        let grpc = toml_path(&self.socket_path())?;
        let ttrpc = toml_path(&self.ttrpc_socket_path())?;
        let opt = toml_path(&self.opt_dir())?;
        let runc_bin = toml_path(&self.runc_bin)?;
        let runc_root = toml_path(&self.runc_root())?;
        let cni_bin = toml_path(&self.cni_bin_dir)?;
        let cni_conf = toml_path(&self.cni_conf_dir)?;
        let certs = toml_path(&self.certs_dir())?;
        let sandbox = toml_str(&self.sandbox_image);
        let level = toml_str(&self.log_level);
        let cri = "plugins.\"io.containerd.grpc.v1.cri\"";
        Ok(format!(
            r#"# Generated by rkube; rewritten at every start.
version = 2
root = {root}
state = {state}
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = {grpc}

[ttrpc]
  address = {ttrpc}

[debug]
  level = {level}

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = {opt}
  [{cri}]
    sandbox_image = {sandbox}
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_cdi = false
    # No CAP_SYS_RESOURCE here: the sandbox's -998 would make every RunPodSandbox fail.
    restrict_oom_score_adj = true
    [{cri}.containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [{cri}.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [{cri}.containerd.runtimes.runc.options]
          BinaryName = {runc_bin}
          Root = {runc_root}
          SystemdCgroup = false
    [{cri}.cni]
      bin_dir = {cni_bin}
      conf_dir = {cni_conf}
      max_conf_num = 1
    [{cri}.registry]
      config_path = {certs}
"#
        ))
    }
}

/// A path as a TOML basic string.
fn toml_path(path: &Path) -> Result<String, ContainerdError> {
    path.to_str()
        .map(toml_str)
        .ok_or_else(|| ContainerdError::NonUtf8Path(path.to_path_buf()))
}

/// `s` as a TOML basic string (quoted, with `"`, `\` and control characters escaped).
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_verified_settings() {
        let cfg = ContainerdConfig::new("/d/ctd", "/usr/lib/cni", "/d/net.d", "localhost/p:1");
        let toml = cfg.render().expect("render");
        for want in [
            "root = \"/d/ctd/root\"",
            "state = \"/d/ctd/state\"",
            "address = \"/d/ctd/containerd.sock\"",
            "address = \"/d/ctd/containerd.sock.ttrpc\"",
            "restrict_oom_score_adj = true",
            "Root = \"/d/ctd/runc\"",
            "SystemdCgroup = false",
            "snapshotter = \"overlayfs\"",
            "stream_server_address = \"127.0.0.1\"",
            "stream_server_port = \"0\"",
            "sandbox_image = \"localhost/p:1\"",
            "conf_dir = \"/d/net.d\"",
            "config_path = \"/d/ctd/certs.d\"",
        ] {
            assert!(toml.contains(want), "missing {want} in\n{toml}");
        }
    }

    #[test]
    fn escapes_strings() {
        assert_eq!(toml_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    #[test]
    fn rejects_long_socket_paths() {
        let cfg = ContainerdConfig::new("/x".repeat(60), "/c", "/n", "p");
        assert!(matches!(
            cfg.check_socket_paths(),
            Err(ContainerdError::SocketPathTooLong { .. })
        ));
        assert!(
            ContainerdConfig::new("/var/lib/rkube/agent/containerd", "/c", "/n", "p")
                .check_socket_paths()
                .is_ok()
        );
    }
}
