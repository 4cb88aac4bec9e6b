//! The real `rkube server` binary driven by the real kubectl: start-up, readiness, and the
//! namespace lifecycle that needs the in-process namespace controller.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `rkube server`, killed (by PID) when dropped.
struct Server {
    child: Child,
    kubeconfig: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args([
            "server",
            "--bind-address",
            "127.0.0.1",
            "--https-listen-port",
            &port.to_string(),
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rkube server");
    let started = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep draining the server's output for its whole life.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(path) = line.strip_prefix("kubeconfig: ") {
                let _ = tx.send(std::path::PathBuf::from(path));
            }
        }
    });
    let kubeconfig = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server printed its kubeconfig path");
    eprintln!("rkube server ready in {:?}", started.elapsed());
    Server {
        child,
        kubeconfig,
        dir,
    }
}

impl Server {
    fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("/usr/bin/kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self.dir.path())
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn server_is_ready_quickly_and_namespaces_are_deleted_with_their_contents() {
    let started = Instant::now();
    let s = start();
    let (ok, out, err) = s.kubectl(&["get", "--raw", "/readyz"]);
    assert!(ok && out == "ok", "{out}{err}");
    // The issue asks for /readyz within 1 s; a debug build is ready ~0.7 s after start here;
    // this bound includes a kubectl run and leaves room for a loaded CI machine.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "readiness took {:?}",
        started.elapsed()
    );

    let manifest = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"scratch"}}"#;
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"scratch"},"data":{"a":"b"}}"#;
    for m in [manifest, cm] {
        let path = s.dir.path().join("m.json");
        std::fs::write(&path, m).unwrap();
        let (ok, out, err) = s.kubectl(&["create", "-f", path.to_str().unwrap()]);
        assert!(ok, "{out}{err}");
    }
    let (ok, out, err) = s.kubectl(&["delete", "namespace", "scratch", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("namespace \"scratch\" deleted"), "{out}");
    let (ok, _, err) = s.kubectl(&["get", "namespace", "scratch"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, out, _) = s.kubectl(&["get", "configmaps", "-n", "scratch", "-o", "name"]);
    assert!(ok && out.trim().is_empty(), "contents must be gone: {out}");
}
