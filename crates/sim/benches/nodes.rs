//! `cargo bench -p rkube-sim`: 5000 simulated nodes against the rkube apiserver.
//!
//! The apiserver (in-process code, embedded store) runs in a child process (this binary again)
//! so the CPU and memory of the simulator and of the apiserver are measured apart, from
//! `/proc`; the benchmark's own requests (creating and deleting pods, listing) run on a
//! separate runtime whose threads are not counted as the simulator's. Prints: registration time, steady-state CPU% and RSS of both processes, Lease
//! renewal rate and the staleness of the Leases, and pod throughput (bound pods to Running,
//! graceful deletions to gone).
//!
//! Knobs (environment): `RKUBE_SIM_BENCH_NODES` (5000), `RKUBE_SIM_BENCH_SECONDS` (steady-state
//! window, 60), `RKUBE_SIM_BENCH_PODS` (5000; 0 skips the pod phase),
//! `RKUBE_SIM_BENCH_KUBECONFIG` (use a running apiserver, e.g. `rkube server --disable-agent`,
//! instead of the child; its CPU is then not measured).
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use rkube_sim::{SimConfig, SimNodes};
use serde_json::json;

const CHILD_ENV: &str = "RKUBE_SIM_BENCH_APISERVER_DIR";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        return serve_apiserver(dir.into());
    }
    // The load generator's runtime: its threads' CPU is not the simulator's.
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(LOAD_THREAD)
        .enable_all()
        .build()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(bench(load.handle().clone()));
    drop(runtime);
    drop(load);
}

const LOAD_THREAD: &str = "bench-load";

/// The child: an apiserver on a free loopback port; prints its kubeconfig path, serves until
/// its stdin closes (the parent exited or dropped it).
fn serve_apiserver(dir: std::path::PathBuf) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let mut sc = rkube_apiserver::server::ServerConfig::new(&dir);
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        println!("kubeconfig: {}", server.kubeconfig.display());
        std::io::stdout().flush().unwrap();
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {}
        })
        .await
        .unwrap();
        server.shutdown().await;
    });
}

/// CPU seconds (user + system) and resident set of a process, from /proc.
#[derive(Clone, Copy)]
struct Usage {
    cpu_s: f64,
    rss_mib: f64,
}

fn usage(pid: u32) -> Usage {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // USER_HZ is 100 on Linux.
    let cpu_s = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    Usage {
        cpu_s,
        rss_mib: rss_kib / 1024.0,
    }
}

struct Measured {
    sim: Usage,
    apiserver: Option<Usage>,
    at: Instant,
}

fn measure(child: Option<u32>) -> Measured {
    Measured {
        sim: usage(std::process::id()),
        apiserver: child.map(usage),
        at: Instant::now(),
    }
}

fn report(label: &str, a: &Measured, b: &Measured) {
    let secs = (b.at - a.at).as_secs_f64();
    let pct = |x: Usage, y: Usage| 100.0 * (y.cpu_s - x.cpu_s) / secs;
    print!(
        "{label}: sim {:.1}% CPU, {:.0} MiB RSS",
        pct(a.sim, b.sim),
        b.sim.rss_mib
    );
    if let (Some(x), Some(y)) = (a.apiserver, b.apiserver) {
        print!(
            "; apiserver {:.1}% CPU, {:.0} MiB RSS",
            pct(x, y),
            y.rss_mib
        );
    }
    println!(" (over {secs:.0} s; 100% = one core)");
}

struct ChildServer {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // it exits when its stdin closes
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

fn start_child() -> (ChildServer, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the apiserver child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let kubeconfig = loop {
        let line = lines
            .next()
            .expect("the apiserver child printed its kubeconfig")
            .unwrap();
        if let Some(p) = line.strip_prefix("kubeconfig: ") {
            break std::path::PathBuf::from(p);
        }
    };
    (ChildServer { child, _dir: dir }, kubeconfig)
}

async fn client(kubeconfig: &std::path::Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn count_pods(pods: &Api<Pod>, phase: Option<&str>) -> usize {
    let mut lp = ListParams::default().labels("bench=rkube-sim");
    if let Some(phase) = phase {
        lp = lp.fields(&format!("status.phase={phase}"));
    }
    pods.list_metadata(&lp)
        .await
        .map(|l| l.items.len())
        .unwrap_or(0)
}

/// Runs `f` on the load generator's runtime.
async fn on_load<T: Send + 'static>(
    load: &tokio::runtime::Handle,
    f: impl Future<Output = T> + Send + 'static,
) -> T {
    load.spawn(f).await.unwrap()
}

async fn bench(load: tokio::runtime::Handle) {
    let nodes_n: usize = env_or("RKUBE_SIM_BENCH_NODES", 5000);
    let window: u64 = env_or("RKUBE_SIM_BENCH_SECONDS", 60);
    let pods_n: usize = env_or("RKUBE_SIM_BENCH_PODS", 5000);
    let (child, kubeconfig) = match std::env::var("RKUBE_SIM_BENCH_KUBECONFIG") {
        Ok(path) => (None, std::path::PathBuf::from(path)),
        Err(_) => {
            let (c, k) = start_child();
            (Some(c), k)
        }
    };
    let child_pid = child.as_ref().map(|c| c.child.id());
    // The simulator's client, and a separate one for the benchmark's own requests.
    let sim_client = client(&kubeconfig).await;
    let kc = kubeconfig.clone();
    let bench_client = on_load(&load, async move { client(&kc).await }).await;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("rkube-sim bench: {nodes_n} nodes, {cores} cores");
    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    let mut summary = Vec::new();

    let before = measure(child_pid);
    let started = Instant::now();
    let sim = SimNodes::start_with_progress(sim_client, SimConfig::new(nodes_n), |done, total| {
        if done % 1000 == 0 || done == total {
            println!(
                "  registered {done}/{total} nodes ({:.2} s)",
                started.elapsed().as_secs_f64()
            );
        }
    })
    .await
    .expect("simulated nodes start");
    let registered = started.elapsed();
    let after = measure(child_pid);
    println!(
        "registration: {nodes_n} nodes + leases in {:.2} s ({:.0} nodes/s), pod agent ready",
        registered.as_secs_f64(),
        nodes_n as f64 / registered.as_secs_f64()
    );
    report("  during registration", &before, &after);
    summary.push(format!(
        "SUMMARY | sim: register {nodes_n} nodes + Leases | {:.2} s ({:.0} nodes/s) | no reference (kwok not on the machine)",
        registered.as_secs_f64(),
        nodes_n as f64 / registered.as_secs_f64()
    ));

    // Steady state: heartbeats only.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s0 = sim.stats();
    let a = measure(child_pid);
    tokio::time::sleep(Duration::from_secs(window)).await;
    let b = measure(child_pid);
    let s1 = sim.stats();
    let secs = (b.at - a.at).as_secs_f64();
    println!(
        "steady state: {:.0} lease renewals/s ({} failed), {} status reports",
        (s1.lease_renewals - s0.lease_renewals) as f64 / secs,
        s1.lease_failures - s0.lease_failures,
        s1.status_reports - s0.status_reports
    );
    report("  idle nodes", &a, &b);
    let leases: Api<Lease> = Api::namespaced(bench_client.clone(), "kube-node-lease");
    let now = jiff::Timestamp::now();
    let ages: Vec<f64> = on_load(
        &load,
        async move { leases.list(&ListParams::default()).await },
    )
    .await
    .unwrap()
    .items
    .iter()
    .filter_map(|l| l.spec.as_ref()?.renew_time.as_ref())
    .map(|t| (now - t.0).total(jiff::Unit::Second).unwrap_or(f64::MAX))
    .collect();
    let oldest = ages.iter().copied().fold(0.0, f64::max);
    println!(
        "  leases: {} listed, oldest renewTime {oldest:.1} s ago (renew every 10 s, expire after 40 s)",
        ages.len()
    );
    summary.push(format!(
        "SUMMARY | sim: nodes held idle for {window} s | {} Leases, oldest renewal {oldest:.1} s old, {} renewals failed; sim {:.1}% CPU, {:.0} MiB | goal 5000 nodes; renewed every 10 s, expire after 40 s",
        ages.len(),
        s1.lease_failures - s0.lease_failures,
        100.0 * (b.sim.cpu_s - a.sim.cpu_s) / secs,
        b.sim.rss_mib
    ));

    if pods_n > 0 {
        // Pod CIDRs, as the node IPAM controller would assign them.
        let nodes: Api<Node> = Api::all(bench_client.clone());
        let t = Instant::now();
        on_load(&load, async move {
            futures::stream::iter(0..nodes_n)
                .map(|i| {
                    let nodes = nodes.clone();
                    async move {
                        let cidr = format!("10.{}.{}.0/24", 64 + i / 256, i % 256);
                        let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
                        nodes
                            .patch(
                                &format!("sim-node-{i}"),
                                &PatchParams::default(),
                                &Patch::Merge(&patch),
                            )
                            .await
                            .map(drop)
                    }
                })
                .buffer_unordered(64)
                .try_collect::<Vec<_>>()
                .await
                .expect("podCIDRs set");
        })
        .await;
        println!(
            "podCIDRs: {nodes_n} nodes patched in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;

        let pods: Api<Pod> = Api::namespaced(bench_client.clone(), "default");
        let a = measure(child_pid);
        let t = Instant::now();
        let p = pods.clone();
        on_load(&load, async move {
        futures::stream::iter(0..pods_n)
            .map(|i| {
                let pods = p.clone();
                async move {
                    let pod: Pod = serde_json::from_value(json!({
                        "metadata": {"name": format!("bench-{i}"), "labels": {"bench": "rkube-sim"}},
                        "spec": {"nodeName": format!("sim-node-{}", i % nodes_n),
                                 "containers": [{"name": "c", "image": "nginx"}]}
                    }))
                    .unwrap();
                    pods.create(&PostParams::default(), &pod).await.map(drop)
                }
            })
            .buffer_unordered(64)
            .try_collect::<Vec<_>>()
            .await
            .expect("pods created");
        })
        .await;
        let created = t.elapsed();
        let p = pods.clone();
        on_load(&load, async move {
            while count_pods(&p, Some("Running")).await < pods_n {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        let running = t.elapsed();
        let b = measure(child_pid);
        println!(
            "pods: {pods_n} bound pods created in {:.2} s ({:.0}/s), all Running after {:.2} s ({:.0}/s end to end)",
            created.as_secs_f64(),
            pods_n as f64 / created.as_secs_f64(),
            running.as_secs_f64(),
            pods_n as f64 / running.as_secs_f64()
        );
        report("  creating and starting pods", &a, &b);
        summary.push(format!(
            "SUMMARY | sim: {pods_n} bound pods created → all Running | {:.2} s ({:.0}/s) | no reference",
            running.as_secs_f64(),
            pods_n as f64 / running.as_secs_f64()
        ));

        let a = measure(child_pid);
        let t = Instant::now();
        let p = pods.clone();
        on_load(&load, async move {
            futures::stream::iter(0..pods_n)
                .map(|i| {
                    let pods = p.clone();
                    async move {
                        pods.delete(&format!("bench-{i}"), &DeleteParams::default())
                            .await
                            .map(drop)
                    }
                })
                .buffer_unordered(64)
                .try_collect::<Vec<_>>()
                .await
                .expect("pods marked for deletion");
        })
        .await;
        on_load(&load, async move {
            while count_pods(&pods, None).await > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        let gone = t.elapsed();
        let b = measure(child_pid);
        println!(
            "pods: {pods_n} graceful deletions completed in {:.2} s ({:.0}/s)",
            gone.as_secs_f64(),
            pods_n as f64 / gone.as_secs_f64()
        );
        report("  deleting pods", &a, &b);
        let s = sim.stats();
        println!(
            "  sim: {} started, {} deleted, {} pod write failures",
            s.pods_started, s.pods_deleted, s.pod_write_failures
        );
    }
    sim.stop().await;
    drop(child);
    println!();
    for line in summary {
        println!("{line}");
    }
}
