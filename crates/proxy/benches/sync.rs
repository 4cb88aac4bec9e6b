//! Sync benchmark (needs root): 1000 Services × 10 endpoints in a real apiserver, the proxy
//! programming a fresh network namespace. Prints the full sync time, incremental sync times,
//! and network programming latency (EndpointSlice trigger time → rules in the kernel) while
//! endpoints change — next to references measured in the same run: raw `nft -f` of the same
//! full script (no proxy bookkeeping) and `iptables-restore` of an upstream-iptables-shaped
//! ruleset of the same size. `SERVICES` / `ENDPOINTS` override the sizes.
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use serde_json::json;

use rkube_proxy::chains::{RuleContext, generate};
use rkube_proxy::model::{Endpoint, Protocol, ServicePort, ServicePortName, Snapshot};
use rkube_proxy::script::{self, Existing, NodePortAddresses, Skeleton};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("rkpb{}-{tag}", std::process::id());
        common::sh(&["ip", "netns", "add", &name]);
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn feed(ns: &str, program: &[&str], input: &str) -> Duration {
    let start = Instant::now();
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{ns}"))
        .args(program)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

fn ip(i: usize, j: usize) -> [u8; 4] {
    [10, 42 + (i / 250) as u8, (i % 250) as u8, 10 + j as u8]
}

/// The same services as pure data, for the reference runs.
fn snapshot(services: usize, endpoints: usize, cips: &[std::net::Ipv4Addr]) -> Snapshot {
    let mut snap = Snapshot::default();
    for (i, cip) in cips.iter().enumerate().take(services) {
        let spn = ServicePortName {
            namespace: "default".into(),
            name: format!("svc-{i}"),
            port: "http".into(),
            protocol: Protocol::Tcp,
        };
        snap.services.insert(
            spn.clone(),
            ServicePort {
                cluster_ip: *cip,
                port: 80,
                node_port: None,
                external_ips: vec![],
                load_balancer_ips: vec![],
                load_balancer_source_ranges: vec![],
                affinity_timeout: None,
                external_policy_local: false,
                internal_policy_local: false,
                health_check_node_port: None,
            },
        );
        let eps = (0..endpoints)
            .map(|j| Endpoint {
                ip: ip(i, j).into(),
                port: 8080,
                ready: true,
                serving: true,
                terminating: false,
                local: false,
            })
            .collect();
        snap.endpoints.insert(spn, eps);
    }
    snap
}

/// An iptables-restore input shaped like upstream's iptables mode for the same services.
fn iptables_script(services: usize, endpoints: usize, cips: &[std::net::Ipv4Addr]) -> String {
    let mut s = String::from(
        "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n",
    );
    let mut rules = String::new();
    for (i, cip) in cips.iter().enumerate().take(services) {
        s.push_str(&format!(":KUBE-SVC-{i:06} - [0:0]\n"));
        rules.push_str(&format!(
            "-A KUBE-SERVICES -d {cip}/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-{i:06}\n"
        ));
        rules.push_str(&format!("-A KUBE-SVC-{i:06} ! -s 10.42.0.0/16 -d {cip}/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ\n"));
        for j in 0..endpoints {
            s.push_str(&format!(":KUBE-SEP-{i:06}-{j:02} - [0:0]\n"));
            let left = endpoints - j;
            if left > 1 {
                rules.push_str(&format!(
                    "-A KUBE-SVC-{i:06} -m statistic --mode random --probability {:.10} -j KUBE-SEP-{i:06}-{j:02}\n",
                    1.0 / left as f64
                ));
            } else {
                rules.push_str(&format!("-A KUBE-SVC-{i:06} -j KUBE-SEP-{i:06}-{j:02}\n"));
            }
            let a = std::net::Ipv4Addr::from(ip(i, j));
            rules.push_str(&format!(
                "-A KUBE-SEP-{i:06}-{j:02} -s {a}/32 -j KUBE-MARK-MASQ\n"
            ));
            rules.push_str(&format!(
                "-A KUBE-SEP-{i:06}-{j:02} -p tcp -m tcp -j DNAT --to-destination {a}:8080\n"
            ));
        }
    }
    s.push_str(&rules);
    s.push_str("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\nCOMMIT\n");
    s
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn slice_body(i: usize, endpoints: usize, ready_mask: u32) -> serde_json::Value {
    let eps: Vec<serde_json::Value> = (0..endpoints)
        .map(|j| {
            let a = std::net::Ipv4Addr::from(ip(i, j)).to_string();
            json!({"addresses": [a], "conditions": {"ready": ready_mask & (1 << j) != 0}, "nodeName": "node-b"})
        })
        .collect();
    json!(eps)
}

async fn set_slice(cluster: &common::Cluster, i: usize, endpoints: usize, ready_mask: u32) {
    cluster
        .slice(
            &format!("svc-{i}-1"),
            &format!("svc-{i}"),
            slice_body(i, endpoints, ready_mask),
            json!([{"name": "http", "port": 8080}]),
        )
        .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // where the (root-only, minute-long) benchmark is skipped.
    if !std::env::args().any(|a| a == "--bench") {
        println!("sync benchmark: run with `cargo bench -p rkube-proxy --bench sync` (needs root)");
        return;
    }
    // Logs go to stderr, at warn: stdout is the report (the tests' subscriber, installed by
    // `common` when none is, writes the proxy's debug lines to stdout).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .try_init();
    let services = env("SERVICES", 1000);
    let endpoints = env("ENDPOINTS", 10).min(30);
    let all = (1u32 << endpoints) - 1;
    let cluster = common::Cluster::start().await;

    let t = Instant::now();
    let created: Vec<std::net::Ipv4Addr> = futures::stream::iter(0..services)
        .map(|i| {
            let cluster = &cluster;
            async move {
                let svc = cluster
                    .service(
                        &format!("svc-{i}"),
                        json!({"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
                    )
                    .await;
                set_slice(cluster, i, endpoints, all).await;
                (i, common::cluster_ip(&svc))
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .fold(
            vec![std::net::Ipv4Addr::UNSPECIFIED; services],
            |mut v, (i, ip)| {
                v[i] = ip;
                v
            },
        );
    println!(
        "setup: {services} Services x {endpoints} endpoints created in {:.2?}",
        t.elapsed()
    );

    // --- The proxy.
    let node = Netns::new("node");
    let mut config = rkube_proxy::ProxyConfig::new("node-a");
    config.netns = Some(format!("/var/run/netns/{}", node.0).into());
    let t = Instant::now();
    let proxy = rkube_proxy::Proxy::start(config.clone(), cluster.client.clone())
        .await
        .unwrap();
    assert!(
        proxy.wait_synced(0, Duration::from_secs(120)).await,
        "{:?}",
        proxy.stats()
    );
    let first = proxy.stats();
    let table = common::in_ns(&node.0, &["nft", "list", "table", "ip", "kube-proxy"]);
    let chains = table.matches("\tchain ").count();
    println!(
        "proxy full sync: {:.1} ms ({} script lines, {chains} chains in the kernel); start→synced incl. list+watch {:.2?}",
        first.last_duration.as_secs_f64() * 1e3,
        first.last_script_lines,
        t.elapsed()
    );

    // --- Incremental syncs: one endpoint of one service changes per sync.
    let mut inc = Vec::new();
    let mut lines = Vec::new();
    let mut phases = Vec::new();
    for k in 0..20 {
        let g = proxy.sync_generation();
        set_slice(&cluster, (k * 37) % services, endpoints, all & !1).await;
        assert!(proxy.wait_synced(g, Duration::from_secs(10)).await);
        let s = proxy.stats();
        inc.push(s.last_duration.as_secs_f64() * 1e3);
        lines.push(s.last_script_lines);
        phases.push(s.last_phases);
    }
    inc.sort_by(f64::total_cmp);
    println!(
        "proxy incremental sync (1 endpoint of 1 service): p50 {:.1} ms, max {:.1} ms, {}..{} script lines",
        percentile(&inc, 0.5),
        inc.last().unwrap(),
        lines.iter().min().unwrap(),
        lines.iter().max().unwrap()
    );
    let med = |f: &dyn Fn(&rkube_proxy::proxier::SyncPhases) -> Duration| {
        let mut v: Vec<f64> = phases.iter().map(|p| f(p).as_secs_f64() * 1e3).collect();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    };
    println!(
        "  incremental phases (p50): snapshot {:.1} ms, generate {:.1} ms, diff+render {:.1} ms, nft {:.1} ms",
        med(&|p| p.snapshot),
        med(&|p| p.generate),
        med(&|p| p.render),
        med(&|p| p.apply)
    );
    println!("  full sync phases: {:?}", first.last_phases);

    // --- Network programming latency under churn: 10 slice updates/s for 20 s.
    let mut programming = Vec::new();
    for (label, min_sync) in [
        ("minSyncPeriod 1s (default)", Duration::from_secs(1)),
        ("minSyncPeriod 0", Duration::ZERO),
    ] {
        let (p50, p99) = proxy_latency_phase(
            &cluster,
            &proxy,
            label,
            min_sync,
            services,
            endpoints,
            all,
            config.clone(),
        )
        .await;
        programming.push((label, p50, p99));
    }
    let fulls = proxy.stats();
    proxy.stop().await;
    let _ = fulls;

    // --- References on the same data.
    let snap = snapshot(services, endpoints, &created);
    let ctx = RuleContext {
        cluster_cidrs: vec!["10.42.0.0/16".parse().unwrap()],
        masquerade_all: false,
        node_ips: vec![],
    };
    let t = Instant::now();
    let g = generate(&snap, &ctx);
    let sk = Skeleton {
        table: "ref".into(),
        mark: 0x4000,
        service_cidrs: vec!["10.43.0.0/16".parse().unwrap()],
        nodeports: NodePortAddresses::All,
    };
    let full = script::full(&sk, &g.state, &Existing::default());
    let gen_time = t.elapsed();
    let refns = Netns::new("ref");
    let nft_time = feed(&refns.0, &["nft", "-f", "-"], &full);
    let again = feed(&refns.0, &["nft", "-f", "-"], &full);
    println!(
        "reference raw nft -f of the same full script: {:.1} ms into an empty netns, {:.1} ms over itself (generation alone: {:.1} ms, {} lines)",
        nft_time.as_secs_f64() * 1e3,
        again.as_secs_f64() * 1e3,
        gen_time.as_secs_f64() * 1e3,
        full.lines().count()
    );
    let ipt = iptables_script(services, endpoints, &created);
    let iptns = Netns::new("ipt");
    let ipt_time = feed(&iptns.0, &["iptables-restore", "-w"], &ipt);
    let ipt_again = feed(&iptns.0, &["iptables-restore", "-w"], &ipt);
    println!(
        "reference iptables-restore (nft backend) of an upstream-iptables-shaped ruleset ({} rules): {:.1} ms fresh, {:.1} ms rewrite",
        ipt.lines().filter(|l| l.starts_with("-A")).count(),
        ipt_time.as_secs_f64() * 1e3,
        ipt_again.as_secs_f64() * 1e3
    );
    drop(node);
    cluster.stop().await;

    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    println!();
    println!(
        "SUMMARY | proxy: full sync, {services} Services × {endpoints} endpoints | {:.0} ms | raw `nft -f` of the same script {:.0} ms; `iptables-restore` of an upstream-shaped ruleset {:.0} ms",
        first.last_duration.as_secs_f64() * 1e3,
        nft_time.as_secs_f64() * 1e3,
        ipt_time.as_secs_f64() * 1e3
    );
    println!(
        "SUMMARY | proxy: incremental sync, 1 endpoint of 1 Service changed | p50 {:.0} ms | –",
        percentile(&inc, 0.5)
    );
    for (label, p50, p99) in programming {
        println!(
            "SUMMARY | proxy: network programming latency p50 / p99, {label} | {:.0} / {:.0} ms | –",
            p50 * 1e3,
            p99 * 1e3
        );
    }
}

#[allow(clippy::too_many_arguments)]
async fn proxy_latency_phase(
    cluster: &common::Cluster,
    first: &rkube_proxy::Proxy,
    label: &str,
    min_sync: Duration,
    services: usize,
    endpoints: usize,
    all: u32,
    mut config: rkube_proxy::ProxyConfig,
) -> (f64, f64) {
    // A separate proxy with this min_sync_period on its own namespace (the first keeps running).
    let _ = first;
    let ns = Netns::new(if min_sync.is_zero() { "lat0" } else { "lat1" });
    config.netns = Some(format!("/var/run/netns/{}", ns.0).into());
    config.min_sync_period = min_sync;
    let proxy = rkube_proxy::Proxy::start(config, cluster.client.clone())
        .await
        .unwrap();
    assert!(proxy.wait_synced(0, Duration::from_secs(120)).await);
    let base = proxy.stats().programming_latencies.len();
    let syncs0 = proxy.stats().partial_syncs;
    let start = SystemTime::now();
    let mut k = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while start.elapsed().unwrap_or_default() < Duration::from_secs(20) {
        tick.tick().await;
        let i = (k * 7919) % services;
        set_slice(
            cluster,
            i,
            endpoints,
            if k.is_multiple_of(2) { all & !2 } else { all },
        )
        .await;
        k += 1;
    }
    tokio::time::sleep(min_sync + Duration::from_millis(500)).await;
    let s = proxy.stats();
    let mut lat: Vec<f64> = s.programming_latencies[base..].to_vec();
    lat.sort_by(f64::total_cmp);
    println!(
        "network programming latency, {label}: {} slice updates, {} samples, {} syncs: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        k,
        lat.len(),
        s.partial_syncs - syncs0,
        percentile(&lat, 0.5) * 1e3,
        percentile(&lat, 0.99) * 1e3,
        lat.last().copied().unwrap_or(f64::NAN) * 1e3
    );
    proxy.stop().await;
    (percentile(&lat, 0.5), percentile(&lat, 0.99))
}
