//! Test harness: an in-process apiserver, a simulated node as network namespaces (a "node"
//! namespace with a bridge, "pod" namespaces attached by veth, an off-cluster "client"
//! namespace), tiny TCP/UDP servers bound inside pod namespaces that answer with their name and
//! the peer address they saw, and clients that connect from any namespace. Every namespace is
//! named with the test process's PID and a counter and deleted by a Drop guard.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use rkube_apiserver::server::{RunningServer, ServerConfig};
use rkube_proxy::{Proxy, ProxyConfig};
use serde_json::{Value, json};

/// The node's name as the proxy knows it.
pub const NODE: &str = "node-a";
/// The node's address on the "external" link.
pub const NODE_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
/// The off-cluster client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);
/// The bridge (gateway) address in the pod network.
pub const BRIDGE_IP: Ipv4Addr = Ipv4Addr::new(10, 42, 0, 1);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs `cmd` (a shell-free argv), panicking with its output on failure.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `args` inside namespace `ns` (nsenter), returning stdout; panics on failure.
pub fn in_ns(ns: &str, args: &[&str]) -> String {
    let net = format!("--net=/var/run/netns/{ns}");
    let mut v = vec!["nsenter", net.as_str()];
    v.extend_from_slice(args);
    sh(&v)
}

/// Runs `f` on a thread that has entered network namespace `ns`: sockets it creates live
/// there for good, whichever thread uses them later.
pub fn enter<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = PathBuf::from(format!("/var/run/netns/{ns}"));
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("netns thread")
}

/// A node with pods and an outside client, all network namespaces.
pub struct Topology {
    /// The node namespace's name (the proxy programs it).
    pub node: String,
    /// The client namespace's name.
    pub client: String,
    /// Pod namespace names, index i has address 10.42.0.(10+i).
    pub pods: Vec<String>,
    names: Vec<String>,
}

impl Topology {
    /// Builds a node with `pods` pods.
    pub fn new(pods: usize) -> Topology {
        let id = format!(
            "rkp{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut t = Topology {
            node: format!("{id}-node"),
            client: format!("{id}-cli"),
            pods: Vec::new(),
            names: Vec::new(),
        };
        for ns in [t.node.clone(), t.client.clone()] {
            t.add_ns(&ns);
        }
        let node = t.node.clone();
        in_ns(&node, &["ip", "link", "set", "lo", "up"]);
        in_ns(&node, &["ip", "link", "add", "br0", "type", "bridge"]);
        in_ns(&node, &["ip", "addr", "add", "10.42.0.1/24", "dev", "br0"]);
        in_ns(&node, &["ip", "link", "set", "br0", "up"]);
        in_ns(&node, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        // The client link: the node's "external" address and an outside machine.
        in_ns(
            &node,
            &[
                "ip", "link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns",
                &t.client,
            ],
        );
        in_ns(
            &node,
            &["ip", "addr", "add", &format!("{NODE_IP}/24"), "dev", "ext0"],
        );
        in_ns(&node, &["ip", "link", "set", "ext0", "up"]);
        // kube-proxy adds no routes: the Service network is routed to the bridge by "the CNI".
        in_ns(&node, &["ip", "route", "add", "10.43.0.0/16", "dev", "br0"]);
        in_ns(
            &node,
            &[
                "ip",
                "route",
                "add",
                "default",
                "via",
                &CLIENT_IP.to_string(),
            ],
        );
        let client = t.client.clone();
        in_ns(&client, &["ip", "link", "set", "lo", "up"]);
        in_ns(
            &client,
            &[
                "ip",
                "addr",
                "add",
                &format!("{CLIENT_IP}/24"),
                "dev",
                "eth0",
            ],
        );
        in_ns(&client, &["ip", "link", "set", "eth0", "up"]);
        in_ns(
            &client,
            &["ip", "route", "add", "default", "via", &NODE_IP.to_string()],
        );
        for i in 0..pods {
            t.add_pod(i);
        }
        t
    }

    fn add_ns(&mut self, name: &str) {
        sh(&["ip", "netns", "add", name]);
        self.names.push(name.to_string());
    }

    fn add_pod(&mut self, i: usize) {
        let pod = format!("{}-p{i}", self.node.trim_end_matches("-node"));
        self.add_ns(&pod);
        let veth = format!("veth{i}");
        in_ns(
            &self.node,
            &[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &pod,
            ],
        );
        in_ns(&self.node, &["ip", "link", "set", &veth, "master", "br0"]);
        // Hairpin: a pod reaching itself through a Service gets its packets back on its port.
        in_ns(
            &self.node,
            &["bridge", "link", "set", "dev", &veth, "hairpin", "on"],
        );
        in_ns(&self.node, &["ip", "link", "set", &veth, "up"]);
        in_ns(&pod, &["ip", "link", "set", "lo", "up"]);
        in_ns(
            &pod,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", Self::pod_ip(i)),
                "dev",
                "eth0",
            ],
        );
        in_ns(&pod, &["ip", "link", "set", "eth0", "up"]);
        in_ns(
            &pod,
            &[
                "ip",
                "route",
                "add",
                "default",
                "via",
                &BRIDGE_IP.to_string(),
            ],
        );
        self.pods.push(pod);
    }

    /// Pod i's address.
    pub fn pod_ip(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 42, 0, 10 + i as u8)
    }

    /// `/var/run/netns/<node>`.
    pub fn node_path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.node))
    }

    /// A proxy configuration programming this node.
    pub fn proxy_config(&self) -> ProxyConfig {
        let mut c = ProxyConfig::new(NODE);
        c.node_ips = vec![NODE_IP.into()];
        c.netns = Some(self.node_path());
        c.table = "kube-proxy".into();
        c.min_sync_period = Duration::from_millis(100);
        c.sync_period = Duration::from_secs(30);
        c
    }

    /// Starts a TCP server in pod `i` on `port` answering `name peer=<ip>:<port>`.
    pub fn tcp_server(&self, i: usize, port: u16, name: &str) {
        let listener = enter(&self.pods[i], move || {
            TcpListener::bind(("0.0.0.0", port)).expect("bind tcp")
        });
        let name = name.to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let peer = conn.peer_addr().map(|p| p.to_string()).unwrap_or_default();
                let _ = conn.write_all(format!("{name} peer={peer}\n").as_bytes());
            }
        });
    }

    /// Starts a UDP server in pod `i` on `port` answering each datagram with
    /// `name peer=<ip>:<port>`.
    pub fn udp_server(&self, i: usize, port: u16, name: &str) {
        let sock = enter(&self.pods[i], move || {
            UdpSocket::bind(("0.0.0.0", port)).expect("bind udp")
        });
        let name = name.to_string();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((_, peer)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(format!("{name} peer={peer}").as_bytes(), peer);
            }
        });
    }

    /// Deletes the namespaces now (also done on drop).
    pub fn teardown(&mut self) {
        for ns in self.names.drain(..).rev() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Connects from namespace `ns` to `addr:port` and reads the answer.
pub fn tcp_get(ns: &str, addr: Ipv4Addr, port: u16) -> std::io::Result<String> {
    enter(ns, move || {
        let mut s = TcpStream::connect_timeout(
            &SocketAddr::V4(SocketAddrV4::new(addr, port)),
            Duration::from_secs(2),
        )?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out.trim().to_string())
    })
}

/// Sends one datagram from namespace `ns` (from `src_port`, 0 for any) and waits for an answer.
pub fn udp_ask(ns: &str, src_port: u16, addr: Ipv4Addr, port: u16) -> std::io::Result<String> {
    enter(ns, move || {
        let s = UdpSocket::bind(("0.0.0.0", src_port))?;
        s.set_read_timeout(Some(Duration::from_millis(700)))?;
        s.send_to(b"hi", (addr, port))?;
        let mut buf = [0u8; 1500];
        let (n, _) = s.recv_from(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
}

/// The backend names seen in `n` requests.
pub fn backends(ns: &str, addr: Ipv4Addr, port: u16, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| match tcp_get(ns, addr, port) {
            Ok(s) => s.split(' ').next().unwrap_or_default().to_string(),
            Err(e) => format!("error:{e}"),
        })
        .collect()
}

/// Polls `f` until it returns true or `timeout` passes; how long it took.
pub async fn eventually(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The proxy's table as `nft list table` prints it.
pub fn list_table(t: &Topology) -> String {
    let out = Command::new("nsenter")
        .args([
            format!("--net=/var/run/netns/{}", t.node).as_str(),
            "nft",
            "list",
            "table",
            "ip",
            "kube-proxy",
        ])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A control plane for one test.
pub struct Cluster {
    /// Admin client.
    pub client: kube::Client,
    server: Option<RunningServer>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts an apiserver on a free loopback port.
    pub async fn start() -> Cluster {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "rkube_proxy=debug".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let mut sc = ServerConfig::new(dir.path().join("server"));
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
        let client = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap();
        Cluster {
            client,
            server: Some(server),
            _dir: dir,
        }
    }

    /// Services in `default`.
    pub fn services(&self) -> Api<Service> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// EndpointSlices in `default`.
    pub fn slices(&self) -> Api<EndpointSlice> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a Service from `spec`; the stored object.
    pub async fn service(&self, name: &str, spec: Value) -> Service {
        let svc: Service = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }))
        .unwrap();
        self.services()
            .create(&PostParams::default(), &svc)
            .await
            .unwrap()
    }

    /// Sets a Service's LoadBalancer ingress IPs.
    pub async fn set_lb_ingress(&self, name: &str, ips: &[&str]) {
        let ingress: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        self.services()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": ingress}}})),
            )
            .await
            .unwrap();
    }

    /// Creates or replaces EndpointSlice `name` of Service `service` with `endpoints`
    /// (JSON endpoint objects) and `ports` (JSON port objects).
    pub async fn slice(&self, name: &str, service: &str, endpoints: Value, ports: Value) {
        let now = jiff::Timestamp::now().to_string();
        let slice: EndpointSlice = serde_json::from_value(json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default",
                "labels": {"kubernetes.io/service-name": service},
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": now}},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }))
        .unwrap();
        match self.slices().get_opt(name).await.unwrap() {
            Some(old) => {
                let mut s = slice;
                s.metadata.resource_version = old.metadata.resource_version;
                self.slices()
                    .replace(name, &PostParams::default(), &s)
                    .await
                    .unwrap();
            }
            None => {
                self.slices()
                    .create(&PostParams::default(), &slice)
                    .await
                    .unwrap();
            }
        }
    }

    /// Deletes a Service.
    pub async fn delete_service(&self, name: &str) {
        self.services()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Stops the apiserver.
    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// The ClusterIP of a stored Service.
pub fn cluster_ip(svc: &Service) -> Ipv4Addr {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap()
        .parse()
        .unwrap()
}

/// The first NodePort of a stored Service.
pub fn node_port(svc: &Service) -> u16 {
    svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0]
        .node_port
        .unwrap() as u16
}

/// An endpoint object for pod i (ready unless said otherwise), on node `node`.
pub fn endpoint(i: usize, ready: bool, node: &str) -> Value {
    json!({"addresses": [Topology::pod_ip(i).to_string()], "conditions": {"ready": ready, "serving": ready, "terminating": false}, "nodeName": node})
}

/// Starts a proxy for `topo` and waits for its first sync.
pub async fn start_proxy(cluster: &Cluster, config: ProxyConfig) -> Proxy {
    let proxy = Proxy::start(config, cluster.client.clone())
        .await
        .expect("proxy starts");
    assert!(
        proxy.wait_synced(0, Duration::from_secs(20)).await,
        "first sync: {:?}",
        proxy.stats()
    );
    proxy
}
