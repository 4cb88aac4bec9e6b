//! A one-node cluster for the kubelet's tests: an in-process apiserver, a private containerd
//! with its own CNI bridge and subnet, the pause and busybox images, and the kubelet. Every
//! test gets its own (names derived from the PID and a counter) and removes what it started,
//! also when it fails (on drop).

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use rkube_apiserver::server::{RunningServer, ServerConfig};
use rkube_kubelet::Kubelet;
use rkube_kubelet::config::KubeletConfig;
use rkube_kubelet::cri::Cri;
use rkube_kubelet::runtime::cni::CniNetwork;
use rkube_kubelet::runtime::containerd::{Containerd, ContainerdConfig};
use rkube_kubelet::runtime::images::{self, PAUSE_IMAGE};

/// The busybox image every test pod runs.
pub const BUSYBOX: &str = "localhost/rkube/busybox:1";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One node with its control plane.
pub struct TestNode {
    /// The node's name.
    pub name: String,
    /// Admin client.
    pub client: kube::Client,
    /// The runtime.
    pub cri: Cri,
    /// The apiserver's kubeconfig (for kubectl).
    pub kubeconfig: PathBuf,
    kubelet: Option<Kubelet>,
    server: Option<RunningServer>,
    containerd: Option<Containerd>,
    bridge: String,
    net: String,
    /// The temporary directory everything lives in.
    pub dir: tempfile::TempDir,
    /// The kubelet's configuration (to restart it).
    pub config: KubeletConfig,
}

impl TestNode {
    /// Starts everything; `tune` adjusts the kubelet config first.
    pub async fn start_with(tune: impl FnOnce(&mut KubeletConfig)) -> TestNode {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("rkube_kubelet=info")
            .with_test_writer()
            .with_ansi(false)
            .try_init();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let dir = tempfile::tempdir().unwrap();
        let mut sc = ServerConfig::new(dir.path().join("server"));
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        let kubeconfig = server.kubeconfig.clone();
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let client = kube::Client::try_from(
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap();

        // containerd keeps its sockets under its root: keep the path short.
        let ctd_root = PathBuf::from(format!("/tmp/rkt-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&ctd_root);
        let conf_dir = dir.path().join("cni/net.d");
        std::fs::create_dir_all(&conf_dir).unwrap();
        let mut net = CniNetwork::new(
            &format!("10.232.{}.0/24", (pid * 8 + n) % 256),
            dir.path().join("cni/ipam"),
        )
        .unwrap();
        net.name = format!("rkp-{pid}-{n}");
        net.bridge = format!("rkp{}b{n}", pid % 100_000);
        net.write(&conf_dir).await.unwrap();
        let containerd = Containerd::start(ContainerdConfig::new(
            &ctd_root,
            "/usr/lib/cni",
            &conf_dir,
            PAUSE_IMAGE,
        ))
        .await
        .expect("containerd starts");
        let cri = containerd.connect(Duration::from_secs(10)).await.unwrap();
        let work = dir.path().join("images");
        images::ensure_pause_image(&cri, PAUSE_IMAGE, &work)
            .await
            .expect("pause image");
        images::import_busybox_image(&cri, BUSYBOX, vec![], &work)
            .await
            .expect("busybox image");

        let name = format!("node-{pid}-{n}");
        let mut config = KubeletConfig::new(&name, [127, 0, 0, 1].into(), dir.path().join("agent"));
        config.sync_interval = Duration::from_secs(5);
        // The kubelet API on a free loopback port, trusting the cluster CA (which issues the
        // apiserver's kubelet-client certificate).
        config.server_address = [127, 0, 0, 1].into();
        config.server_port = 0;
        config.client_ca_pem = std::fs::read_to_string(dir.path().join("server/tls/ca.crt")).ok();
        tune(&mut config);
        let kubelet = Kubelet::start(config.clone(), client.clone(), cri.clone())
            .await
            .expect("kubelet starts");
        TestNode {
            name,
            client,
            cri,
            kubeconfig,
            kubelet: Some(kubelet),
            server: Some(server),
            containerd: Some(containerd),
            bridge: net.bridge.clone(),
            net: net.name.clone(),
            dir,
            config,
        }
    }

    /// Starts with the default test configuration.
    pub async fn start() -> TestNode {
        Self::start_with(|_| {}).await
    }

    /// Stops the kubelet (pods keep running) and starts a new one on the same runtime.
    pub async fn restart_kubelet(&mut self) {
        if let Some(k) = self.kubelet.take() {
            k.shutdown().await;
        }
        self.kubelet = Some(
            Kubelet::start(self.config.clone(), self.client.clone(), self.cri.clone())
                .await
                .expect("kubelet restarts"),
        );
    }

    /// The private containerd's PID.
    pub fn containerd_pid(&self) -> Option<u32> {
        self.containerd.as_ref().and_then(|c| c.pid())
    }

    /// Pods API in `default`.
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Creates a pod from JSON, bound to this node.
    pub async fn create_pod(&self, mut pod: serde_json::Value) -> Pod {
        pod["spec"]["nodeName"] = self.name.clone().into();
        let pod: Pod = serde_json::from_value(pod).unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("pod created")
    }

    /// Waits until `check` holds for pod `name`, within `within`; panics with the last pod seen.
    pub async fn wait_pod(
        &self,
        name: &str,
        within: Duration,
        check: impl Fn(&Pod) -> bool,
    ) -> Pod {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = None;
        loop {
            if let Ok(Some(p)) = self.pods().get_opt(name).await {
                if check(&p) {
                    return p;
                }
                last = Some(p);
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "pod {name} did not reach the expected state in {within:?}; last seen: {:#?}",
                    last.map(|p| p.status)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `cmd` in container `name` of pod `p` through CRI ExecSync: (exit code, stdout,
    /// stderr).
    pub async fn exec(&self, p: &Pod, name: &str, cmd: &[&str]) -> (i32, String, String) {
        let id = container_status(p, name)
            .and_then(|c| c.container_id.clone())
            .expect("the container has an ID")
            .trim_start_matches("containerd://")
            .to_string();
        let req = cri::ExecSyncRequest {
            container_id: id,
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            timeout: 10,
        };
        let r = self
            .cri
            .runtime
            .clone()
            .exec_sync(req)
            .await
            .expect("exec")
            .into_inner();
        (
            r.exit_code,
            String::from_utf8_lossy(&r.stdout).into_owned(),
            String::from_utf8_lossy(&r.stderr).into_owned(),
        )
    }

    /// Runs kubectl against this cluster.
    pub async fn kubectl(&self, args: &[&str]) -> std::process::Output {
        self.kubectl_command(args)
            .output()
            .await
            .expect("kubectl runs")
    }

    /// A kubectl command against this cluster, to spawn with piped stdin or stdout.
    pub fn kubectl_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("/usr/bin/kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HOME", self.dir.path())
            .kill_on_drop(true);
        cmd
    }

    /// Where the kubelet API listens.
    pub fn kubelet_addr(&self) -> std::net::SocketAddr {
        self.kubelet.as_ref().expect("kubelet running").server_addr
    }

    /// Stops everything in order and removes what the test left on the host.
    pub async fn stop(mut self) {
        if let Some(k) = self.kubelet.take() {
            k.shutdown().await;
        }
        remove_all_pods(&self.cri).await;
        if let Some(c) = self.containerd.take() {
            let _ = c.stop().await;
        }
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        host_cleanup(&self.bridge, &self.net);
        unmount_under(self.dir.path());
    }
}

/// Stops and removes every sandbox (and so every container) of the runtime.
pub async fn remove_all_pods(cri: &Cri) {
    cri.remove_all_sandboxes().await;
}

fn host_cleanup(bridge: &str, net: &str) {
    let _ = std::process::Command::new("ip")
        .args(["link", "del", bridge])
        .stderr(std::process::Stdio::null())
        .status();
    for e in std::fs::read_dir("/var/lib/cni/results")
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.file_name()
            .to_string_lossy()
            .starts_with(&format!("{net}-"))
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl Drop for TestNode {
    /// A failed test still removes its pods and stops its containerd.
    fn drop(&mut self) {
        let (Some(containerd), cri) = (self.containerd.take(), self.cri.clone()) else {
            return;
        };
        let (bridge, net) = (self.bridge.clone(), self.net.clone());
        let dir = self.dir.path().to_path_buf();
        self.kubelet.take();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                // A fresh channel: the test's runtime (and its connections) is going away.
                if let Ok(cri) = Cri::connect(cri.socket(), Duration::from_secs(2)).await {
                    remove_all_pods(&cri).await;
                }
                let _ = containerd.stop().await;
            });
            host_cleanup(&bridge, &net);
            unmount_under(&dir);
        })
        .join();
    }
}

/// Detaches whatever is still mounted under `dir` (a memory-medium emptyDir's tmpfs: the
/// kubelet stopped before tearing its pods' volumes down), so the directory can be removed.
fn unmount_under(dir: &std::path::Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    // Field 5 is the mount point; the deepest first.
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| std::path::Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = std::process::Command::new("umount")
            .args(["-l", p])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The status of container (or init container) `name` of `p`.
pub fn container_status<'a>(
    p: &'a Pod,
    name: &str,
) -> Option<&'a k8s_openapi::api::core::v1::ContainerStatus> {
    let s = p.status.as_ref()?;
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
}
