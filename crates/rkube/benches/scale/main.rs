//! The API server at upstream's documented limits: 5000 (simulated) nodes and 150 000 pods.
//! A real `rkube server` process (control plane only: no scheduler, controllers or node
//! agent, so its memory is the apiserver's and the store's), driven from this process:
//!
//! 1. `rkube-sim` registers the nodes and keeps their Leases (the background churn every
//!    cluster of that size has), and moves each pod bound to them to Running;
//! 2. the pods are created already bound (`spec.nodeName`, round robin), 64 in flight;
//! 3. one watch per node filtered by `spec.nodeName`, as every kubelet has;
//! 4. steady churn: label patches on random pods at a fixed rate, for longer than the
//!    store's compaction interval and until a compaction has happened in it; each call's
//!    latency, and the time until the patched pod's node watch sees it;
//! 5. LISTs of every pod: consistent (from the watch cache once it has caught up with the
//!    store), `resourceVersion=0` (from the watch cache as it is) and paginated (500 per page,
//!    from the store), each with the server's peak RSS while it ran.
//!
//! Printed as a Markdown table with the goals and upstream's SLOs beside each figure, and
//! what the server's `/metrics` says about its store during the load and the churn, and about
//! the LISTs (served by the watch cache, or fallen back to the store).
//! `cargo bench -p rkube --bench scale`; `RKUBE_SCALE_NODES`, `RKUBE_SCALE_PODS`,
//! `RKUBE_SCALE_CHURN_RATE` (patches/s) and `RKUBE_SCALE_CHURN_SECS` override the sizes;
//! `RKUBE_SCALE_LIST_SECS` (600) is how long each LIST may take before it is reported as
//! unfinished.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use rkube_sim::{SimConfig, SimNodes};
use serde_json::json;

mod server_metrics;
use server_metrics::{COMPACTION_STEPS, STORE_TIMINGS, Scrape};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The server process, stopped (SIGTERM, then SIGKILL) by PID when dropped.
struct Server {
    child: Child,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..200 {
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
    fn start() -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_rkube"));
        command
            .args([
                "server",
                "--bind-address",
                "127.0.0.1",
                "--https-listen-port",
            ])
            .arg(port.to_string())
            .args([
                "--disable-agent",
                "--disable-scheduler",
                "--disable-controller-manager",
                "--disable-dns",
            ])
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().context("start rkube server")?;
        let stdout = child.stdout.take().context("server stdout")?;
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
            .context("the server did not print its kubeconfig path")?;
        Ok(Server {
            child,
            kubeconfig,
            _dir: dir,
        })
    }

    /// (resident, peak resident) in bytes, from `/proc`.
    fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Restarts the peak-RSS count (`clear_refs` 5), so the next peak is one operation's.
    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// When the calls slower than `over` started: a tail from one stall (compaction, a
/// checkpoint) shows as one short window, a slow server as calls spread over the run.
fn slow_calls(calls: &[(Duration, Duration)], over: Duration) -> String {
    let slow: Vec<_> = calls.iter().filter(|(_, took)| *took > over).collect();
    let (Some(first), Some(last)) = (
        slow.iter().map(|(at, _)| *at).min(),
        slow.iter().map(|(at, _)| *at).max(),
    ) else {
        return format!("no patch took over {}", ms(over));
    };
    format!(
        "{} of {} patches took over {}, started between {:.1} s and {:.1} s into the churn",
        slow.len(),
        calls.len(),
        ms(over),
        first.as_secs_f64(),
        last.as_secs_f64()
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "scale", "churn": "0"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
    }))
    .expect("a valid pod")
}

/// Creates `count` pods bound round robin to `nodes`, `inflight` at a time, with progress.
async fn create_pods(
    client: &Client,
    nodes: &[String],
    count: usize,
    inflight: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    let mut calls = futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            let p = pod(&format!("scale-{i}"), &nodes[i % nodes.len()]);
            async move {
                let t = Instant::now();
                api.create(&PostParams::default(), &p)
                    .await
                    .map(|_| t.elapsed())
            }
        })
        .buffer_unordered(inflight);
    while let Some(latency) = calls.next().await {
        latencies.push(latency.context("create a pod")?);
        if latencies.len() % 10_000 == 0 {
            eprintln!(
                "  {} / {count} pods created ({:.0}/s)",
                latencies.len(),
                latencies.len() as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok((count as f64 / started.elapsed().as_secs_f64(), latencies))
}

/// Patch send times by the `churn` label value each patch sets (unique per patch: a pod
/// patched twice is told apart), and the delays the node watches saw.
#[derive(Default)]
struct Deliveries {
    sent: HashMap<String, Instant>,
    delays: Vec<Duration>,
}

/// One watch per node (`spec.nodeName=<node>`), from `rv`; each MODIFIED event of a pod the
/// churn patched records its delivery delay.
fn watch_nodes(
    client: &Client,
    nodes: &[String],
    rv: &str,
    deliveries: Arc<Mutex<Deliveries>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let api: Api<Pod> = Api::all(client.clone());
            // Spread over 5–10 min as client-go's reflectors do: with one timeout for all,
            // 5000 watches ended and re-watched in the same second (a stall of 0.4 s).
            let params = WatchParams::default()
                .fields(&format!("spec.nodeName={node}"))
                .timeout(300 + (i as u32 * 7) % 300);
            let (mut rv, deliveries) = (rv.to_string(), deliveries.clone());
            // As a kubelet does: when the server ends the watch (its timeout is shorter than
            // the churn), watch again from the last revision seen.
            tokio::spawn(async move {
                loop {
                    let Ok(stream) = api.watch(&params, &rv).await else {
                        return;
                    };
                    let mut stream = std::pin::pin!(stream);
                    while let Some(Ok(event)) = stream.next().await {
                        let pod = match event {
                            WatchEvent::Added(p) | WatchEvent::Deleted(p) => p,
                            WatchEvent::Modified(p) => {
                                let mark = p
                                    .metadata
                                    .labels
                                    .clone()
                                    .and_then(|mut l| l.remove("churn"))
                                    .unwrap_or_default();
                                let mut d = deliveries.lock().expect("not poisoned");
                                if let Some(t) = d.sent.remove(&mark) {
                                    d.delays.push(t.elapsed());
                                }
                                p
                            }
                            WatchEvent::Bookmark(b) => {
                                rv = b.metadata.resource_version;
                                continue;
                            }
                            WatchEvent::Error(_) => return,
                        };
                        if let Some(v) = pod.metadata.resource_version {
                            rv = v;
                        }
                    }
                }
            })
        })
        .collect()
}

/// The apiserver's compaction interval.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);
/// How much longer than asked the churn may go on waiting for the store's next compaction:
/// one compaction interval and some slack.
const CHURN_EXTENSION: Duration = Duration::from_secs(330);

/// Patches random pods' labels at `rate` per second for `secs`, and then on until the store
/// has done a compaction step since the churn began (at most [`CHURN_EXTENSION`] more, and
/// only for a churn asked to outlast the compaction interval: quick runs do not wait): the
/// compactor's schedule counts from the server's start, so how fast the pods loaded decides
/// where its runs fall, and a churn that missed them would measure a quieter store than a
/// real cluster has. Each call's start (since the churn began) and latency.
async fn churn(
    client: &Client,
    pods: usize,
    rate: usize,
    secs: usize,
    deliveries: Arc<Mutex<Deliveries>>,
) -> anyhow::Result<Vec<(Duration, Duration)>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let compactions = |s: &Scrape| s.count(COMPACTION_STEPS);
    let compactions_before = compactions(&Scrape::take(client).await?);
    let began = Instant::now();
    let at_least = Duration::from_secs(secs as u64);
    let extension = if at_least >= COMPACTION_INTERVAL {
        CHURN_EXTENSION
    } else {
        Duration::ZERO
    };
    let (mut compacted, mut checked) = (false, began);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut tasks = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0.. {
        let elapsed = began.elapsed();
        if elapsed >= at_least {
            if !compacted && checked.elapsed() >= Duration::from_secs(5) {
                compacted = compactions(&Scrape::take(client).await?) > compactions_before;
                checked = Instant::now();
            }
            if compacted || elapsed >= at_least + extension {
                eprintln!(
                    "churn: {i} patches in {:.0} s ({})",
                    elapsed.as_secs_f64(),
                    if compacted {
                        "the store compacted during it"
                    } else {
                        "no compaction step seen: the figures are of a quieter store"
                    }
                );
                break;
            }
        }
        ticker.tick().await;
        // xorshift: a fixed, cheap sequence of pod indices.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let name = format!("scale-{}", seed as usize % pods);
        let (api, deliveries) = (api.clone(), deliveries.clone());
        tasks.push(tokio::spawn(async move {
            // From 1: pods start with `churn: "0"`; a patch changing nothing makes no event.
            let mark = (i + 1).to_string();
            let patch = json!({"metadata": {"labels": {"churn": &mark}}});
            let t = Instant::now();
            deliveries
                .lock()
                .expect("not poisoned")
                .sent
                .insert(mark, t);
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| (t - began, t.elapsed()))
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await?.context("patch a pod")?);
    }
    Ok(latencies)
}

/// How one LIST of every pod went.
enum Listed {
    /// Every page arrived: the pods, the time, the server's peak RSS meanwhile.
    Done(usize, Duration, u64),
    /// It failed or did not finish in time: what happened, and the peak RSS meanwhile.
    Unfinished(String, u64),
}

impl Listed {
    fn figure(&self) -> String {
        match self {
            Listed::Done(_, took, _) => ms(*took),
            Listed::Unfinished(why, _) => why.clone(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Listed::Done(items, took, peak) => {
                format!(
                    "{items} pods in {} (server peak RSS {})",
                    ms(*took),
                    gib(*peak)
                )
            }
            Listed::Unfinished(why, peak) => format!("{why} (server peak RSS {})", gib(*peak)),
        }
    }
}

/// Lists every pod with `params`, page by page, giving up after `limit` (a LIST that never
/// ends must not hold up the rest of the benchmark run).
async fn list_all(server: &Server, client: &Client, params: ListParams, limit: Duration) -> Listed {
    let api: Api<Pod> = Api::all(client.clone());
    server.reset_peak();
    let started = Instant::now();
    let pages = async {
        let mut params = params;
        let mut items = 0;
        loop {
            let list = api.list(&params).await.context("list pods")?;
            items += list.items.len();
            match list.metadata.continue_ {
                Some(c) if !c.is_empty() => params = params.continue_token(&c),
                _ => return anyhow::Ok(items),
            }
        }
    };
    let outcome = tokio::time::timeout(limit, pages).await;
    let peak = server.rss().1;
    match outcome {
        Ok(Ok(items)) => Listed::Done(items, started.elapsed(), peak),
        Ok(Err(e)) => Listed::Unfinished(
            format!("failed after {}: {e:#}", ms(started.elapsed())),
            peak,
        ),
        Err(_) => Listed::Unfinished(format!("not finished in {} s", limit.as_secs()), peak),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let nodes = env_or("RKUBE_SCALE_NODES", 5000);
    let pods = env_or("RKUBE_SCALE_PODS", 150_000);
    let rate = env_or("RKUBE_SCALE_CHURN_RATE", 100);
    // Longer than the apiserver's compaction interval (5 min), and extended until one has
    // happened: a steady churn meets a compaction of the store, as in a real cluster.
    let secs = env_or("RKUBE_SCALE_CHURN_SECS", 360);
    eprintln!("scale: {nodes} simulated nodes, {pods} pods");

    let server = Server::start()?;
    let mut config = Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&server.kubeconfig)?,
        &Default::default(),
    )
    .await?;
    // A LIST of 150k pods may take longer than kube's default read timeout (295 s): the
    // benchmark's own limit (RKUBE_SCALE_LIST_SECS) decides when to give up.
    config.read_timeout = None;
    let client = Client::try_from(config)?;
    let (idle, _) = server.rss();
    let at_start = Scrape::take(&client).await?;

    let started = Instant::now();
    let mut sim_config = SimConfig::new(nodes);
    sim_config.register_concurrency = 32;
    let sim = SimNodes::start_with_progress(client.clone(), sim_config, |done, total| {
        if done % 1000 == 0 || done == total {
            eprintln!("  {done} / {total} nodes registered");
        }
    })
    .await?;
    let names: Vec<String> = sim.nodes().iter().map(|n| n.name.clone()).collect();
    eprintln!("nodes up in {:.1?}", started.elapsed());
    let (with_nodes, _) = server.rss();

    let (create_rate, mut create_lat) = create_pods(&client, &names, pods, 64).await?;
    create_lat.sort();
    // The simulated kubelets move every pod to Running: wait for them (status writes).
    let api: Api<Pod> = Api::all(client.clone());
    let wait_from = Instant::now();
    loop {
        let running = sim.stats().pods_started as usize;
        if running >= pods {
            break;
        }
        if wait_from.elapsed() > Duration::from_secs(1800) {
            bail!("only {running} of {pods} pods went Running");
        }
        eprintln!("  {running} / {pods} pods Running");
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    eprintln!("all pods Running after {:.1?}", started.elapsed());
    let (loaded, loaded_peak) = server.rss();

    let rv = api
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let deliveries = Arc::new(Mutex::new(Deliveries::default()));
    let watches = watch_nodes(&client, &names, &rv, deliveries.clone());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (watching, _) = server.rss();
    eprintln!(
        "{} node watches open; churn at {rate}/s for at least {secs} s",
        watches.len()
    );
    let before_churn = Scrape::take(&client).await?;
    let patches = churn(&client, pods, rate, secs, deliveries.clone()).await?;
    let after_churn = Scrape::take(&client).await?;
    let timings: Vec<(&str, String, String)> = STORE_TIMINGS
        .iter()
        .map(|(what, name)| {
            let load = before_churn.describe_since(&at_start, name);
            let churned = after_churn.describe_since(&before_churn, name);
            eprintln!("store {what}: loading {load}; churn {churned}");
            (*what, load, churned)
        })
        .collect();
    let slow_patches = slow_calls(&patches, Duration::from_millis(250));
    eprintln!("{slow_patches}");
    let mut patch_lat: Vec<Duration> = patches.iter().map(|(_, took)| *took).collect();
    patch_lat.sort();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut delays, lost) = {
        let d = deliveries.lock().expect("not poisoned");
        (d.delays.clone(), d.sent.len())
    };
    delays.sort();
    for w in &watches {
        w.abort();
    }

    // What is measured so far, in case the LISTs below never finish.
    eprintln!(
        "RSS idle {} → nodes {} → pods Running {} (peak {}) → watches {}; creates {create_rate:.0}/s, \
         p99 {}; patch p99 {}; watch delivery p99 {}",
        gib(idle),
        gib(with_nodes),
        gib(loaded),
        gib(loaded_peak),
        gib(watching),
        ms(percentile(&create_lat, 0.99)),
        ms(percentile(&patch_lat, 0.99)),
        ms(percentile(&delays, 0.99))
    );
    let list_limit = Duration::from_secs(env_or("RKUBE_SCALE_LIST_SECS", 600) as u64);
    let mut lists = Vec::new();
    for (what, params) in [
        (
            "LIST all pods, consistent (watch cache, caught up)",
            ListParams::default(),
        ),
        (
            "LIST all pods, resourceVersion=0 (watch cache)",
            ListParams::default().match_any(),
        ),
        (
            "LIST all pods, 500 per page (store)",
            ListParams::default().limit(500),
        ),
        // The first LIST after the churn has been the slowest whichever path served it.
        ("LIST all pods, consistent, again", ListParams::default()),
    ] {
        let listed = list_all(&server, &client, params, list_limit).await;
        eprintln!("{what}: {}", listed.describe());
        lists.push((what, listed));
    }
    let (from_cache, fallbacks) = Scrape::take(&client).await?.consistent_reads("pods");
    eprintln!(
        "consistent pod LISTs: {from_cache} from the watch cache, {fallbacks} from the store"
    );
    sim.stop().await;

    println!();
    println!("| {nodes} nodes, {pods} pods | figure | goal | upstream SLO / reference |");
    println!("|---|---:|---:|---:|");
    println!("| apiserver RSS idle | {} | | |", gib(idle));
    println!(
        "| apiserver RSS with {nodes} nodes | {} | | |",
        gib(with_nodes)
    );
    println!(
        "| apiserver RSS with {pods} pods Running (peak so far) | {} ({}) | ≤ 4 GiB | hundreds of GB reported at a few thousand nodes |",
        gib(loaded),
        gib(loaded_peak)
    );
    println!(
        "| apiserver RSS with {} node watches | {} | | |",
        watches.len(),
        gib(watching)
    );
    println!("| pod create rate (64 in flight) | {create_rate:.0}/s | | |");
    println!(
        "| pod create latency p50 / p99 | {} / {} | p99 ≤ 100 ms | p99 ≤ 1 s |",
        ms(percentile(&create_lat, 0.5)),
        ms(percentile(&create_lat, 0.99))
    );
    println!(
        "| patch latency under churn ({rate}/s) p50 / p99 | {} / {} | p99 ≤ 100 ms | p99 ≤ 1 s |",
        ms(percentile(&patch_lat, 0.5)),
        ms(percentile(&patch_lat, 0.99))
    );
    println!("| slow patches under churn | {slow_patches} | | |");
    println!(
        "| node-watch delivery after the patch p50 / p99 ({} seen, {lost} not seen) | {} / {} | | |",
        delays.len(),
        ms(percentile(&delays, 0.5)),
        ms(percentile(&delays, 0.99))
    );
    for (what, listed) in &lists {
        println!(
            "| {what} | {} | | p99 ≤ 30 s (cluster-scoped LIST) |",
            listed.describe()
        );
    }
    println!(
        "| consistent pod LISTs answered by the watch cache / by the store (cache not caught up in 3 s) | {from_cache} / {fallbacks} | | |"
    );
    for (what, load, churned) in &timings {
        println!(
            "| store {what} while loading; under churn: count, p99, largest | {load}; {churned} | | |"
        );
    }
    // The headline figures for scripts/bench.sh's summary table.
    println!();
    println!(
        "SUMMARY | scale: apiserver RSS, {nodes} nodes and {pods} pods Running | {} | goal ≤ 4 GiB",
        gib(loaded)
    );
    println!(
        "SUMMARY | scale: patch p99 under churn ({rate}/s), {} node watches | {} | goal ≤ 100 ms; upstream SLO ≤ 1 s",
        watches.len(),
        ms(percentile(&patch_lat, 0.99))
    );
    println!(
        "SUMMARY | scale: LIST of all {pods} pods (consistent) | {} | upstream SLO ≤ 30 s",
        lists[0].1.figure()
    );
    Ok(())
}
