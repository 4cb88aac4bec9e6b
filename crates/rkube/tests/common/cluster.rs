//! Several real nodes on one machine: a bridge in the host namespace for the server's node, and
//! one network namespace per agent joined to it by a veth pair (shared/RUNTIME.md §6). The
//! server and each `rkube agent` are the real binary; agents run under `nsenter --net`, so
//! their containerd, pods, bridge, routes and rules live in the agent's namespace. Everything
//! is named after the test process's PID and removed on drop, also when a test fails.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rkube_kubelet::runtime::images::{ArchiveFormat, ImageSpec, build_archive};

/// The image every node has in its airgap directory.
pub const BUSYBOX: &str = "localhost/rkube/busybox:1";

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn quiet(args: &[&str]) {
    let _ = Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A child process stopped by PID: SIGTERM, then SIGKILL after 15 s.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
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

/// The host-side network: a bridge, and per agent a namespace and veth pair.
struct Network {
    bridge: String,
    namespaces: Vec<String>,
    host_veths: Vec<String>,
    cluster_cidr: String,
    node_bridges: Vec<String>,
    /// The server's proxy table in the host namespace (the agents' go with their namespaces).
    proxy_table: String,
}

impl Drop for Network {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            quiet(&["ip", "netns", "del", ns]);
        }
        for v in &self.host_veths {
            quiet(&["ip", "link", "del", v]);
        }
        for b in self.node_bridges.iter().chain([&self.bridge]) {
            quiet(&["ip", "link", "del", b]);
        }
        let c = &self.cluster_cidr;
        if let Ok(masq) = rkube_kubelet::runtime::cni::EgressMasquerade::new(c)
            && let Ok(rt) = tokio::runtime::Runtime::new()
        {
            let _ = rt.block_on(masq.remove());
        }
        quiet(&["nft", "delete", "table", "ip", &self.proxy_table]);
        // Routes to the agents' pod ranges went with the bridge; ours (proto 157) may remain.
        quiet(&["ip", "route", "flush", "proto", "157", "root", c]);
    }
}

/// A server (with its own node) and `agents` more nodes, each in its own namespace.
pub struct MultiNode {
    /// The admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The node names: the server's first.
    pub nodes: Vec<String>,
    /// The node addresses, in the same order.
    pub node_ips: Vec<String>,
    /// The agents' network namespaces (`/var/run/netns/<name>`).
    pub namespaces: Vec<String>,
    /// The cluster's pod network.
    pub cluster_cidr: String,
    /// The first three octets of the node network (`a.b.c`); LoadBalancer addresses come
    /// from `.200`–`.220` of it.
    pub subnet: String,
    agents: Vec<Process>,
    /// nsenter's arguments for each agent (to start it again).
    agent_args: Vec<Vec<String>>,
    server: Option<Process>,
    dirs: Vec<tempfile::TempDir>,
    _net: Network,
}

/// `rkube agent` under nsenter with `args`, its stderr appended to `<dir>/agent.log`.
fn spawn_agent(args: &[String], dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("agent.log"))
        .unwrap();
    Command::new("nsenter")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start rkube agent")
}

fn airgap_images(data_dir: &Path) {
    let images = data_dir.join("agent/images");
    std::fs::create_dir_all(&images).unwrap();
    build_archive(
        &ImageSpec::busybox(BUSYBOX),
        ArchiveFormat::Oci,
        &images.join("busybox.tar"),
    )
    .unwrap();
}

impl MultiNode {
    /// Starts the server and `agents` agents and waits until every node is Ready.
    pub fn start(agents: usize, server_flags: &[&str]) -> MultiNode {
        let pid = std::process::id();
        // A /24 for node addresses and a /16 for pods, both picked from the PID so concurrent
        // test binaries don't collide.
        let subnet = format!("10.{}.{}", 240 + pid % 10, pid % 250);
        let cluster_cidr = format!("10.{}.0.0/16", 180 + pid % 20);
        let tag = pid % 100_000;
        let mut net = Network {
            bridge: format!("rkm{tag}"),
            namespaces: Vec::new(),
            host_veths: Vec::new(),
            cluster_cidr: cluster_cidr.clone(),
            node_bridges: vec![format!("rkmc{tag}")],
            proxy_table: format!("rkm{tag}-proxy"),
        };
        let server_ip = format!("{subnet}.1");
        sh(&["ip", "link", "add", &net.bridge, "type", "bridge"]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{server_ip}/24"),
            "dev",
            &net.bridge,
        ]);
        sh(&["ip", "link", "set", &net.bridge, "up"]);
        let mut node_ips = vec![server_ip.clone()];
        for i in 0..agents {
            let ns = format!("rkm{tag}n{i}");
            let host_end = format!("rkm{tag}v{i}");
            sh(&["ip", "netns", "add", &ns]);
            net.namespaces.push(ns.clone());
            sh(&[
                "ip", "link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            net.host_veths.push(host_end.clone());
            sh(&["ip", "link", "set", &host_end, "master", &net.bridge, "up"]);
            let ip = format!("{subnet}.{}", i + 2);
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ]);
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            sh(&[
                "ip", "-n", &ns, "route", "add", "default", "via", &server_ip,
            ]);
            node_ips.push(ip);
        }
        let dir = tempfile::tempdir().unwrap();
        airgap_images(dir.path());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let server_node = format!("rkm{tag}-server");
        let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
            .args([
                "server",
                "--https-listen-port",
                &port,
                "--bind-address",
                "0.0.0.0",
            ])
            .args(["--advertise-address", &server_ip, "--tls-san", &server_ip])
            .args(["--node-name", &server_node, "--node-ip", &server_ip])
            .args([
                "--cluster-cidr",
                &cluster_cidr,
                "--cni-bridge",
                &net.node_bridges[0],
            ])
            .args(["--kubelet-port", "0"])
            .args(["--controller-manager-metrics-address", "127.0.0.1:0"])
            .args([
                "--kube-proxy-table",
                &net.proxy_table,
                "--kube-proxy-metrics-address",
                "127.0.0.1:0",
            ])
            .args(["--service-lb-pool", &format!("{subnet}.200-{subnet}.220")])
            .args(server_flags)
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("server.log")).unwrap(),
            ))
            .spawn()
            .expect("start rkube server");
        let stdout = child.stdout.take().unwrap();
        let server = Process(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(path) = line.strip_prefix("kubeconfig: ") {
                    let _ = tx.send(PathBuf::from(path));
                }
            }
        });
        let kubeconfig = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server printed its kubeconfig path");
        let token = std::fs::read_to_string(dir.path().join("node-token"))
            .unwrap()
            .trim()
            .to_string();
        let url = format!("https://{server_ip}:{port}");
        let mut nodes = vec![server_node];
        let mut procs = Vec::new();
        let mut agent_args = Vec::new();
        let mut dirs = vec![dir];
        for (i, ns) in net.namespaces.iter().enumerate() {
            let adir = tempfile::tempdir().unwrap();
            airgap_images(adir.path());
            let name = format!("rkm{tag}-agent{i}");
            let args: Vec<String> = [
                format!("--net=/var/run/netns/{ns}"),
                env!("CARGO_BIN_EXE_rkube").into(),
                "agent".into(),
                "--server".into(),
                url.clone(),
                "--token".into(),
                token.clone(),
                "--node-name".into(),
                name.clone(),
                "--node-ip".into(),
                node_ips[i + 1].clone(),
                "--cluster-cidr".into(),
                cluster_cidr.clone(),
                "--kubelet-port".into(),
                "0".into(),
                "--data-dir".into(),
                adir.path().display().to_string(),
            ]
            .into();
            let child = spawn_agent(&args, adir.path());
            agent_args.push(args);
            procs.push(Process(child));
            nodes.push(name);
            dirs.push(adir);
        }
        let cluster = MultiNode {
            kubeconfig,
            nodes,
            node_ips,
            namespaces: net.namespaces.clone(),
            cluster_cidr,
            subnet,
            agents: procs,
            agent_args,
            server: Some(server),
            dirs,
            _net: net,
        };
        for n in cluster.nodes.clone() {
            cluster.wait(&format!("node {n} Ready"), Duration::from_secs(120), || {
                let (_, out, _) = cluster.kubectl(&[
                    "get",
                    "node",
                    &n,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                ]);
                out == "True"
            });
        }
        cluster
    }

    /// The server's and agents' logs (for failure messages).
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for d in &self.dirs {
            for f in ["server.log", "agent.log"] {
                if let Ok(s) = std::fs::read_to_string(d.path().join(f)) {
                    let tail: Vec<&str> = s.lines().rev().take(40).collect();
                    out.push_str(&format!("--- {f} (last lines)\n"));
                    for l in tail.into_iter().rev() {
                        out.push_str(l);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// kubectl against the cluster: (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("/usr/bin/kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self.dirs[0].path())
            .output()
            .expect("run kubectl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// kubectl with `input` on stdin (`apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> (bool, String, String) {
        use std::io::Write;
        let mut child = Command::new("/usr/bin/kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self.dirs[0].path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Polls `f` until true; panics with the logs after `timeout`.
    pub fn wait(&self, what: &str, timeout: Duration, f: impl Fn() -> bool) {
        let deadline = Instant::now() + timeout;
        while !f() {
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Runs `cmd` in `pod`'s container: (exit ok, stdout; stdout+stderr when it failed).
    /// kubectl 1.32's WebSocket client may log a harmless "Unknown stream id" to stderr when
    /// the server's ready message beats its stream setup (client-go fixed that race later),
    /// so a successful command's output is its stdout alone.
    pub fn exec(&self, pod: &str, cmd: &[&str]) -> (bool, String) {
        let mut args = vec!["exec", pod, "--"];
        args.extend_from_slice(cmd);
        let (ok, out, err) = self.kubectl(&args);
        if ok {
            (ok, out)
        } else {
            (ok, format!("{out}{err}"))
        }
    }

    /// Stops agent `i` cleanly (SIGTERM, waited for; its containerd stops, its pods and
    /// rules stay).
    pub fn stop_agent(&mut self, i: usize) {
        let p = &mut self.agents[i].0;
        let pid = nix::unistd::Pid::from_raw(p.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = p.wait();
    }

    /// Starts agent `i` again with its original flags.
    pub fn start_agent(&mut self, i: usize) {
        let child = spawn_agent(&self.agent_args[i], self.dirs[i + 1].path());
        self.agents[i] = Process(child);
    }

    /// Node `i`'s data directory (0 is the server's node, then the agents in order).
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dirs[i].path().to_path_buf()
    }

    /// Imports `archive` into every running node's runtime with the real
    /// `rkube images import --data-dir <node's dir>` (containerd's socket is a file, so this
    /// works from the host namespace for agents too); panics with its output when one fails.
    pub fn import_images(&self, archive: &Path) {
        for (i, d) in self.dirs.iter().enumerate() {
            let start = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_rkube"))
                .args(["images", "import", "--data-dir"])
                .arg(d.path())
                .arg(archive)
                .output()
                .expect("run rkube images import");
            assert!(
                out.status.success(),
                "rkube images import on node {i}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!(
                "imported {} into node {} in {:.1} s",
                archive.display(),
                self.nodes[i],
                start.elapsed().as_secs_f64()
            );
        }
    }

    /// Stops agent `i` abruptly (SIGKILL by PID; its containerd and pods keep running).
    pub fn kill_agent(&mut self, i: usize) {
        let p = &mut self.agents[i].0;
        let _ = p.kill();
        let _ = p.wait();
    }
}

impl Drop for MultiNode {
    /// Pods go first (their shims would outlive the namespaces), then the agents (SIGTERM stops
    /// their containerd), any containerd a killed agent left behind (by the PID it recorded),
    /// the server, any shim still running from the nodes' dirs, and finally the network.
    fn drop(&mut self) {
        // Workload controllers first, or they replace what is removed below.
        let _ = self.kubectl(&[
            "delete",
            "rc,rs,deploy,ds,sts,job,cronjob",
            "--all",
            "-A",
            "--timeout=30s",
        ]);
        // Every runtime's pods, through CRI (a killed agent's containerd is still running).
        let sockets: Vec<PathBuf> = self
            .dirs
            .iter()
            .map(|d| d.path().join("agent/containerd/containerd.sock"))
            .filter(|s| s.exists())
            .collect();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                for s in sockets {
                    if let Ok(cri) =
                        rkube_kubelet::cri::Cri::connect(&s, Duration::from_secs(2)).await
                    {
                        cri.remove_all_sandboxes().await;
                    }
                }
            });
        })
        .join();
        self.agents.clear();
        for d in &self.dirs {
            let pid_file = d.path().join("agent/containerd/containerd.pid");
            if let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                // Only if that PID is still a containerd (it may have exited cleanly and the
                // number been reused).
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "containerd" {
                    let pid = nix::unistd::Pid::from_raw(pid);
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                }
            }
        }
        self.server.take();
        // A pod the kubelets started after the sandbox removal above outlives them.
        let dirs: Vec<&Path> = self.dirs.iter().map(|d| d.path()).collect();
        super::leftovers::remove(&dirs);
    }
}
