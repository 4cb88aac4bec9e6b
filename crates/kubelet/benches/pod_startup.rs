//! Kubelet pod startup benchmark: pod startup latency as upstream's SLO defines it (pod
//! creation to the pod observed Running through a watch with all its containers started,
//! image already present), for pods started one at a time and for a burst created at once,
//! beside the same runtime driven directly over CRI (RunPodSandbox + CreateContainer +
//! StartContainer with the kubelet's own sandbox and container configs) in the same run, on
//! the same containerd; then the memory the kubelet adds, and where the kubelet's time goes.
//!
//! `cargo bench -p rkube-kubelet --bench pod_startup` (add `-- --quick` for 10 pods instead
//! of 50; `-- --cri-trace` runs containerd at trace log level and counts every CRI request the
//! kubelet makes, at some cost to containerd's speed). Needs root, containerd, runc and the CNI
//! plugins, as the kubelet's tests do. Prints Markdown tables for BENCHMARKS.md on stdout and
//! progress on stderr. The apiserver runs in this process (as in the kubelet's tests); the
//! kubelet gets its own client.
//!
//! Order: warm-up, kubelet start (idle memory), then one at a time with raw starts and rkube
//! pods alternating (both see the same load on a shared machine), then a raw burst, then an
//! rkube burst. The raw sandboxes carry the pod UID under another label, so the running
//! kubelet's relist leaves them alone.
//!
//! The phase breakdown comes from containerd's own log (it logs the start and the return of
//! every RunPodSandbox, CreateContainer and StartContainer with nanosecond timestamps) and
//! from this process's watches on pods and on events (`Pulled`, `Created`, `Started`).
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use rkube_apiserver::server::{RunningServer, ServerConfig};
use rkube_kubelet::Kubelet;
use rkube_kubelet::config::KubeletConfig;
use rkube_kubelet::cri::Cri;
use rkube_kubelet::pods::container::{ContainerInputs, container_config};
use rkube_kubelet::pods::labels::POD_UID;
use rkube_kubelet::pods::sandbox::sandbox_config;
use rkube_kubelet::runtime::cni::CniNetwork;
use rkube_kubelet::runtime::containerd::{Containerd, ContainerdConfig};
use rkube_kubelet::runtime::images::{self, PAUSE_IMAGE};
use rkube_kubelet::volumes::Prepared;
use serde_json::json;
use tokio::sync::Notify;

/// The image every pod runs (imported before the first measurement: no pull is timed).
const BUSYBOX: &str = "localhost/rkube/busybox:1";
const NAMESPACE: &str = "default";
/// Every benchmark pod carries this label; the watch selects on it.
const SELECTOR: &str = "app=pod-startup-bench";
/// The longest one pod may take to be observed Running.
const POD_DEADLINE: Duration = Duration::from_secs(60);
/// The longest a burst may take to be all Running.
const BURST_DEADLINE: Duration = Duration::from_secs(300);
/// The longest the pods of a phase may take to be gone from the API and the runtime.
const CLEAN_DEADLINE: Duration = Duration::from_secs(180);
/// Marks the raw reference's sandboxes and containers. They carry the pod UID under
/// [`RAW_UID_LABEL`] instead of the kubelet's label, so the kubelet's relist ignores them (it
/// would stop them as orphans otherwise) and both can run side by side.
const RAW_LABEL: &str = "bench.rkube.dev/raw";
const RAW_UID_LABEL: &str = "bench.rkube.dev/pod-uid";
/// Sandboxes stopped and removed at once when the benchmark cleans up itself.
const REMOVERS: usize = 10;

// ---------------------------------------------------------------------------------------------
// Time: everything is kept as milliseconds since the benchmark started, so that this process's
// instants and containerd's wall-clock log timestamps can be compared.

struct Clock {
    start: Instant,
    wall_ns: i128,
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| Clock {
        start: Instant::now(),
        wall_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128),
    })
}

impl Clock {
    fn now_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
    }

    /// A wall-clock time (ns since the epoch) on the benchmark's time line.
    fn wall_ms(&self, unix_ns: i128) -> f64 {
        (unix_ns - self.wall_ns) as f64 / 1e6
    }
}

fn progress(what: impl std::fmt::Display) {
    eprintln!("[{:7.1} s] {what}", clock().now_ms() / 1e3);
}

// ---------------------------------------------------------------------------------------------
// Statistics.

#[derive(Clone, Copy, Debug, Default)]
struct Summary {
    n: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// Nearest-rank percentiles (with 50 samples p99 is the largest but none).
fn summary(values: &[f64]) -> Summary {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Summary::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Summary {
        n: v.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: v[v.len() - 1],
    }
}

// ---------------------------------------------------------------------------------------------
// The node: in-process apiserver, private containerd with its own CNI bridge, the images, the
// kubelet. Adapted from the kubelet tests' `TestNode`; removes everything it started, also on a
// panic (on drop).

struct BenchNode {
    name: String,
    /// The benchmark's own client.
    client: kube::Client,
    /// A second client for the kubelet (its own connections, as a separate process would have).
    kubelet_client: kube::Client,
    cri: Cri,
    kubelet: Option<Kubelet>,
    server: Option<RunningServer>,
    containerd: Option<Containerd>,
    containerd_pid: u32,
    socket: PathBuf,
    log_file: PathBuf,
    ctd_root: PathBuf,
    bridge: String,
    net: String,
    config: KubeletConfig,
    dir: tempfile::TempDir,
}

async fn client_from(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("client config"),
    )
    .expect("client")
}

impl BenchNode {
    /// Everything but the kubelet.
    async fn start(cri_trace: bool) -> BenchNode {
        let pid = std::process::id();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut sc = ServerConfig::new(dir.path().join("server"));
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        let client = client_from(&server.kubeconfig).await;
        let kubelet_client = client_from(&server.kubeconfig).await;

        // containerd keeps its sockets under its root: keep the path short.
        let ctd_root = PathBuf::from(format!("/tmp/rkb-{pid}"));
        let _ = std::fs::remove_dir_all(&ctd_root);
        let conf_dir = dir.path().join("cni/net.d");
        std::fs::create_dir_all(&conf_dir).expect("CNI conf dir");
        let mut net = CniNetwork::new(
            &format!("10.234.{}.0/24", pid % 256),
            dir.path().join("cni/ipam"),
        )
        .expect("CNI network");
        net.name = format!("rkb-{pid}");
        net.bridge = format!("rkb{}", pid % 100_000);
        net.write(&conf_dir).await.expect("CNI config");
        let mut ctd_config =
            ContainerdConfig::new(&ctd_root, "/usr/lib/cni", &conf_dir, PAUSE_IMAGE);
        if cri_trace {
            ctd_config.log_level = "trace".into();
        }
        let containerd = Containerd::start(ctd_config)
            .await
            .expect("containerd starts");
        let containerd_pid = containerd.pid().expect("containerd PID");
        let socket = containerd.socket();
        let log_file = containerd.config().log_file();
        let cri = containerd
            .connect(Duration::from_secs(10))
            .await
            .expect("CRI");
        let work = dir.path().join("images");
        images::ensure_pause_image(&cri, PAUSE_IMAGE, &work)
            .await
            .expect("pause image");
        images::import_busybox_image(&cri, BUSYBOX, vec![], &work)
            .await
            .expect("busybox image");
        let name = format!("bench-node-{pid}");
        let config = KubeletConfig::new(&name, [127, 0, 0, 1].into(), dir.path().join("agent"));
        BenchNode {
            name,
            client,
            kubelet_client,
            cri,
            kubelet: None,
            server: Some(server),
            containerd: Some(containerd),
            containerd_pid,
            socket,
            log_file,
            ctd_root,
            bridge: net.bridge.clone(),
            net: net.name.clone(),
            config,
            dir,
        }
    }

    async fn start_kubelet(&mut self) {
        self.kubelet = Some(
            Kubelet::start(
                self.config.clone(),
                self.kubelet_client.clone(),
                self.cri.clone(),
            )
            .await
            .expect("kubelet starts"),
        );
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Stops everything in order and removes what the benchmark left on the host.
    async fn stop(mut self) {
        if let Some(k) = self.kubelet.take() {
            k.shutdown().await;
        }
        remove_sandboxes(&self.cri, false).await;
        if let Some(c) = self.containerd.take() {
            let _ = c.stop().await;
        }
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        host_cleanup(&self.bridge, &self.net, &self.ctd_root);
    }
}

impl Drop for BenchNode {
    /// A failed run still removes its pods, stops its containerd and removes its bridge.
    fn drop(&mut self) {
        let Some(containerd) = self.containerd.take() else {
            return;
        };
        let socket = self.socket.clone();
        let (bridge, net, root) = (self.bridge.clone(), self.net.clone(), self.ctd_root.clone());
        self.kubelet.take();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("cleanup runtime");
            rt.block_on(async move {
                // A fresh channel: the benchmark's runtime (and its connections) is going away.
                if let Ok(cri) = Cri::connect(&socket, Duration::from_secs(2)).await {
                    remove_sandboxes(&cri, false).await;
                }
                let _ = containerd.stop().await;
            });
            host_cleanup(&bridge, &net, &root);
        })
        .join();
    }
}

/// Stops and removes every sandbox (and so every container) of the runtime, or only the raw
/// reference's, a few at a time, then the pod cgroups runc leaves behind.
async fn remove_sandboxes(cri: &Cri, only_raw: bool) {
    let filter = only_raw.then(|| cri::PodSandboxFilter {
        label_selector: HashMap::from([(RAW_LABEL.to_string(), "true".to_string())]),
        ..Default::default()
    });
    let Ok(list) = cri
        .runtime
        .clone()
        .list_pod_sandbox(cri::ListPodSandboxRequest { filter })
        .await
    else {
        return;
    };
    let items = list.into_inner().items;
    let uids: Vec<String> = items
        .iter()
        .filter_map(|s| s.metadata.as_ref().map(|m| m.uid.clone()))
        .collect();
    futures::stream::iter(items)
        .for_each_concurrent(REMOVERS, |s| {
            let mut rt = cri.runtime.clone();
            async move {
                let _ = rt
                    .stop_pod_sandbox(cri::StopPodSandboxRequest {
                        pod_sandbox_id: s.id.clone(),
                    })
                    .await;
                let _ = rt
                    .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                        pod_sandbox_id: s.id,
                    })
                    .await;
            }
        })
        .await;
    for uid in uids {
        for qos in ["", "burstable/", "besteffort/"] {
            remove_cgroup(&format!("kubepods/{qos}pod{uid}"));
        }
    }
}

/// Removes cgroup `relative` (bottom-up, with rmdir) from every hierarchy where it exists.
fn remove_cgroup(relative: &str) {
    fn remove_tree(dir: &Path) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir = h.path().join(relative);
        if dir.is_dir() {
            remove_tree(&dir);
        }
    }
}

fn host_cleanup(bridge: &str, net: &str, ctd_root: &Path) {
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
    // containerd's root, unless something is still mounted under it.
    let root = ctd_root.to_string_lossy().into_owned();
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&root)));
    if !mounted {
        let _ = std::fs::remove_dir_all(ctd_root);
    }
}

// ---------------------------------------------------------------------------------------------
// Processes: memory and CPU from /proc.

fn proc_field_kb(path: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        l.strip_prefix(key)?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}

fn rss_kb(pid: &str) -> u64 {
    proc_field_kb(&format!("/proc/{pid}/status"), "VmRSS:").unwrap_or(0)
}

fn pss_kb(pid: &str) -> u64 {
    proc_field_kb(&format!("/proc/{pid}/smaps_rollup"), "Pss:").unwrap_or(0)
}

/// User + system CPU time of a process in seconds (USER_HZ is 100 on Linux).
fn cpu_s(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may contain spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the state field.
    (ticks(11) + ticks(12)) / 100.0
}

/// The shims serving our containerd (found by the socket in their command line).
fn shim_pids(socket: &Path) -> Vec<String> {
    let sock = socket.to_string_lossy();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args
            .first()
            .is_some_and(|a| a.ends_with("containerd-shim-runc-v2"))
            && args.iter().any(|a| a == sock.as_ref())
        {
            out.push(pid);
        }
    }
    out
}

#[derive(Clone, Debug)]
struct MemSnap {
    label: String,
    self_rss: u64,
    containerd_rss: u64,
    shims: usize,
    shims_rss: u64,
    shims_pss: u64,
}

fn mem_snap(node: &BenchNode, label: &str) -> MemSnap {
    let shims = shim_pids(&node.socket);
    let snap = MemSnap {
        label: label.into(),
        self_rss: rss_kb("self"),
        containerd_rss: rss_kb(&node.containerd_pid.to_string()),
        shims: shims.len(),
        shims_rss: shims.iter().map(|p| rss_kb(p)).sum(),
        shims_pss: shims.iter().map(|p| pss_kb(p)).sum(),
    };
    progress(format_args!(
        "memory ({label}): bench process {:.1} MiB, containerd {:.1} MiB, {} shims {:.1} MiB RSS / {:.1} MiB PSS",
        mib(snap.self_rss),
        mib(snap.containerd_rss),
        snap.shims,
        mib(snap.shims_rss),
        mib(snap.shims_pss)
    ));
    snap
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// CPU seconds of this process and of containerd at one moment.
#[derive(Clone, Copy)]
struct Cpu {
    bench: f64,
    containerd: f64,
}

fn cpu_now(node: &BenchNode) -> Cpu {
    Cpu {
        bench: cpu_s("self"),
        containerd: cpu_s(&node.containerd_pid.to_string()),
    }
}

fn cpu_since(node: &BenchNode, before: Cpu) -> Cpu {
    let now = cpu_now(node);
    Cpu {
        bench: now.bench - before.bench,
        containerd: now.containerd - before.containerd,
    }
}

// ---------------------------------------------------------------------------------------------
// The pods.

fn pod_json(name: &str, uid: Option<&str>, node: &str) -> serde_json::Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "pod-startup-bench"}},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "3600"]}]
        }
    });
    if let Some(uid) = uid {
        pod["metadata"]["uid"] = uid.into();
    }
    pod
}

/// Running with every container reported started (upstream's "all its containers are reported
/// as started").
fn all_started(p: &Pod) -> bool {
    let Some(st) = p.status.as_ref() else {
        return false;
    };
    let want = p.spec.as_ref().map_or(0, |s| s.containers.len());
    let cs = st.container_statuses.as_deref().unwrap_or_default();
    st.phase.as_deref() == Some("Running")
        && want > 0
        && cs.len() == want
        && cs.iter().all(|c| {
            c.state.as_ref().is_some_and(|s| s.running.is_some()) && c.started != Some(false)
        })
}

/// What this process's watches saw, in ms on the benchmark's time line.
#[derive(Default)]
struct Observed {
    /// Pod name → (first seen, first seen Running with all containers started).
    pods: Mutex<HashMap<String, (f64, Option<f64>)>>,
    /// (pod name, event reason) → first seen.
    events: Mutex<HashMap<(String, String), f64>>,
    pods_synced: AtomicBool,
    events_synced: AtomicBool,
    changed: Notify,
}

impl Observed {
    fn running(&self, name: &str) -> Option<f64> {
        self.pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .and_then(|e| e.1)
    }

    fn added(&self, name: &str) -> Option<f64> {
        self.pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map(|e| e.0)
    }

    fn event(&self, name: &str, reason: &str) -> Option<f64> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(name.to_string(), reason.to_string()))
            .copied()
    }

    /// Waits until every pod in `names` was seen Running, or `deadline` passes.
    async fn wait_running(&self, names: &[String], deadline: Duration) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let notified = self.changed.notified();
            if names.iter().all(|n| self.running(n).is_some()) {
                return true;
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return false;
            }
        }
    }
}

async fn watch_pods(api: Api<Pod>, obs: Arc<Observed>) {
    let config = watcher::Config::default().labels(SELECTOR);
    let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
    while let Some(ev) = stream.next().await {
        let now = clock().now_ms();
        let pod = match ev {
            Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => p,
            Ok(watcher::Event::InitDone) => {
                obs.pods_synced.store(true, Ordering::SeqCst);
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                progress(format_args!("pod watch error: {e}"));
                continue;
            }
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let running = all_started(&pod);
        {
            let mut m = obs.pods.lock().unwrap_or_else(|p| p.into_inner());
            let e = m.entry(name).or_insert((now, None));
            if running && e.1.is_none() {
                e.1 = Some(now);
            }
        }
        obs.changed.notify_waiters();
    }
}

async fn watch_events(api: Api<Event>, obs: Arc<Observed>) {
    let mut stream = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
    while let Some(ev) = stream.next().await {
        let now = clock().now_ms();
        let e = match ev {
            Ok(watcher::Event::Apply(e)) => e,
            Ok(watcher::Event::InitDone) => {
                obs.events_synced.store(true, Ordering::SeqCst);
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                progress(format_args!("event watch error: {e}"));
                continue;
            }
        };
        let (Some(name), Some(reason)) = (e.involved_object.name, e.reason) else {
            continue;
        };
        obs.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((name, reason))
            .or_insert(now);
    }
}

/// One pod created through the API.
#[derive(Clone, Debug)]
struct ApiPod {
    name: String,
    uid: String,
    create_start: f64,
    create_done: f64,
}

async fn create_pod(api: Api<Pod>, node: String, name: String) -> ApiPod {
    let pod: Pod = serde_json::from_value(pod_json(&name, None, &node)).expect("pod JSON");
    let create_start = clock().now_ms();
    let created = api
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod created");
    ApiPod {
        name,
        uid: created.metadata.uid.unwrap_or_default(),
        create_start,
        create_done: clock().now_ms(),
    }
}

/// Deletes the benchmark's pods and waits until the API and the runtime have none left;
/// returns how long that took (s).
async fn delete_and_wait(node: &BenchNode, names: &[String]) -> f64 {
    let start = clock().now_ms();
    let api = node.pods();
    futures::future::join_all(names.iter().map(|n| {
        let api = api.clone();
        async move {
            let _ = api.delete(n, &DeleteParams::default()).await;
        }
    }))
    .await;
    let until = tokio::time::Instant::now() + CLEAN_DEADLINE;
    loop {
        let left_api = api
            .list(&ListParams::default().labels(SELECTOR))
            .await
            .map_or(usize::MAX, |l| l.items.len());
        let left_rt = sandbox_count(&node.cri).await;
        if left_api == 0 && left_rt == 0 {
            break;
        }
        if tokio::time::Instant::now() > until {
            progress(format_args!(
                "cleanup deadline passed ({left_api} pods, {left_rt} sandboxes left); removing them directly"
            ));
            remove_sandboxes(&node.cri, false).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (clock().now_ms() - start) / 1e3
}

async fn sandbox_count(cri: &Cri) -> usize {
    cri.runtime
        .clone()
        .list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
        .await
        .map_or(usize::MAX, |r| r.into_inner().items.len())
}

// ---------------------------------------------------------------------------------------------
// The raw CRI reference.

/// What a raw start needs: the kubelet's config (log dirs, DNS) and the resolved image.
struct RawContext {
    cri: Cri,
    config: KubeletConfig,
    image_ref: String,
    memory_bytes: i64,
    pod_dirs: PathBuf,
}

/// One raw start: client-side durations of the three calls (ms).
#[derive(Clone, Copy, Debug)]
struct RawStart {
    total: f64,
    run: f64,
    create: f64,
    start: f64,
}

/// RunPodSandbox + CreateContainer + StartContainer for a pod shaped as the benchmark's API pods,
/// with the configs the kubelet would send for it (same code: the kubelet's public builders).
async fn raw_start(ctx: Arc<RawContext>, name: String, uid: String) -> RawStart {
    let pod: Pod = serde_json::from_value(pod_json(&name, Some(&uid), &ctx.config.node_name))
        .expect("pod JSON");
    let container = pod.spec.as_ref().expect("spec").containers[0].clone();
    let mut rt = ctx.cri.runtime.clone();
    let t0 = Instant::now();
    let mut sandbox = sandbox_config(&pod, 0, &ctx.config);
    relabel(&mut sandbox.labels);
    let _ = std::fs::create_dir_all(&sandbox.log_directory);
    let sandbox_id = rt
        .run_pod_sandbox(cri::RunPodSandboxRequest {
            config: Some(sandbox.clone()),
            runtime_handler: String::new(),
        })
        .await
        .expect("RunPodSandbox")
        .into_inner()
        .pod_sandbox_id;
    let t1 = Instant::now();
    let pod_dir = ctx.pod_dirs.join(&uid);
    let _ = std::fs::create_dir_all(&pod_dir);
    let hosts = pod_dir.join("etc-hosts");
    let _ = std::fs::write(&hosts, format!("127.0.0.1\tlocalhost\n\t{name}\n"));
    let volumes: HashMap<String, Prepared> = HashMap::new();
    let mut config = container_config(
        &pod,
        &container,
        &ContainerInputs {
            env: &[],
            volumes: &volumes,
            hosts_file: Some(&hosts),
            image_ref: &ctx.image_ref,
            attempt: 0,
            memory_capacity: ctx.memory_bytes,
        },
    )
    .expect("container config");
    relabel(&mut config.labels);
    let container_id = rt
        .create_container(cri::CreateContainerRequest {
            pod_sandbox_id: sandbox_id,
            config: Some(config),
            sandbox_config: Some(sandbox),
        })
        .await
        .expect("CreateContainer")
        .into_inner()
        .container_id;
    let t2 = Instant::now();
    rt.start_container(cri::StartContainerRequest { container_id })
        .await
        .expect("StartContainer");
    let t3 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    RawStart {
        total: ms(t0, t3),
        run: ms(t0, t1),
        create: ms(t1, t2),
        start: ms(t2, t3),
    }
}

/// Moves the pod UID label out of the kubelet's sight and marks the object as the raw
/// reference's (same number of labels but one).
fn relabel(labels: &mut HashMap<String, String>) {
    if let Some(uid) = labels.remove(POD_UID) {
        labels.insert(RAW_UID_LABEL.into(), uid);
    }
    labels.insert(RAW_LABEL.into(), "true".into());
}

fn raw_uid(phase: &str, i: usize) -> String {
    let tag = match phase {
        "seq" => 1,
        "burst" => 2,
        _ => 0,
    };
    format!(
        "{:08x}-0000-4000-8{:03x}-{:012x}",
        std::process::id(),
        tag,
        i
    )
}

// ---------------------------------------------------------------------------------------------
// containerd's log: when each CRI call of each pod arrived and returned.

#[derive(Clone, Copy, Debug, Default)]
struct Span {
    begin: Option<f64>,
    end: Option<f64>,
}

#[derive(Default)]
struct CtdLog {
    /// Pod UID → sandbox span and ID.
    sandboxes: HashMap<String, (Span, String)>,
    /// Sandbox ID → CreateContainer span and container ID.
    creates: HashMap<String, (Span, String)>,
    /// Container ID → StartContainer span.
    starts: HashMap<String, Span>,
    /// Every CRI request logged (at trace level, all of them): when, and the method.
    calls: Vec<(f64, String)>,
}

/// The CRI methods whose requests containerd logs (as the first word of the message).
const CRI_METHODS: &[&str] = &[
    "Version",
    "RunPodSandbox",
    "StopPodSandbox",
    "RemovePodSandbox",
    "PodSandboxStatus",
    "ListPodSandbox",
    "CreateContainer",
    "StartContainer",
    "StopContainer",
    "RemoveContainer",
    "ListContainers",
    "ContainerStatus",
    "UpdateContainerResources",
    "ExecSync",
    "ContainerStats",
    "ListContainerStats",
    "PodSandboxStats",
    "ListPodSandboxStats",
    "Status",
    "ListImages",
    "ImageStatus",
    "PullImage",
    "RemoveImage",
    "ImageFsInfo",
];

fn between<'a>(s: &'a str, from: &str, to: &str) -> Option<&'a str> {
    let rest = &s[s.find(from)? + from.len()..];
    Some(&rest[..rest.find(to)?])
}

fn parse_containerd_log(path: &Path) -> CtdLog {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut log = CtdLog::default();
    for line in text.lines() {
        let Some(ts) = between(line, "time=\"", "\"") else {
            continue;
        };
        let Ok(ts) = ts.parse::<jiff::Timestamp>() else {
            continue;
        };
        let t = clock().wall_ms(ts.as_nanosecond());
        let Some(msg) = line
            .split_once(" msg=\"")
            .map(|(_, m)| m.replace("\\\"", "\""))
        else {
            continue;
        };
        let first = msg.split([' ', ':']).next().unwrap_or_default();
        if CRI_METHODS.contains(&first) && !msg.contains(" returns ") && !msg.contains("failed") {
            log.calls.push((t, first.to_string()));
        }
        if let Some(meta) = msg.strip_prefix("RunPodSandbox for &PodSandboxMetadata{") {
            let Some(uid) = between(meta, "Uid:", ",") else {
                continue;
            };
            let e = log.sandboxes.entry(uid.to_string()).or_default();
            match between(meta, "returns sandbox id \"", "\"") {
                Some(id) => {
                    e.0.end = Some(t);
                    e.1 = id.to_string();
                }
                None => {
                    e.0.begin.get_or_insert(t);
                }
            }
        } else if let Some(rest) = msg.strip_prefix("CreateContainer within sandbox \"") {
            let Some(sid) = rest.split('"').next() else {
                continue;
            };
            let e = log.creates.entry(sid.to_string()).or_default();
            match between(rest, "returns container id \"", "\"") {
                Some(id) => {
                    e.0.end = Some(t);
                    e.1 = id.to_string();
                }
                None => {
                    e.0.begin.get_or_insert(t);
                }
            }
        } else if let Some(rest) = msg.strip_prefix("StartContainer for \"") {
            let Some(cid) = rest.split('"').next() else {
                continue;
            };
            let e = log.starts.entry(cid.to_string()).or_default();
            if rest.contains("returns successfully") {
                e.end = Some(t);
            } else {
                e.begin.get_or_insert(t);
            }
        }
    }
    log
}

/// Where one API pod's startup time went (ms), as far as the logs and watches tell.
#[derive(Clone, Copy, Debug, Default)]
struct Phases {
    total: f64,
    create_call: f64,
    watch_added: f64,
    to_sandbox: f64,
    sandbox: f64,
    to_create: f64,
    create: f64,
    to_start: f64,
    start: f64,
    to_started_event: f64,
    to_observed: f64,
    /// StartContainer returned → pod seen Running: the kubelet's last gap (the `Started`
    /// event is queued, so it is no longer part of it).
    after_start: f64,
}

fn phases(p: &ApiPod, obs: &Observed, log: &CtdLog) -> Option<Phases> {
    let running = obs.running(&p.name)?;
    let (sb, sid) = log.sandboxes.get(&p.uid)?;
    let (cc, cid) = log.creates.get(sid)?;
    let st = log.starts.get(cid)?;
    let (sb0, sb1, cc0, cc1, st0, st1) =
        (sb.begin?, sb.end?, cc.begin?, cc.end?, st.begin?, st.end?);
    let started_event = obs.event(&p.name, "Started").unwrap_or(f64::NAN);
    Some(Phases {
        total: running - p.create_start,
        create_call: p.create_done - p.create_start,
        watch_added: obs.added(&p.name).unwrap_or(f64::NAN) - p.create_done,
        to_sandbox: sb0 - p.create_done,
        sandbox: sb1 - sb0,
        to_create: cc0 - sb1,
        create: cc1 - cc0,
        to_start: st0 - cc1,
        start: st1 - st0,
        to_started_event: started_event - st1,
        to_observed: running - started_event,
        after_start: running - st1,
    })
}

// ---------------------------------------------------------------------------------------------
// The measurements.

struct RawResult {
    starts: Vec<RawStart>,
    makespan_ms: f64,
    cpu: Option<Cpu>,
    window: (f64, f64),
}

struct ApiResult {
    pods: Vec<ApiPod>,
    latencies: Vec<f64>,
    makespan_ms: f64,
    cpu: Option<Cpu>,
    window: (f64, f64),
    cleanup_s: f64,
}

/// Creates pod `name` and waits until the watch sees it Running.
async fn api_one(node: &BenchNode, obs: &Observed, name: String) -> ApiPod {
    let p = create_pod(node.pods(), node.name.clone(), name).await;
    if !obs
        .wait_running(std::slice::from_ref(&p.name), POD_DEADLINE)
        .await
    {
        panic!("pod {} not Running within {POD_DEADLINE:?}", p.name);
    }
    p
}

/// One at a time, alternating a raw CRI start and an rkube pod, so that both see the same
/// machine (it is shared) and the same number of pods already running.
async fn seq_phase(
    node: &BenchNode,
    ctx: &Arc<RawContext>,
    obs: &Observed,
    n: usize,
) -> (RawResult, ApiResult, MemSnap) {
    progress(format_args!(
        "one at a time: {n} raw CRI starts and {n} rkube pods, alternating"
    ));
    let t0 = clock().now_ms();
    let (mut starts, mut pods) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let s = raw_start(ctx.clone(), format!("raw-seq-{i}"), raw_uid("seq", i)).await;
        let p = api_one(node, obs, format!("seq-{i}")).await;
        let took = obs.running(&p.name).unwrap_or(f64::NAN) - p.create_start;
        if (i + 1) % 10 == 0 || i + 1 == n {
            progress(format_args!(
                "one at a time: {}/{n} (last: raw {:.0} ms, rkube {took:.0} ms)",
                i + 1,
                s.total
            ));
        }
        starts.push(s);
        pods.push(p);
    }
    let window = (t0, clock().now_ms());
    let mem = mem_snap(
        node,
        &format!("{n} raw sandboxes + {n} kubelet pods running (one at a time)"),
    );
    let t = clock().now_ms();
    remove_sandboxes(&node.cri, true).await;
    progress(format_args!(
        "one at a time: removed {n} raw sandboxes in {:.1} s",
        (clock().now_ms() - t) / 1e3
    ));
    let names: Vec<String> = pods.iter().map(|p| p.name.clone()).collect();
    let cleanup_s = delete_and_wait(node, &names).await;
    progress(format_args!(
        "one at a time: deleted {n} pods (gone from the API and the runtime) in {cleanup_s:.1} s"
    ));
    let latencies = pods
        .iter()
        .map(|p| obs.running(&p.name).unwrap_or(f64::NAN) - p.create_start)
        .collect();
    (
        RawResult {
            starts,
            makespan_ms: f64::NAN,
            cpu: None,
            window,
        },
        ApiResult {
            pods,
            latencies,
            makespan_ms: f64::NAN,
            cpu: None,
            window,
            cleanup_s,
        },
        mem,
    )
}

/// A burst of `n` raw CRI starts at once.
async fn raw_burst(node: &BenchNode, ctx: &Arc<RawContext>, n: usize) -> (RawResult, MemSnap) {
    progress(format_args!("raw CRI, burst: {n} sandboxes at once"));
    let cpu0 = cpu_now(node);
    let t0 = clock().now_ms();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        set.spawn(raw_start(
            ctx.clone(),
            format!("raw-burst-{i}"),
            raw_uid("burst", i),
        ));
    }
    let mut starts = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        starts.push(r.expect("raw start task"));
        if starts.len() % 10 == 0 {
            progress(format_args!("raw CRI, burst: {}/{n} started", starts.len()));
        }
    }
    let t1 = clock().now_ms();
    let cpu = cpu_since(node, cpu0);
    let mem = mem_snap(node, &format!("raw CRI, {n} sandboxes running (burst)"));
    remove_sandboxes(&node.cri, true).await;
    progress(format_args!(
        "raw CRI, burst: removed {n} sandboxes in {:.1} s",
        (clock().now_ms() - t1) / 1e3
    ));
    (
        RawResult {
            starts,
            makespan_ms: t1 - t0,
            cpu: Some(cpu),
            window: (t0, t1),
        },
        mem,
    )
}

/// A burst of `n` pods created at once through the API.
async fn api_burst(node: &BenchNode, obs: &Observed, n: usize) -> (ApiResult, MemSnap) {
    progress(format_args!("rkube, burst: {n} pods created at once"));
    let api = node.pods();
    let cpu0 = cpu_now(node);
    let t0 = clock().now_ms();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        set.spawn(create_pod(
            api.clone(),
            node.name.clone(),
            format!("burst-{i}"),
        ));
    }
    let mut pods = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        pods.push(r.expect("create task"));
    }
    progress(format_args!(
        "rkube, burst: {n} pods created in {:.0} ms",
        clock().now_ms() - t0
    ));
    let names: Vec<String> = pods.iter().map(|p| p.name.clone()).collect();
    let mut seen = 0;
    let until = tokio::time::Instant::now() + BURST_DEADLINE;
    while seen < n {
        let running = names.iter().filter(|n| obs.running(n).is_some()).count();
        if running >= seen + 10 || running == n {
            seen = running;
            progress(format_args!("rkube, burst: {seen}/{n} Running"));
        }
        if tokio::time::Instant::now() > until {
            panic!("only {running}/{n} pods Running within {BURST_DEADLINE:?}");
        }
        let _ = obs.wait_running(&names, Duration::from_millis(250)).await;
    }
    let t1 = pods
        .iter()
        .filter_map(|p| obs.running(&p.name))
        .fold(0.0, f64::max);
    let cpu = cpu_since(node, cpu0);
    let latencies = pods
        .iter()
        .map(|p| obs.running(&p.name).unwrap_or(f64::NAN) - p.create_start)
        .collect();
    let mem = mem_snap(node, &format!("kubelet, {n} pods running (burst)"));
    let cleanup_s = delete_and_wait(node, &names).await;
    progress(format_args!(
        "rkube, burst: deleted {n} pods (gone from the API and the runtime) in {cleanup_s:.1} s"
    ));
    (
        ApiResult {
            pods,
            latencies,
            makespan_ms: t1 - t0,
            cpu: Some(cpu),
            window: (t0, t1),
            cleanup_s,
        },
        mem,
    )
}

async fn wait_node_ready(node: &BenchNode) {
    let nodes: Api<Node> = Api::all(node.client.clone());
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(n)) = nodes.get_opt(&node.name).await
            && n.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .any(|c| c.type_ == "Ready" && c.status == "True")
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "node never became Ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn mem_total_bytes() -> i64 {
    proc_field_kb("/proc/meminfo", "MemTotal:").unwrap_or(0) as i64 * 1024
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} vCPU {cpu}, {:.0} GiB, kernel {}",
        mem_total_bytes() as f64 / (1u64 << 30) as f64,
        kernel.trim()
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split(' ')
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// Report.

fn row_latency(label: &str, s: Summary, raw: Option<Summary>, makespan_ms: f64) {
    let ratio = raw.map_or("–".to_string(), |r| {
        format!("{:.2}× / {:.2}×", s.p50 / r.p50, s.p99 / r.p99)
    });
    let makespan = if makespan_ms.is_finite() {
        format!("{:.2} s", makespan_ms / 1e3)
    } else {
        "–".into()
    };
    println!(
        "| {label} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {ratio} | {makespan} |",
        s.n, s.p50, s.p90, s.p99, s.max
    );
}

/// Everything the report prints.
struct Results<'a> {
    n: usize,
    raw_seq: &'a RawResult,
    raw_burst: &'a RawResult,
    seq: &'a ApiResult,
    burst: &'a ApiResult,
    idle_window: (f64, f64),
    cri_trace: bool,
    load_at_start: String,
    mems: &'a [MemSnap],
    obs: &'a Observed,
    log: &'a CtdLog,
}

fn print_report(r: &Results<'_>) {
    let Results {
        n,
        raw_seq,
        raw_burst,
        seq,
        burst,
        idle_window,
        cri_trace,
        ref load_at_start,
        mems,
        obs,
        log,
    } = *r;
    let raw_total = |r: &RawResult| summary(&r.starts.iter().map(|s| s.total).collect::<Vec<_>>());
    let (rs, rb) = (raw_total(raw_seq), raw_total(raw_burst));
    let (ks, kb) = (summary(&seq.latencies), summary(&burst.latencies));
    println!();
    println!(
        "Machine: {}; load average (1, 5, 15 min) at the start {load_at_start}, at the end {}.",
        machine(),
        loadavg()
    );
    println!();
    println!(
        "| pod startup, ms | pods | p50 | p90 | p99 | max | rkube/raw (p50 / p99) | first create → last Running |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    row_latency("rkube, one at a time", ks, Some(rs), seq.makespan_ms);
    row_latency("raw CRI, one at a time", rs, None, raw_seq.makespan_ms);
    row_latency(
        &format!("rkube, burst of {n}"),
        kb,
        Some(rb),
        burst.makespan_ms,
    );
    row_latency(
        &format!("raw CRI, burst of {n}"),
        rb,
        None,
        raw_burst.makespan_ms,
    );
    println!();
    let verdict = |k: Summary, r: Summary| {
        format!(
            "p99 {:.0} ms ({}), {:.2}× raw ({})",
            k.p99,
            if k.p99 <= 1000.0 { "met" } else { "not met" },
            k.p99 / r.p99,
            if k.p99 <= 1.3 * r.p99 {
                "met"
            } else {
                "not met"
            }
        )
    };
    println!(
        "Goal: p99 ≤ 1000 ms and ≤ 1.3× raw CRI. One at a time: {}; burst: {}.",
        verdict(ks, rs),
        verdict(kb, rb)
    );

    // Where the time goes.
    let ph = |r: &ApiResult| -> Vec<Phases> {
        r.pods.iter().filter_map(|p| phases(p, obs, log)).collect()
    };
    let (ps, pb) = (ph(seq), ph(burst));
    let raw_part = |r: &RawResult, f: fn(&RawStart) -> f64| {
        summary(&r.starts.iter().map(f).collect::<Vec<_>>())
    };
    println!();
    println!(
        "Where the time goes (ms, p50 / p99 over the pods; {} of {} and {} of {} rkube pods matched in containerd's log; raw columns are client-side call times):",
        ps.len(),
        seq.pods.len(),
        pb.len(),
        burst.pods.len()
    );
    println!();
    println!("| phase | rkube one at a time | rkube burst | raw one at a time | raw burst |");
    println!("|---|---|---|---|---|");
    let cell = |s: Summary| {
        if s.n == 0 {
            "–".to_string()
        } else {
            format!("{:.1} / {:.1}", s.p50, s.p99)
        }
    };
    type Pick = fn(&Phases) -> f64;
    type RawPick = fn(&RawStart) -> f64;
    let rows: [(&str, Pick, Option<RawPick>); 12] = [
        (
            "API create call (client → response)",
            |p| p.create_call,
            None,
        ),
        (
            "(create response → pod ADDED on the benchmark's own watch)",
            |p| p.watch_added,
            None,
        ),
        (
            "create response → containerd receives RunPodSandbox (watch to kubelet, sync start; runtime state from the PLEG's relist)",
            |p| p.to_sandbox,
            None,
        ),
        (
            "RunPodSandbox in containerd",
            |p| p.sandbox,
            Some(|r| r.run),
        ),
        (
            "sandbox returned → CreateContainer received (PodSandboxStatus, hosts file, ImageStatus, env from the Service cache; Pulled event queued)",
            |p| p.to_create,
            None,
        ),
        (
            "CreateContainer in containerd",
            |p| p.create,
            Some(|r| r.create),
        ),
        (
            "container created → StartContainer received (Created event queued)",
            |p| p.to_start,
            None,
        ),
        (
            "StartContainer in containerd",
            |p| p.start,
            Some(|r| r.start),
        ),
        (
            "StartContainer returned → pod seen Running (runtime read, status patch, watch)",
            |p| p.after_start,
            None,
        ),
        (
            "(StartContainer returned → queued Started event seen by the benchmark)",
            |p| p.to_started_event,
            None,
        ),
        (
            "(queued Started event seen → pod seen Running; negative when the status came first)",
            |p| p.to_observed,
            None,
        ),
        (
            "total (create call → seen Running)",
            |p| p.total,
            Some(|r| r.total),
        ),
    ];
    for (label, pick, raw) in rows {
        let s = summary(&ps.iter().map(pick).collect::<Vec<_>>());
        let b = summary(&pb.iter().map(pick).collect::<Vec<_>>());
        let (r1, r2) = match raw {
            Some(f) => (cell(raw_part(raw_seq, f)), cell(raw_part(raw_burst, f))),
            None => ("–".into(), "–".into()),
        };
        println!("| {label} | {} | {} | {r1} | {r2} |", cell(s), cell(b));
    }
    println!();
    if let (Some(a), Some(b)) = (burst.cpu, raw_burst.cpu) {
        println!(
            "CPU seconds from the first create to the last start (bench process = apiserver + kubelet + clients; containerd): rkube burst {:.2} + {:.2}, raw burst {:.2} + {:.2}.",
            a.bench, a.containerd, b.bench, b.containerd
        );
    }
    println!(
        "Deleting the pods through the API until the runtime had none left: {:.1} s (one at a time phase), {:.1} s (burst phase).",
        seq.cleanup_s, burst.cleanup_s
    );

    if cri_trace {
        print_cri_calls(
            n,
            log,
            idle_window,
            seq.window,
            raw_burst.window,
            burst.window,
        );
    }

    println!();
    println!(
        "| memory (MiB) | bench process RSS | containerd RSS | shims | shims RSS (sum) | shims PSS (sum) |"
    );
    println!("|---|---|---|---|---|---|");
    for m in mems {
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.1} | {:.1} |",
            m.label,
            mib(m.self_rss),
            mib(m.containerd_rss),
            m.shims,
            mib(m.shims_rss),
            mib(m.shims_pss)
        );
    }
    println!();

    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    for (what, k, r) in [("one at a time", ks, rs), ("all in one burst", kb, rb)] {
        println!(
            "SUMMARY | kubelet: pod startup p50 / p99, {n} pods {what} | {:.0} / {:.0} ms ({:.2}× / {:.2}× raw) | raw CRI {:.0} / {:.0} ms; goal p99 ≤ 1000 ms and ≤ 1.3× raw",
            k.p50,
            k.p99,
            k.p50 / r.p50,
            k.p99 / r.p99,
            r.p50,
            r.p99
        );
    }
}

/// CRI requests containerd logged (at trace level) per pod in each phase, by method.
fn print_cri_calls(
    n: usize,
    log: &CtdLog,
    idle: (f64, f64),
    seq: (f64, f64),
    raw_burst: (f64, f64),
    burst: (f64, f64),
) {
    let count = |w: (f64, f64), m: &str| {
        log.calls
            .iter()
            .filter(|(t, name)| *t >= w.0 && *t <= w.1 && name == m)
            .count()
    };
    let mut methods: Vec<&str> = log.calls.iter().map(|(_, m)| m.as_str()).collect();
    methods.sort_unstable();
    methods.dedup();
    let idle_s = (idle.1 - idle.0) / 1e3;
    println!();
    println!(
        "CRI requests received by containerd (its trace log) per pod; the one-at-a-time phase includes the raw starts' one RunPodSandbox, CreateContainer and StartContainer per pod:"
    );
    println!();
    println!(
        "| CRI method | kubelet idle, per s | one at a time (rkube + raw), per pod pair | raw burst, per pod | rkube burst, per pod |"
    );
    println!("|---|---|---|---|---|");
    let mut totals = [0.0; 4];
    for m in methods {
        let v = [
            count(idle, m) as f64 / idle_s,
            count(seq, m) as f64 / n as f64,
            count(raw_burst, m) as f64 / n as f64,
            count(burst, m) as f64 / n as f64,
        ];
        for (t, x) in totals.iter_mut().zip(v) {
            *t += x;
        }
        println!(
            "| {m} | {:.1} | {:.1} | {:.1} | {:.1} |",
            v[0], v[1], v[2], v[3]
        );
    }
    println!(
        "| all | {:.1} | {:.1} | {:.1} | {:.1} |",
        totals[0], totals[1], totals[2], totals[3]
    );
}

async fn run(n: usize, cri_trace: bool) {
    let load_at_start = loadavg();
    progress(format_args!(
        "machine: {}; load average {load_at_start}",
        machine()
    ));
    progress("starting the apiserver, containerd and importing the images");
    let mut node = BenchNode::start(cri_trace).await;
    let mut mems = vec![mem_snap(
        &node,
        "before the kubelet (apiserver + containerd client, images imported)",
    )];

    let image_ref = node
        .cri
        .images
        .clone()
        .image_status(cri::ImageStatusRequest {
            image: Some(cri::ImageSpec {
                image: BUSYBOX.into(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await
        .expect("ImageStatus")
        .into_inner()
        .image
        .expect("busybox image present")
        .id;
    let ctx = Arc::new(RawContext {
        cri: node.cri.clone(),
        config: node.config.clone(),
        image_ref,
        memory_bytes: mem_total_bytes(),
        pod_dirs: node.dir.path().join("raw-pods"),
    });
    // One warm-up sandbox: the first one also creates the CNI bridge.
    let warm = raw_start(ctx.clone(), "raw-warmup".into(), raw_uid("warmup", 0)).await;
    progress(format_args!(
        "raw CRI warm-up sandbox (creates the bridge): {:.0} ms",
        warm.total
    ));
    remove_sandboxes(&node.cri, false).await;

    progress("starting the kubelet");
    node.start_kubelet().await;
    wait_node_ready(&node).await;
    let idle0 = clock().now_ms();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_window = (idle0, clock().now_ms());
    mems.push(mem_snap(&node, "kubelet started, node Ready, idle"));

    let obs = Arc::new(Observed::default());
    tokio::spawn(watch_pods(node.pods(), obs.clone()));
    tokio::spawn(watch_events(
        Api::namespaced(node.client.clone(), NAMESPACE),
        obs.clone(),
    ));
    while !(obs.pods_synced.load(Ordering::SeqCst) && obs.events_synced.load(Ordering::SeqCst)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One warm-up pod (the kubelet's first pod also opens its connections).
    let warm = api_one(&node, &obs, "warmup".into()).await;
    progress(format_args!(
        "rkube warm-up pod: {:.0} ms",
        obs.running(&warm.name).unwrap_or(f64::NAN) - warm.create_start
    ));
    delete_and_wait(&node, std::slice::from_ref(&warm.name)).await;

    let (raw_seq, seq, mem) = seq_phase(&node, &ctx, &obs, n).await;
    mems.push(mem);
    let (raw_burst, mem) = raw_burst(&node, &ctx, n).await;
    mems.push(mem);
    let (burst, mem) = api_burst(&node, &obs, n).await;
    mems.push(mem);
    tokio::time::sleep(Duration::from_secs(2)).await;
    mems.push(mem_snap(&node, "kubelet, all pods deleted"));

    let log = parse_containerd_log(&node.log_file);
    let api_uids: HashSet<&str> = seq
        .pods
        .iter()
        .chain(&burst.pods)
        .map(|p| p.uid.as_str())
        .collect();
    progress(format_args!(
        "containerd log: {} sandboxes ({} of the API pods), {} CRI requests traced",
        log.sandboxes.len(),
        log.sandboxes
            .keys()
            .filter(|u| api_uids.contains(u.as_str()))
            .count(),
        log.calls.len()
    ));
    print_report(&Results {
        n,
        raw_seq: &raw_seq,
        raw_burst: &raw_burst,
        seq: &seq,
        burst: &burst,
        idle_window,
        cri_trace,
        load_at_start,
        mems: &mems,
        obs: &obs,
        log: &log,
    });

    if let Some(k) = &node.kubelet {
        println!();
        println!(
            "Events the kubelet dropped because its queue was full: {}",
            k.pods.events.dropped()
        );
    }
    progress("stopping the kubelet, containerd and the apiserver");
    node.stop().await;
    progress("done");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = if args.iter().any(|a| a == "--quick") {
        10
    } else {
        50
    };
    // containerd logs every CRI request at trace level: counts them, at some cost to its speed.
    let cri_trace = args.iter().any(|a| a == "--cri-trace");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    clock();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(run(n, cri_trace));
}
