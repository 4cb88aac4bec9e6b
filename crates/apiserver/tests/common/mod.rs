//! What the apiserver's end-to-end tests share: an in-process apiserver on a temporary data
//! dir (embedded store, HTTPS on a free loopback port) and the real kubectl against it.

#![allow(dead_code)] // each test binary uses its own subset

pub mod raw;

use rkube_apiserver::server::{RunningServer, ServerConfig, start, start_with_store};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

/// A running apiserver and its data dir (kubectl's caches go there too, not in `~`).
pub struct Cluster {
    /// The server.
    pub server: RunningServer,
    /// Its data dir.
    pub dir: tempfile::TempDir,
}

fn config(dir: &tempfile::TempDir) -> ServerConfig {
    let mut config = ServerConfig::new(dir.path());
    config.bind_address = [127, 0, 0, 1].into();
    config.https_port = 0;
    config.include_host_sans = false;
    config
}

/// An apiserver on the embedded store.
pub async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await.expect("apiserver starts");
    Cluster { server, dir }
}

/// An apiserver on the embedded store with settings changed by `change`.
pub async fn cluster_with(change: impl FnOnce(&mut ServerConfig, &std::path::Path)) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir);
    change(&mut config, dir.path());
    let server = start(config).await.expect("apiserver starts");
    Cluster { server, dir }
}

/// An apiserver on a store the test keeps a handle to.
pub async fn cluster_on(store: Arc<dyn rkube_store::Store>) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with_store(config(&dir), store)
        .await
        .expect("apiserver starts");
    Cluster { server, dir }
}

/// What a kubectl run printed.
pub struct Out {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Its exit code (`None` if a signal ended it).
    pub code: Option<i32>,
}

impl Cluster {
    /// A kube-rs client with the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.server.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    /// Runs kubectl with `stdin`, within a minute.
    pub async fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = tokio::process::Command::new("/usr/bin/kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.server.kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .env("HOME", self.dir.path());
        let mut child = cmd.spawn().expect("run kubectl");
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).await.unwrap();
        }
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} timed out"))
            .unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// Runs kubectl.
    pub async fn kubectl(&self, args: &[&str]) -> Out {
        self.kubectl_stdin(args, None).await
    }

    /// Runs kubectl, fails the test unless it succeeds, and returns (stdout, stderr).
    pub async fn ok_with_log(&self, args: &[&str]) -> (String, String) {
        let out = self.kubectl(args).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        (out.stdout, out.stderr)
    }

    /// Runs kubectl, fails the test unless it succeeds, and returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        self.ok_with_log(args).await.0
    }
}
