//! Cluster-name lookup throughput and latency over UDP, side by side in one run with a
//! reference: the same names and load against a plain hickory-server in-memory authority,
//! and our forward path answering from its cache. Also the pure `resolve` cost per lookup.
//!
//! `cargo bench -p rkube-dns --bench lookup` (env `DNS_BENCH_QUERIES`, default 20000 per run).
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use k8s_openapi::api::core::v1::{Namespace, Service};
use rkube_dns::answer::{Settings, resolve};
use rkube_dns::names::Zone;
use rkube_dns::{DnsConfig, DnsServer, Snapshot};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const SERVICES: usize = 1000;
const CLIENTS: usize = 4;

fn service_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 43, 1 + (i / 250) as u8, (i % 250) as u8 + 1)
}

fn service_name(i: usize) -> String {
    format!("svc-{i}.default.svc.cluster.local.")
}

fn snapshot() -> Snapshot {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
    let services: Vec<Service> = (0..SERVICES)
        .map(|i| {
            serde_json::from_value(json!({
                "metadata": {"name": format!("svc-{i}"), "namespace": "default"},
                "spec": {"clusterIP": service_ip(i).to_string(),
                         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
            }))
            .unwrap()
        })
        .collect();
    let mut s = Snapshot::build("cluster.local", [&ns], &services, []);
    s.synced = true;
    s
}

/// A hickory-server authority holding the same 1000 A records.
async fn hickory_reference() -> (SocketAddr, Server<Catalog>) {
    let origin = Name::from_ascii("cluster.local.").unwrap();
    let mut zone = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let soa = SOA::new(
        Name::from_ascii("ns.dns.cluster.local.").unwrap(),
        Name::from_ascii("hostmaster.cluster.local.").unwrap(),
        1,
        7200,
        1800,
        86400,
        5,
    );
    zone.upsert_mut(Record::from_rdata(origin.clone(), 5, RData::SOA(soa)), 1);
    for i in 0..SERVICES {
        let name = Name::from_ascii(service_name(i)).unwrap();
        zone.upsert_mut(Record::from_rdata(name, 5, RData::A(A(service_ip(i)))), 1);
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(origin), vec![Arc::new(zone)]);
    let mut server = Server::new(catalog);
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    server.register_socket(socket);
    (addr, server)
}

/// An upstream for the forward-path run (answers everything with one A record, TTL 300).
async fn upstream() -> SocketAddr {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    let answer = |bytes: &[u8]| -> Option<Vec<u8>> {
        let req = Message::from_vec(bytes).ok()?;
        let q = req.queries.first()?.clone();
        let mut m = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
        m.metadata.recursion_available = true;
        m.add_query(q.clone());
        m.add_answer(Record::from_rdata(
            q.name().clone(),
            300,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        m.to_vec().ok()
    };
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if let Some(r) = answer(&buf[..n]) {
                let _ = udp.send_to(&r, from).await;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            if let Ok(n) = s.read_u16().await {
                let mut buf = vec![0u8; usize::from(n)];
                if s.read_exact(&mut buf).await.is_ok()
                    && let Some(r) = answer(&buf)
                {
                    let _ = s.write_all(&(r.len() as u16).to_be_bytes()).await;
                    let _ = s.write_all(&r).await;
                }
            }
        }
    });
    addr
}

struct Run {
    qps: f64,
    p50: Duration,
    p99: Duration,
    lost: usize,
    wrong: usize,
}

/// `total` queries from `CLIENTS` closed-loop clients cycling through `names`.
async fn load(server: SocketAddr, names: Arc<Vec<Vec<u8>>>, total: usize) -> Run {
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let names = names.clone();
        tasks.push(tokio::spawn(async move {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            socket.connect(server).await.unwrap();
            let mut lat = Vec::with_capacity(total / CLIENTS);
            let (mut lost, mut wrong) = (0, 0);
            let mut buf = vec![0u8; 4096];
            for i in 0..total / CLIENTS {
                let mut q = names[(i * CLIENTS + c) % names.len()].clone();
                let id = (i as u16).wrapping_mul(31).wrapping_add(c as u16);
                q[..2].copy_from_slice(&id.to_be_bytes());
                let start = Instant::now();
                socket.send(&q).await.unwrap();
                match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
                    Ok(Ok(n)) => {
                        lat.push(start.elapsed());
                        match Message::from_vec(&buf[..n]) {
                            Ok(m)
                                if m.metadata.id == id
                                    && m.metadata.response_code == ResponseCode::NoError
                                    && !m.answers.is_empty() => {}
                            _ => wrong += 1,
                        }
                    }
                    _ => lost += 1,
                }
            }
            (lat, lost, wrong)
        }));
    }
    let mut all = Vec::new();
    let (mut lost, mut wrong) = (0, 0);
    for t in tasks {
        let (l, x, w) = t.await.unwrap();
        all.extend(l);
        lost += x;
        wrong += w;
    }
    let elapsed = t0.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Run {
        qps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        lost,
        wrong,
    }
}

fn encoded(names: impl Iterator<Item = String>) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        names
            .map(|n| {
                let mut m = Message::query();
                m.metadata.recursion_desired = true;
                m.add_query(Query::query(Name::from_ascii(n).unwrap(), RecordType::A));
                m.to_vec().unwrap()
            })
            .collect(),
    )
}

fn print(label: &str, r: &Run) {
    println!(
        "{label:<36} {:>9.0} q/s   p50 {:>7.1} µs   p99 {:>7.1} µs   lost {}  wrong {}",
        r.qps,
        r.p50.as_secs_f64() * 1e6,
        r.p99.as_secs_f64() * 1e6,
        r.lost,
        r.wrong
    );
}

fn main() {
    let total: usize = std::env::var("DNS_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let snap = Arc::new(snapshot());

        // The pure lookup, no sockets.
        let settings = Settings {
            zone: Zone::new("cluster.local").unwrap(),
            ttl: 5,
            dns_service: ("kube-system".into(), "kube-dns".into()),
        };
        let qnames: Vec<Name> = (0..SERVICES)
            .map(|i| Name::from_ascii(service_name(i)).unwrap())
            .collect();
        let t0 = Instant::now();
        let rounds = 200;
        for _ in 0..rounds {
            for q in &qnames {
                std::hint::black_box(resolve(&snap, &settings, q, RecordType::A));
            }
        }
        let per = t0.elapsed() / (rounds * SERVICES) as u32;
        println!(
            "resolve() over {SERVICES} Services: {:.2} µs per A lookup (pure, no I/O)",
            per.as_secs_f64() * 1e6
        );

        let up = upstream().await;
        let (_tx, rx) = tokio::sync::watch::channel(snap.clone());
        let mut config = DnsConfig::new(vec!["127.0.0.1:0".parse().unwrap()]);
        config.upstreams = vec![up];
        let ours = DnsServer::serve(config, rx).await.unwrap();
        let ours_addr = ours.local_addrs()[0];
        let (ref_addr, mut reference) = hickory_reference().await;

        let cluster = encoded((0..SERVICES).map(service_name));
        let external = encoded((0..SERVICES).map(|i| format!("host-{i}.example.com.")));
        // Warm up everything (and fill our cache for the forward run).
        load(ours_addr, cluster.clone(), 2000).await;
        load(ref_addr, cluster.clone(), 2000).await;
        load(ours_addr, external.clone(), SERVICES * 2).await;

        println!(
            "{total} A queries per run, {CLIENTS} concurrent closed-loop UDP clients, {SERVICES} Services"
        );
        let mut rounds = Vec::new();
        for round in 1..=2 {
            let (c, r, f) = (
                load(ours_addr, cluster.clone(), total).await,
                load(ref_addr, cluster.clone(), total).await,
                load(ours_addr, external.clone(), total).await,
            );
            print(&format!("[{round}] rkube-dns cluster names"), &c);
            print(&format!("[{round}] hickory in-memory authority"), &r);
            print(&format!("[{round}] rkube-dns forward path (cached)"), &f);
            rounds.push((c, r, f));
        }
        ours.stop().await;
        let _ = reference.shutdown_gracefully().await;

        // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
        let brief = |r: &Run| {
            format!(
                "{:.1}k q/s, p99 {:.0} µs, {} lost, {} wrong",
                r.qps / 1e3,
                r.p99.as_secs_f64() * 1e6,
                r.lost,
                r.wrong
            )
        };
        println!();
        for (i, (c, r, _)) in rounds.iter().enumerate() {
            println!(
                "SUMMARY | dns: cluster-name A queries, {SERVICES} Services, {CLIENTS} UDP clients, run {} | {} | hickory in-memory authority {}",
                i + 1,
                brief(c),
                brief(r)
            );
        }
        if let Some((_, _, f)) = rounds.last() {
            println!(
                "SUMMARY | dns: forwarded name answered from the cache | {} | –",
                brief(f)
            );
        }
        println!(
            "SUMMARY | dns: resolve() per A lookup, no I/O | {:.2} µs | –",
            per.as_secs_f64() * 1e6
        );
    });
}
