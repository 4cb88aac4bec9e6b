//! `rkube sim nodes` against the real `rkube server --disable-agent`, checked with kubectl.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process stopped (SIGTERM, then SIGKILL) by its PID when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return; // reaped: the PID may be someone else's now
        }
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `rkube` with `args` and waits (at most 60 s) for a stdout line starting with
/// `prefix`, returned; the rest of stdout keeps being drained.
fn start_until(args: &[&str], prefix: &'static str, env: &[(&str, &str)]) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rkube");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with(prefix) {
                let _ = tx.send(line);
            }
        }
    });
    let proc = Proc(child);
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("rkube {args:?} never printed {prefix:?}"));
    (proc, line)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kubectl(kubeconfig: &str, home: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/kubectl")
        .args(["--kubeconfig", kubeconfig])
        .args(args)
        .env("HOME", home)
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sim_nodes_register_ready_nodes_with_leases_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let data_dir = dir.path().join("server");
    let (_server, line) = start_until(
        &[
            "server",
            "--disable-agent",
            "--bind-address",
            "127.0.0.1",
            "--https-listen-port",
            &port,
            "--data-dir",
            data_dir.to_str().unwrap(),
        ],
        "kubeconfig: ",
        &[],
    );
    let kubeconfig = line.strip_prefix("kubeconfig: ").unwrap().to_string();

    let (mut sim, line) = start_until(
        &[
            "sim",
            "nodes",
            "--count",
            "3",
            "--label",
            "zone=z1",
            "--taint",
            "sim=true:NoSchedule",
            "--kubeconfig",
            &kubeconfig,
        ],
        "rkube sim: 3 simulated nodes running",
        &[],
    );
    assert!(line.contains("sim-node-0"), "{line}");

    let home = dir.path();
    let out = kubectl(
        &kubeconfig,
        home,
        &[
            "get",
            "nodes",
            "-l",
            "type=rkube-sim,zone=z1",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints[0].key}{"\n"}{end}"#,
        ],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "sim-node-0 True sim",
            "sim-node-1 True sim",
            "sim-node-2 True sim"
        ],
        "{out}"
    );
    let out = kubectl(&kubeconfig, home, &["get", "nodes"]);
    assert!(out.contains("sim-node-2") && out.contains("Ready"), "{out}");
    let out = kubectl(
        &kubeconfig,
        home,
        &["get", "leases", "-n", "kube-node-lease", "-o", "name"],
    );
    for i in 0..3 {
        assert!(
            out.contains(&format!("lease.coordination.k8s.io/sim-node-{i}")),
            "{out}"
        );
    }

    let pid = nix::unistd::Pid::from_raw(sim.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = sim.0.wait().unwrap();
    assert!(
        status.success(),
        "rkube sim exits cleanly on SIGTERM: {status}"
    );
    // Stopped, the nodes stay (as dead nodes do).
    let out = kubectl(
        &kubeconfig,
        home,
        &["get", "node", "sim-node-0", "-o", "name"],
    );
    assert_eq!(out.trim(), "node/sim-node-0");
}

#[test]
fn sim_nodes_without_a_kubeconfig_says_what_to_set() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["sim", "nodes", "--count", "2"])
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("missing.yaml"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run rkube");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--kubeconfig") && err.contains("KUBECONFIG"),
        "{err}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["sim", "nodes", "--count", "2", "--memory", "lots"])
        .output()
        .expect("run rkube");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("memory \"lots\" is not a quantity"), "{err}");
}
