//! Scheduler throughput, upstream scheduler_perf style, printed side by side with upstream's
//! published floors:
//!
//! * algorithm alone — the default profile over an in-memory cache of simulated nodes (no API
//!   calls): every workload;
//! * end to end through a real in-process apiserver — nodes created as objects (as
//!   scheduler_perf does, with its apiserver's admission: ServiceAccount and Priority off),
//!   warm-up pods, then the measured pods: "backlog" (pods created first,
//!   then the scheduler starts: scheduling + binding rate) and "streaming" (pods created while
//!   the scheduler runs: create → bound). The scheduler reaches the apiserver through its
//!   in-process transport, as in `rkube server`; SchedulingBasic also runs with it over HTTPS
//!   (a standalone `rkube scheduler`), and its end-to-end runs are repeated three times
//!   (medians in the table, each run under it): this host's speed swings by 2× from one
//!   minute to the next.
//!
//! `cargo bench -p rkube-scheduler --bench throughput [-- --quick] [--algorithm-only]
//! [--only basic|anti|node|spread]`; `-- --cold` prints only the basic algorithm with its
//! caches evicted before each cycle (a measuring aid for the end-to-end stream's cache misses).
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

/// The allocator the `rkube` binary uses, so the in-process servers measure as it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use rkube_scheduler::algorithm::{NextStart, schedule_pod};
use rkube_scheduler::cache::Cache;
use rkube_scheduler::config::default_frameworks;
use rkube_scheduler::framework::{CycleState, PodInfo};
use rkube_scheduler::{Scheduler, SchedulerOptions};
use serde_json::{Value, json};

mod meter;
use meter::{Meter, Rate, phase};

const ZONES: [&str; 3] = ["zone1", "zone2", "zone3"];

/// scheduler_perf's node template: 4 CPUs, 32 GiB, 110 pods; zones round-robin.
fn node(i: usize) -> Value {
    let name = format!("node-{i}");
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": ZONES[i % ZONES.len()]}},
        "status": {"capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                   "allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}})
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Workload {
    Basic,
    RequiredAntiAffinity,
    NodeAffinity,
    TopologySpread,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Basic => "SchedulingBasic",
            Workload::RequiredAntiAffinity => "SchedulingPodAntiAffinity (required)",
            Workload::NodeAffinity => "SchedulingNodeAffinity",
            Workload::TopologySpread => "TopologySpreading (hard)",
        }
    }

    /// Upstream's published floor for the workload at 5000 nodes, if the issue names one.
    fn upstream_floor(self) -> &'static str {
        match self {
            Workload::Basic => "680",
            Workload::RequiredAntiAffinity => "24–60",
            Workload::NodeAffinity | Workload::TopologySpread => "n/a",
        }
    }

    /// (warm-up pods, measured pods) at full size.
    fn sizes(self) -> (usize, usize) {
        match self {
            Workload::Basic => (1000, 10_000),
            Workload::RequiredAntiAffinity => (1000, 2000),
            Workload::NodeAffinity => (1000, 10_000),
            Workload::TopologySpread => (1000, 10_000),
        }
    }

    /// The pod templates of scheduler_perf (requests 100m / 500Mi).
    fn pod(self, name: &str, measured: bool) -> Value {
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "100m", "memory": "500Mi"},
                              "limits": {"cpu": "100m", "memory": "500Mi"}}}]}});
        if !measured {
            return p;
        }
        match self {
            Workload::Basic => {}
            Workload::RequiredAntiAffinity => {
                p["metadata"]["labels"] = json!({"color": "green"});
                p["spec"]["affinity"] = json!({"podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchLabels": {"color": "green"}},
                        "topologyKey": "kubernetes.io/hostname"}]}});
            }
            Workload::NodeAffinity => {
                p["spec"]["affinity"] = json!({"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                        "matchExpressions": [{"key": "topology.kubernetes.io/zone",
                            "operator": "In", "values": ["zone1", "zone2"]}]}]}}});
            }
            Workload::TopologySpread => {
                p["metadata"]["labels"] = json!({"color": "blue"});
                p["spec"]["topologySpreadConstraints"] = json!([{
                    "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"color": "blue"}}}]);
            }
        }
        p
    }
}

const ALL: [Workload; 4] = [
    Workload::Basic,
    Workload::RequiredAntiAffinity,
    Workload::NodeAffinity,
    Workload::TopologySpread,
];

fn pod_info(v: Value) -> Arc<PodInfo> {
    Arc::new(PodInfo::new(Arc::new(serde_json::from_value(v).unwrap())))
}

/// The algorithm alone: schedule + assume into the cache, pods/s.
fn algorithm_only(w: Workload, nodes: usize, warm: usize, measured: usize) -> f64 {
    algorithm_timed(w, nodes, warm, measured, false)
}

/// Bytes written between cycles by `--cold`: more than this machine's second-level caches
/// (2 × 2.5 MiB), as the apiserver's work between cycles does in the end-to-end stream.
const EVICT_BYTES: usize = 8 << 20;

/// The algorithm with `evict`: its caches overwritten before each cycle (untimed), only the
/// cycles timed — what a cycle costs when it finds its nodes out of the cache.
fn algorithm_timed(w: Workload, nodes: usize, warm: usize, measured: usize, evict: bool) -> f64 {
    let fw = default_frameworks().remove(0);
    let mut cache = Cache::new();
    for i in 0..nodes {
        cache.set_node(Arc::new(serde_json::from_value::<Node>(node(i)).unwrap()));
    }
    let next = NextStart::default();
    let mut scratch = vec![0u8; if evict { EVICT_BYTES } else { 0 }];
    let mut run = |pods: Vec<Arc<PodInfo>>| -> (usize, Duration) {
        let mut took = Duration::ZERO;
        let mut ok = 0;
        for pod in pods {
            if evict {
                for (i, b) in scratch.iter_mut().enumerate().step_by(64) {
                    *b = b.wrapping_add(i as u8);
                }
                std::hint::black_box(&scratch);
            }
            let start = Instant::now();
            let mut state = CycleState::new(cache.snapshot());
            if let Ok(r) = schedule_pod(&fw, &mut state, &pod, &next) {
                cache.assume(pod, &r.node);
                ok += 1;
            }
            took += start.elapsed();
        }
        (ok, took)
    };
    let warm_pods = (0..warm)
        .map(|i| pod_info(w.pod(&format!("warm-{i}"), false)))
        .collect();
    run(warm_pods);
    // Prepare pods before the clock starts: decoding is the informer's work, not the cycle's.
    let pods: Vec<_> = (0..measured)
        .map(|i| pod_info(w.pod(&format!("m-{i}"), true)))
        .collect();
    let (ok, took) = run(pods);
    let expected = if w == Workload::RequiredAntiAffinity {
        measured.min(nodes)
    } else {
        measured
    };
    assert_eq!(ok, expected, "{} scheduled {ok}/{measured}", w.name());
    ok as f64 / took.as_secs_f64()
}

struct Cluster {
    /// Over HTTPS, as users' clients and a standalone `rkube scheduler` connect.
    client: kube::Client,
    /// The in-process transport, as `rkube server` runs its scheduler.
    loopback: kube::Client,
    server: rkube_apiserver::server::RunningServer,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut sc = rkube_apiserver::server::ServerConfig::new(dir.path().join("server"));
    sc.bind_address = [127, 0, 0, 1].into();
    sc.https_port = 0;
    sc.include_host_sans = false;
    // The admission of upstream's scheduler_perf, whose floors are printed beside these
    // figures: its apiserver runs with these plugins off (TaintNodesByCondition is not one
    // of rkube's), the others on.
    sc.admission = rkube_apiserver::admission::AdmissionPlugins::disabling(&[
        "ServiceAccount",
        "TaintNodesByCondition",
        "Priority",
    ])
    .unwrap();
    let server = rkube_apiserver::server::start(sc).await.unwrap();
    let kc = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap(),
    )
    .unwrap();
    Cluster {
        client,
        loopback: kube::Client::new(server.loopback(), "default"),
        server,
        _dir: dir,
    }
}

/// The typed objects for `values`, built before a measurement starts: building them is the
/// bench's work, sending them the client's.
fn typed<K: serde::de::DeserializeOwned>(values: impl Iterator<Item = Value>) -> Vec<K> {
    values.map(|v| serde_json::from_value(v).unwrap()).collect()
}

async fn create_all<K>(api: &Api<K>, objects: Vec<K>, concurrency: usize)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    futures::stream::iter(objects)
        .map(|obj| async move {
            api.create(&PostParams::default(), &obj).await.unwrap();
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
}

async fn wait_bound(s: &Scheduler, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while s.metrics.bound.load(Ordering::Relaxed) < target {
        assert!(
            Instant::now() < deadline,
            "only {} of {target} bound",
            s.metrics.bound.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The store's group commits so far, from the apiserver's `/metrics`: (commits, jobs in
/// them, seconds spent committing).
async fn store_commits(client: &kube::Client) -> (f64, f64, f64) {
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(request).await.unwrap();
    let metric = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (
        metric("rkube_store_commit_batch_jobs_count "),
        metric("rkube_store_commit_batch_jobs_sum "),
        metric("rkube_store_commit_duration_seconds_sum "),
    )
}

/// The scheduler's attempt counters so far, on stderr (a pod scheduled twice shows here).
fn attempts(s: &Scheduler) {
    for line in s.metrics.encode().lines() {
        if line.starts_with("scheduler_schedule_attempts_total") {
            eprintln!("  {line}");
        }
    }
}

fn without_uid(mut v: Value) -> Value {
    v["metadata"].as_object_mut().unwrap().remove("uid");
    v
}

/// How the scheduler reaches the apiserver.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    /// In the apiserver's process, through `RunningServer::loopback` (`rkube server`).
    InProcess,
    /// Over HTTPS on 127.0.0.1 (`rkube scheduler --kubeconfig …`).
    Https,
}

/// End to end: (backlog, streaming). Nodes and pods are always created over HTTPS.
async fn end_to_end(
    w: Workload,
    nodes: usize,
    warm: usize,
    measured: usize,
    transport: Transport,
) -> (Rate, Rate) {
    phase("e2e setup");
    let c = cluster().await;
    let node_api: Api<Node> = Api::all(c.client.clone());
    create_all(&node_api, typed((0..nodes).map(node)), 32).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "default");
    let half = measured / 2;

    // Backlog: warm-up and the first half exist before the scheduler starts.
    create_all(
        &pods,
        typed((0..warm).map(|i| without_uid(w.pod(&format!("warm-{i}"), false)))),
        32,
    )
    .await;
    let first_half = typed((0..half).map(|i| without_uid(w.pod(&format!("a-{i}"), true))));
    let meter = Meter::start();
    create_all(&pods, first_half, 32).await;
    let creates = meter.finish(half);
    eprintln!(
        "  creates alone: {:.0} pods/s, {:.2} CPU ms/pod",
        creates.pods_per_s, creates.cpu_ms_per_pod
    );
    let scheduler_client = match transport {
        Transport::InProcess => c.loopback.clone(),
        Transport::Https => c.client.clone(),
    };
    let s = Scheduler::new(
        scheduler_client,
        SchedulerOptions::new(default_frameworks()),
    );
    phase("e2e backlog");
    let meter = Meter::start();
    let task = tokio::spawn(rkube_scheduler::run(s.clone(), None));
    wait_bound(&s, (warm + half) as u64).await;
    let backlog = meter.finish(warm + half);

    // Streaming: the second half created while the scheduler runs.
    attempts(&s);
    phase("e2e stream");
    let commits_before = store_commits(&c.client).await;
    let second_half = typed((half..measured).map(|i| without_uid(w.pod(&format!("b-{i}"), true))));
    let meter = Meter::start();
    let creating = {
        let pods = pods.clone();
        tokio::spawn(async move { create_all(&pods, second_half, 64).await })
    };
    wait_bound(&s, (warm + measured) as u64).await;
    let streaming = meter.finish(measured - half);
    creating.await.unwrap();
    let commits_after = store_commits(&c.client).await;
    let (commits, jobs, secs) = (
        commits_after.0 - commits_before.0,
        commits_after.1 - commits_before.1,
        commits_after.2 - commits_before.2,
    );
    eprintln!(
        "  stream: {commits:.0} store commits, {:.1} writes each, {:.0} µs each",
        jobs / commits,
        secs / commits * 1e6
    );
    attempts(&s);
    phase("e2e check");

    // Ground truth from the apiserver: every pod bound, exactly once.
    let list = pods.list(&ListParams::default()).await.unwrap();
    let bound = list
        .items
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
        .count();
    assert_eq!(bound, warm + measured, "bound per apiserver");
    task.abort();
    c.server.shutdown().await;
    (backlog, streaming)
}

fn main() {
    rkube_component::allocator::tune();
    phase("start");
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let algorithm_only_flag = args.iter().any(|a| a == "--algorithm-only");
    // `--cold`: only the algorithm with its caches evicted before each cycle (a measuring aid
    // for the cache misses of the end-to-end stream).
    if args.iter().any(|a| a == "--cold") {
        let nodes = if quick { 500 } else { 5000 };
        let rate = algorithm_timed(Workload::Basic, nodes, 1000, 3000, true);
        println!("SchedulingBasic algorithm, caches evicted before each cycle: {rate:.0} pods/s");
        return;
    }
    // `--only basic|anti|node|spread` runs one workload (for profiling).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let nodes = if quick { 500 } else { 5000 };
    let scale = |n: usize| if quick { n / 10 } else { n };
    println!(
        "scheduler throughput, {nodes} nodes (4 CPU, 32Gi, 110 pods), pods 100m/500Mi; pods/s"
    );
    println!(
        "{:<38} {:>6} {:>9} {:>11} {:>10} {:>13} {:>7} {:>14}",
        "workload",
        "pods",
        "algorithm",
        "e2e backlog",
        "e2e stream",
        "CPU ms/pod*",
        "steal",
        "upstream floor"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    let mut summary = Vec::new();
    // Lines printed under the table (the runs behind a median).
    let mut notes = Vec::new();
    // The basic workload's end-to-end runs are repeated: the host's speed swings from one
    // minute to the next, and the goal is judged on it.
    let repeats = |w: Workload| if w == Workload::Basic && !quick { 3 } else { 1 };
    for w in ALL {
        let key = match w {
            Workload::Basic => "basic",
            Workload::RequiredAntiAffinity => "anti",
            Workload::NodeAffinity => "node",
            Workload::TopologySpread => "spread",
        };
        if only.as_deref().is_some_and(|o| o != key) {
            continue;
        }
        let (warm, measured) = w.sizes();
        let (warm, measured) = (scale(warm), scale(measured));
        let algo = algorithm_only(w, nodes, warm, measured);
        let skipped = Rate {
            pods_per_s: f64::NAN,
            cpu_ms_per_pod: f64::NAN,
            steal_percent: f64::NAN,
        };
        // Every workload with the scheduler in process (as `rkube server` runs it); the
        // basic one also over HTTPS (a standalone `rkube scheduler`).
        let transports: &[Transport] = if w == Workload::Basic {
            &[Transport::InProcess, Transport::Https]
        } else {
            &[Transport::InProcess]
        };
        for &transport in transports {
            let name = match transport {
                Transport::InProcess => w.name().to_string(),
                Transport::Https => format!("{}, scheduler over HTTPS", w.name()),
            };
            let (backlog, stream) =
                if algorithm_only_flag || w == Workload::RequiredAntiAffinity && measured > nodes {
                    (skipped, skipped)
                } else {
                    let runs: Vec<(Rate, Rate)> = (0..repeats(w))
                        .map(|_| runtime.block_on(end_to_end(w, nodes, warm, measured, transport)))
                        .collect();
                    if runs.len() > 1 {
                        let each = |f: fn(&(Rate, Rate)) -> Rate| {
                            runs.iter()
                                .map(|r| format!("{:.0}", f(r).pods_per_s))
                                .collect::<Vec<_>>()
                                .join(" / ")
                        };
                        notes.push(format!(
                            "{name}: median of {} runs; backlog {}, stream {} pods/s",
                            runs.len(),
                            each(|r| r.0),
                            each(|r| r.1)
                        ));
                    }
                    let backlogs: Vec<Rate> = runs.iter().map(|r| r.0).collect();
                    let streams: Vec<Rate> = runs.iter().map(|r| r.1).collect();
                    (Rate::median(&backlogs), Rate::median(&streams))
                };
            println!(
                "{:<38} {:>6} {:>9.0} {:>11.0} {:>10.0} {:>13} {:>7} {:>14}",
                name,
                measured,
                algo,
                backlog.pods_per_s,
                stream.pods_per_s,
                format!(
                    "{:.2} / {:.2}",
                    backlog.cpu_ms_per_pod, stream.cpu_ms_per_pod
                ),
                format!("{:.0}%/{:.0}%", backlog.steal_percent, stream.steal_percent),
                w.upstream_floor()
            );
            let (backlog, stream) = (backlog.pods_per_s, stream.pods_per_s);
            let reference = match w {
                Workload::Basic => "upstream floor 680; goal ≥ 3000 end to end",
                Workload::RequiredAntiAffinity => "upstream floor 24–60; goal ≥ 300 end to end",
                Workload::NodeAffinity | Workload::TopologySpread => "–",
            };
            let how = match transport {
                Transport::InProcess => "scheduler in process",
                Transport::Https => "scheduler over HTTPS",
            };
            summary.push(format!(
                "SUMMARY | scheduler: {}, {nodes} nodes, {measured} pods, {how}, pods/s (algorithm / e2e backlog / e2e stream) | {algo:.0} / {backlog:.0} / {stream:.0} | {reference}",
                w.name()
            ));
        }
    }
    for note in &notes {
        println!("{note}");
    }
    println!(
        "In process: the scheduler reaches the apiserver through its in-process transport, as \
         in `rkube server`; over HTTPS: as a standalone `rkube scheduler`. Nodes and pods are \
         created over HTTPS either way. The apiserver's admission is scheduler_perf's: \
         ServiceAccount and Priority off."
    );
    println!(
        "* CPU time of the whole process (apiserver, store, scheduler, client) per pod bound, \
         backlog / stream; steal: the share of the machine's CPU time its VM host took during \
         each, which slows the wall-clock rates but not the CPU per pod."
    );
    println!();
    for line in summary {
        println!("{line}");
    }
}
