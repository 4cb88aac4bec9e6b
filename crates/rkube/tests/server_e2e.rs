//! The real `rkube server` binary driven by the real kubectl: start-up, readiness, the
//! namespace lifecycle that needs the in-process namespace controller, and a pod run by the
//! in-process node agent on a real containerd.

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
    /// SIGTERM first (the server then stops its node agent's containerd), SIGKILL after 10 s.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // already reaped: its PID may belong to someone else now
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// SIGTERM, then waits for a clean exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.child.wait().unwrap()
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
    start_with(tempfile::tempdir().unwrap(), &["--disable-agent"])
}

fn start_with(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args([
            "server",
            "--bind-address",
            "127.0.0.1",
            "--https-listen-port",
            &port.to_string(),
            "--dns-port",
            "0",
            "--kube-proxy-metrics-address",
            "127.0.0.1:0",
        ])
        .args(extra)
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
    // The issue asks for /readyz within 1 s; a debug build is ready ~0.7 s after start on an
    // idle machine. This bound includes a kubectl run and leaves room for the other tests of
    // this file starting containerd beside it on 2 cores; it still catches a start-up that
    // waits for something slow (the node agent, image imports).
    assert!(
        started.elapsed() < Duration::from_secs(5),
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

#[test]
fn the_node_agent_runs_a_pod_from_an_airgap_image() {
    use rkube_kubelet::runtime::images::{ArchiveFormat, ImageSpec, build_archive};
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("agent/images");
    std::fs::create_dir_all(&images).unwrap();
    build_archive(
        &ImageSpec::busybox("localhost/rkube/busybox:1"),
        ArchiveFormat::Docker,
        &images.join("busybox.tar"),
    )
    .unwrap();
    let pid = std::process::id();
    let node = format!("rk-e2e-{pid}");
    let (cidr, bridge) = (
        format!("10.{}.0.0/16", 200 + pid % 20),
        format!("rke{}", pid % 100_000),
    );
    // No --pod-cidr: the node IPAM controller assigns the node's range from --cluster-cidr
    // and the agent configures CNI from it.
    let mut s = start_with(
        dir,
        &[
            "--node-name",
            &node,
            "--cluster-cidr",
            &cidr,
            "--cni-bridge",
            &bridge,
            "--kube-proxy-table",
            &bridge,
        ],
    );
    let _net = NetCleanup {
        bridge: bridge.clone(),
        cidr: cidr.clone(),
    };
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait("node Ready", &|| {
        let (_, out, _) = s.kubectl(&[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ]);
        out == "True"
    });
    let pod = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"hello"}},"spec":{{"nodeName":"{node}","terminationGracePeriodSeconds":1,
        "containers":[{{"name":"c","image":"localhost/rkube/busybox:1","command":["sh","-c","echo hello from rkube; trap 'exit 0' TERM; while true; do sleep 0.2; done"]}}]}}}}"#
    );
    let path = s.dir.path().join("pod.json");
    std::fs::write(&path, pod).unwrap();
    let (ok, out, err) = s.kubectl(&["create", "-f", path.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    wait("pod Running", &|| {
        let (_, out, _) = s.kubectl(&["get", "pod", "hello", "--no-headers"]);
        out.contains("1/1") && out.contains("Running")
    });
    let (_, node_cidr, _) = s.kubectl(&["get", "node", &node, "-o", "jsonpath={.spec.podCIDR}"]);
    let net = cidr.trim_end_matches(".0.0/16");
    assert!(
        node_cidr.starts_with(&format!("{net}.")) && node_cidr.ends_with(".0/24"),
        "the node's range comes from --cluster-cidr {cidr}: {node_cidr:?}"
    );
    let (_, pod_ip, _) = s.kubectl(&["get", "pod", "hello", "-o", "jsonpath={.status.podIP}"]);
    let prefix = node_cidr.trim_end_matches("0/24");
    assert!(
        pod_ip.starts_with(prefix),
        "the pod's address {pod_ip} lies in the node's range {node_cidr}"
    );
    // The in-process scheduler and controller manager run a Deployment on real containers,
    // and the garbage collector removes its ReplicaSet and pods with it.
    let (ok, out, err) = s.kubectl(&[
        "create",
        "deployment",
        "web",
        "--image=localhost/rkube/busybox:1",
        "--replicas=2",
        "--",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.2; done",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = s.kubectl(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    assert!(ok && out.contains("successfully rolled out"), "{out}{err}");
    let (ok, out, err) = s.kubectl(&["delete", "deployment", "web", "--timeout=60s"]);
    assert!(ok, "{out}{err}");
    wait("the Deployment's pods to go", &|| {
        let (_, out, _) = s.kubectl(&["get", "pods", "-l", "app=web", "-o", "name"]);
        out.trim().is_empty()
    });

    // `rkube images import` loads an archive into the running node's runtime.
    let extra = s.dir.path().join("extra.tar");
    build_archive(
        &ImageSpec::busybox("localhost/rkube/extra:2"),
        ArchiveFormat::Oci,
        &extra,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["images", "import", "--data-dir"])
        .arg(s.dir.path())
        .arg(&extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("[1/1] importing") && err.contains("localhost/rkube/extra:2"),
        "{err}"
    );
    let missing = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["images", "import", "--data-dir"])
        .arg(s.dir.path())
        .arg(s.dir.path().join("nope.tar"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("1 of 1 archives failed"));

    let (ok, out, err) = s.kubectl(&["delete", "pod", "hello", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = s.kubectl(&["get", "pod", "hello"]);
    assert!(!ok && err.contains("not found"), "{err}");

    // The in-process proxy programmed the Services (here the `kubernetes` one and cluster
    // DNS) into its nftables table.
    let table = Command::new("nft")
        .args(["list", "table", "ip", &bridge])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("default/kubernetes") && table.contains("kube-system/kube-dns"),
        "{table}"
    );

    // SIGTERM stops the agent's containerd too (by its PID, recorded in its directory).
    let pid_file = s.dir.path().join("agent/containerd/containerd.pid");
    let ctd_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let status = s.terminate();
    assert!(status.success(), "server exit: {status:?}");
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(ctd_pid), None).is_err()
            || is_zombie(ctd_pid),
        "containerd {ctd_pid} still running"
    );
    let _ = Command::new("ip").args(["link", "del", &bridge]).status();
    let masq = rkube_kubelet::runtime::cni::EgressMasquerade::new(&cidr).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert!(
        rt.block_on(masq.present()).unwrap(),
        "the agent installed the egress rule"
    );
    rt.block_on(masq.remove()).unwrap();
}

/// Removes a test node's bridge and egress rule, also when the test fails.
struct NetCleanup {
    bridge: String,
    cidr: String,
}

impl Drop for NetCleanup {
    fn drop(&mut self) {
        // The proxy's table is named after the bridge in these tests.
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.bridge])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(Stdio::null())
            .status();
        remove_egress_rule(&self.cidr);
    }
}

/// Removes the agent's egress masquerade rule for `cidr`, if present (through the kubelet's
/// own code, so the rule is found however it was written).
fn remove_egress_rule(cidr: &str) {
    if let Ok(masq) = rkube_kubelet::runtime::cni::EgressMasquerade::new(cidr)
        && let Ok(rt) = tokio::runtime::Runtime::new()
    {
        let _ = rt.block_on(masq.remove());
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split(' ').nth(2) == Some("Z"))
}

#[test]
fn an_agent_joins_with_the_node_token_and_runs_pods() {
    use rkube_kubelet::runtime::images::{ArchiveFormat, ImageSpec, build_archive};
    let s = start();
    let token = std::fs::read_to_string(s.dir.path().join("node-token"))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        token.starts_with("K10") && token.contains("::server:"),
        "{token}"
    );
    let (_, url, _) = s.kubectl(&[
        "config",
        "view",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);

    // A wrong secret is refused, saying why.
    let bad = format!("{}::server:wrong", token.split("::").next().unwrap());
    let agent_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args(["agent", "--server", &url, "--token", &bad, "--data-dir"])
        .arg(agent_dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("401") && err.contains("could not join"),
        "{err}"
    );

    let images = agent_dir.path().join("agent/images");
    std::fs::create_dir_all(&images).unwrap();
    build_archive(
        &ImageSpec::busybox("localhost/rkube/busybox:1"),
        ArchiveFormat::Oci,
        &images.join("busybox.tar"),
    )
    .unwrap();
    let pid = std::process::id();
    let node = format!("rk-join-{pid}");
    let (cidr, pod_cidr, bridge) = (
        format!("10.{}.0.0/16", 220 + pid % 20),
        format!("10.{}.1.0/24", 220 + pid % 20),
        format!("rkj{}", pid % 100_000),
    );
    let _net = NetCleanup {
        bridge: bridge.clone(),
        cidr: cidr.clone(),
    };
    let mut agent = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args([
            "agent",
            "--server",
            &url,
            "--token",
            &token,
            "--kubelet-port",
            "0",
            "--node-name",
            &node,
            "--cluster-cidr",
            &cidr,
            "--pod-cidr",
            &pod_cidr,
            "--cni-bridge",
            &bridge,
            "--kube-proxy-table",
            &bridge,
            "--kube-proxy-metrics-address",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(agent_dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait("joined node Ready", &|| {
        let (_, out, _) = s.kubectl(&[
            "get",
            "node",
            &node,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        ]);
        out == "True"
    });
    let pod = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"joined"}},"spec":{{"nodeName":"{node}","terminationGracePeriodSeconds":1,
        "containers":[{{"name":"c","image":"localhost/rkube/busybox:1","command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 0.2; done"]}}]}}}}"#
    );
    let path = s.dir.path().join("joined.json");
    std::fs::write(&path, pod).unwrap();
    let (ok, out, err) = s.kubectl(&["create", "-f", path.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    wait("pod Running on the joined node", &|| {
        let (_, out, _) = s.kubectl(&["get", "pod", "joined", "--no-headers"]);
        out.contains("1/1") && out.contains("Running")
    });
    let (ok, out, err) = s.kubectl(&["delete", "pod", "joined", "--timeout=30s"]);
    assert!(ok, "{out}{err}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(agent.wait().unwrap().success());
}

/// A DNS query for `name` (type A, recursion desired) with id 0x1234.
fn dns_query(name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The rcode and the A records of a DNS answer.
fn dns_answer(resp: &[u8]) -> (u8, Vec<std::net::Ipv4Addr>) {
    let rcode = resp[3] & 0x0f;
    let answers = u16::from_be_bytes([resp[6], resp[7]]);
    // Skip the header and the question (uncompressed name + type + class).
    let mut i = 12;
    while resp[i] != 0 {
        i += resp[i] as usize + 1;
    }
    i += 5;
    let mut ips = Vec::new();
    for _ in 0..answers {
        // A compressed name pointer (2 bytes) or a full name.
        if resp[i] & 0xc0 == 0xc0 {
            i += 2;
        } else {
            while resp[i] != 0 {
                i += resp[i] as usize + 1;
            }
            i += 1;
        }
        let rtype = u16::from_be_bytes([resp[i], resp[i + 1]]);
        let len = u16::from_be_bytes([resp[i + 8], resp[i + 9]]) as usize;
        i += 10;
        if rtype == 1 && len == 4 {
            ips.push(std::net::Ipv4Addr::new(
                resp[i],
                resp[i + 1],
                resp[i + 2],
                resp[i + 3],
            ));
        }
        i += len;
    }
    (rcode, ips)
}

#[test]
fn rkube_dns_runs_alone_and_answers_for_services() {
    let s = start();
    let port = {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.local_addr().unwrap().port()
    };
    let mut dns = Command::new(env!("CARGO_BIN_EXE_rkube"))
        .args([
            "dns",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--kubeconfig",
        ])
        .arg(&s.kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let ask = |name: &str| {
        let mut buf = [0u8; 512];
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            sock.send_to(&dns_query(name), ("127.0.0.1", port)).unwrap();
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                return dns_answer(&buf[..n]);
            }
            assert!(Instant::now() < deadline, "no DNS answer for {name}");
        }
    };
    assert_eq!(
        ask("kubernetes.default.svc.cluster.local"),
        (0, vec![std::net::Ipv4Addr::new(10, 43, 0, 1)])
    );
    let (rcode, ips) = ask("nothing.default.svc.cluster.local");
    assert_eq!((rcode, ips.len()), (3, 0), "NXDOMAIN for a missing Service");
    let _ = dns.kill();
    let _ = dns.wait();
}
