//! API server benchmark: pod creates, large LISTs (JSON and Table, whole and paginated) and
//! watch fan-out through HTTPS with kube-rs clients, on the embedded store and on etcd, each
//! beside the raw `Store` figure of a second instance of the same backend, in one run.
//!
//! `cargo bench -p rkube-apiserver` (add `-- --quick` for a short run). Prints a Markdown table
//! for BENCHMARKS.md. `RKUBE_BENCH_ONLY=list` skips the watch fan-outs (the pods are still
//! created: the LISTs need them), for measuring LIST changes without the slowest phases. The apiservers run in this process, so the clients' own work (TLS,
//! JSON) shares the machine with the server's.
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

/// The allocator the `rkube` binary uses, so the in-process servers measure as it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, Pod, PodSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Client, Config};
use rkube_apiserver::server::{RunningServer, ServerConfig, start_with_store};
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::etcd::{EtcdConfig, EtcdStore};
use rkube_store::{CreateOutcome, RangeRequest, Revision, Store, UpdateOutcome};
use rkube_testkit::EtcdCluster;
use rkube_testkit::bench::rate;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const NAMESPACE: &str = "default";
/// What kubectl sends for `kubectl get`.
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
/// kubectl's default chunk size.
const PAGE_LIMIT: usize = 500;
/// The registry reads the store in pages of this many keys when the client sets no limit.
const REGISTRY_PAGE: i64 = 1000;
/// Carries an update's index to the watchers.
const SEQ_ANNOTATION: &str = "bench.rkube.dev/seq";
const UPDATE_GAP: Duration = Duration::from_millis(10);
/// Longest wait for every watcher to see every update.
const WATCH_DEADLINE: Duration = Duration::from_secs(180);
/// Watches being opened at once.
const WATCH_OPENERS: usize = 32;

/// How much work each measurement does.
struct Plan {
    single_creates: usize,
    concurrent_creates: usize,
    clients: usize,
    list_runs: usize,
    watchers: usize,
    updates: usize,
    /// Whether the watch fan-outs run (not with `RKUBE_BENCH_ONLY=list`).
    watches: bool,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                single_creates: 200,
                concurrent_creates: 1800,
                clients: 64,
                list_runs: 3,
                watchers: 200,
                updates: 50,
                watches: true,
            }
        } else {
            Plan {
                single_creates: 1000,
                concurrent_creates: 9000,
                clients: 64,
                list_runs: 5,
                watchers: 1000,
                updates: 100,
                watches: true,
            }
        }
    }

    /// Pods stored (and listed) per backend: those of both create measurements.
    fn pods(&self) -> usize {
        self.single_creates + self.concurrent_creates
    }
}

// ---------------------------------------------------------------------------------------------
// The pod

fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.into())),
        ("memory".to_string(), Quantity(memory.into())),
    ])
}

fn container(
    name: &str,
    image: &str,
    ports: &[(&str, i32)],
    env: &[(&str, &str)],
    requests: (&str, &str),
    limits: (&str, &str),
) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ports: Some(
            ports
                .iter()
                .map(|(port_name, port)| ContainerPort {
                    name: Some(port_name.to_string()),
                    container_port: *port,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                })
                .collect(),
        ),
        env: Some(
            env.iter()
                .map(|(k, v)| EnvVar {
                    name: k.to_string(),
                    value: Some(v.to_string()),
                    ..Default::default()
                })
                .collect(),
        ),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(requests.0, requests.1)),
            limits: Some(quantities(limits.0, limits.1)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A realistic ~2 KB pod: an application container and a sidecar, with env, ports,
/// resources, labels and annotations.
fn pod(name: &str) -> Pod {
    let web = container(
        "web",
        "registry.example.com/shop/frontend:v2.14.3",
        &[("http", 8080), ("https", 8443)],
        &[
            ("APP_ENV", "production"),
            ("LOG_LEVEL", "info"),
            ("LISTEN_ADDR", "0.0.0.0:8080"),
            (
                "DATABASE_URL",
                "postgres://shop@db.shop.svc.cluster.local:5432/shop",
            ),
            ("CACHE_URL", "redis://cache.shop.svc.cluster.local:6379/0"),
            ("FEATURE_FLAGS", "checkout-v2,recommendations,dark-mode"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://otel-collector.observability:4317",
            ),
            ("SESSION_COOKIE_DOMAIN", "shop.example.com"),
            ("UPSTREAM_TIMEOUT", "15s"),
            ("MAX_CONNECTIONS", "512"),
            ("GOMAXPROCS", "2"),
            ("TZ", "UTC"),
        ],
        ("250m", "256Mi"),
        ("1", "512Mi"),
    );
    let sidecar = container(
        "log-shipper",
        "registry.example.com/platform/log-shipper:1.9.0",
        &[("metrics", 9102)],
        &[
            ("SHIP_TO", "https://logs.example.com/ingest"),
            ("BUFFER_SIZE", "8MiB"),
            ("FLUSH_INTERVAL", "5s"),
        ],
        ("50m", "64Mi"),
        ("200m", "128Mi"),
    );
    let web = Container {
        args: Some(vec![
            "--config=/etc/shop/config.yaml".into(),
            "--port=8080".into(),
            "--metrics-port=9102".into(),
        ]),
        image_pull_policy: Some("IfNotPresent".into()),
        ..web
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(string_map(&[
                ("app.kubernetes.io/name", "shop-frontend"),
                ("app.kubernetes.io/part-of", "shop"),
                ("app.kubernetes.io/version", "2.14.3"),
                ("tier", "web"),
                ("pod-template-hash", "7d4b9c8f6d"),
            ])),
            annotations: Some(string_map(&[
                ("prometheus.io/scrape", "true"),
                ("prometheus.io/port", "9102"),
                ("kubectl.kubernetes.io/default-container", "web"),
                (
                    "checksum/config",
                    "3f1c9a7e5b2d4c6a8e0f1b3d5c7a9e2f4b6d8c0a1e3f5b7d9c2a4e6f8b0d1c3e",
                ),
            ])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![web, sidecar],
            termination_grace_period_seconds: Some(45),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_name(tag: &str, i: usize) -> String {
    format!("pod-{tag}-{i:05}")
}

fn pod_prefix() -> String {
    format!("/registry/pods/{NAMESPACE}/")
}

/// The apiserver's key for a pod (the raw stores use the same layout).
fn pod_key(name: &str) -> String {
    format!("{}{name}", pod_prefix())
}

// ---------------------------------------------------------------------------------------------
// Backends

/// One backend under test: an apiserver on one store instance, and a second instance of the
/// same backend for the raw `Store` reference figures.
struct Backend {
    server: RunningServer,
    client: Client,
    api_store: Arc<dyn Store>,
    raw: Arc<dyn Store>,
    disk: Disk,
    _dir: tempfile::TempDir,
}

/// Where each store instance keeps its bytes.
enum Disk {
    Embedded {
        api: Arc<EmbeddedStore>,
        raw: Arc<EmbeddedStore>,
    },
    Etcd {
        api: Vec<String>,
        raw: Vec<String>,
    },
}

async fn kube_client(server: &RunningServer) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("kube client")
}

async fn serve(dir: &Path, store: Arc<dyn Store>) -> (RunningServer, Client) {
    let mut config = ServerConfig::new(dir);
    config.bind_address = [127, 0, 0, 1].into();
    config.https_port = 0;
    config.include_host_sans = false;
    let server = start_with_store(config, store)
        .await
        .expect("apiserver starts");
    let client = kube_client(&server).await;
    (server, client)
}

async fn open_embedded(dir: &Path) -> Arc<EmbeddedStore> {
    Arc::new(
        EmbeddedStore::open(EmbeddedOptions::new(dir))
            .await
            .expect("open embedded store"),
    )
}

async fn embedded_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let api = open_embedded(&dir.path().join("db")).await;
    let raw = open_embedded(&dir.path().join("raw")).await;
    let (server, client) = serve(dir.path(), api.clone()).await;
    Backend {
        server,
        client,
        api_store: api.clone(),
        raw: raw.clone(),
        disk: Disk::Embedded { api, raw },
        _dir: dir,
    }
}

async fn connect_etcd(cluster: &EtcdCluster) -> Arc<dyn Store> {
    Arc::new(
        EtcdStore::connect(EtcdConfig::new(cluster.endpoints()))
            .await
            .expect("connect etcd"),
    )
}

async fn etcd_backend(api: &EtcdCluster, raw: &EtcdCluster) -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let api_store = connect_etcd(api).await;
    let (server, client) = serve(dir.path(), Arc::clone(&api_store)).await;
    Backend {
        server,
        client,
        api_store,
        raw: connect_etcd(raw).await,
        disk: Disk::Etcd {
            api: api.endpoints(),
            raw: raw.endpoints(),
        },
        _dir: dir,
    }
}

async fn etcd_db_size(endpoints: &[String]) -> u64 {
    let mut client = etcd_client::Client::connect(endpoints, None)
        .await
        .expect("etcd maintenance client");
    let status = client.status().await.expect("etcd status");
    u64::try_from(status.db_size()).unwrap_or(0)
}

/// Bytes on disk of the apiserver's store and of the raw one.
async fn disk_usage(disk: &Disk) -> (u64, u64) {
    match disk {
        Disk::Embedded { api, raw } => (api.disk_usage(), raw.disk_usage()),
        Disk::Etcd { api, raw } => (etcd_db_size(api).await, etcd_db_size(raw).await),
    }
}

/// Prints a progress line to stderr with the time since the first one.
fn progress(what: &str) {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    eprintln!("[{:6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// The process's resident set size, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

// ---------------------------------------------------------------------------------------------
// Creates

async fn api_create_rate(client: &Client, tag: &'static str, clients: usize, total: usize) -> f64 {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    rate(clients, total, move |i| {
        let (pods, body) = (pods.clone(), pod(&pod_name(tag, i)));
        async move {
            pods.create(&PostParams::default(), &body)
                .await
                .expect("create pod");
        }
    })
    .await
}

async fn raw_create_rate(
    store: &Arc<dyn Store>,
    value: &Bytes,
    tag: &'static str,
    writers: usize,
    total: usize,
) -> f64 {
    let (store, value) = (Arc::clone(store), value.clone());
    rate(writers, total, move |i| {
        let (store, value, key) = (
            Arc::clone(&store),
            value.clone(),
            pod_key(&pod_name(tag, i)),
        );
        async move {
            match store.create(&key, value, None).await {
                Ok(CreateOutcome::Created(_)) => {}
                other => panic!("create {key}: {other:?}"),
            }
        }
    })
    .await
}

/// The bytes the apiserver stored for a pod (the raw stores write values of this size).
async fn stored_value(store: &Arc<dyn Store>, name: &str) -> Bytes {
    store
        .get(&pod_key(name), 0)
        .await
        .expect("read stored pod")
        .expect("stored pod exists")
        .value
}

// ---------------------------------------------------------------------------------------------
// Lists

/// One full listing: time spent in requests, response bytes, pages, items.
#[derive(Clone, Copy, Default)]
struct Listing {
    elapsed: Duration,
    bytes: usize,
    pages: usize,
    items: usize,
}

/// The parts of a list (or Table) response the benchmark checks.
#[derive(Deserialize)]
struct Page {
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<IgnoredAny>,
    #[serde(default)]
    rows: Vec<IgnoredAny>,
}

fn list_request(
    accept: &str,
    limit: Option<usize>,
    continue_token: Option<&str>,
) -> http::Request<Vec<u8>> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(limit) = limit {
        query.append_pair("limit", &limit.to_string());
    }
    if let Some(token) = continue_token {
        query.append_pair("continue", token);
    }
    let query = query.finish();
    let mut uri = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    if !query.is_empty() {
        uri = format!("{uri}?{query}");
    }
    http::Request::get(uri)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .expect("list request")
}

/// Lists every pod through the apiserver, in pages of `limit` when given. Only the requests
/// are timed; parsing the continue token is not.
async fn api_list(client: &Client, accept: &str, limit: Option<usize>) -> Listing {
    let mut listing = Listing::default();
    let mut token: Option<String> = None;
    loop {
        let request = list_request(accept, limit, token.as_deref());
        let start = Instant::now();
        let text = client.request_text(request).await.expect("list pods");
        listing.elapsed += start.elapsed();
        let page: Page = serde_json::from_str(&text).expect("list response");
        listing.bytes += text.len();
        listing.pages += 1;
        listing.items += page.items.len() + page.rows.len();
        match page.metadata.continue_ {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return listing,
        }
    }
}

/// Reads every pod key from a store in pages of `page` keys at one revision, as the registry
/// does.
async fn raw_list(store: &Arc<dyn Store>, page: i64) -> Listing {
    let mut listing = Listing::default();
    let (mut start_after, mut revision) = (None, 0);
    let start = Instant::now();
    loop {
        let resp = store
            .range(RangeRequest {
                prefix: pod_prefix(),
                start_after: start_after.take(),
                limit: page,
                revision,
            })
            .await
            .expect("range");
        revision = resp.revision;
        listing.pages += 1;
        listing.items += resp.kvs.len();
        listing.bytes += resp.kvs.iter().map(|kv| kv.value.len()).sum::<usize>();
        start_after = resp.kvs.last().map(|kv| kv.key.clone());
        if !resp.more {
            break;
        }
    }
    listing.elapsed = start.elapsed();
    listing
}

/// The run with the median time of `runs` runs.
async fn median<F, Fut>(runs: usize, mut run: F) -> Listing
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Listing>,
{
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs {
        all.push(run().await);
    }
    all.sort_by_key(|l| l.elapsed);
    all[all.len() / 2]
}

/// The LIST variants measured, with the raw store's page size for the reference (none for
/// Tables: the store work is the same as for JSON).
const LISTS: [(&str, &str, Option<usize>, Option<i64>); 4] = [
    ("JSON", "application/json", None, Some(REGISTRY_PAGE)),
    (
        "JSON, limit=500",
        "application/json",
        Some(PAGE_LIMIT),
        Some(PAGE_LIMIT as i64),
    ),
    ("Table", TABLE, None, None),
    ("Table, limit=500", TABLE, Some(PAGE_LIMIT), None),
];

async fn measure_lists(backend: &Backend, plan: &Plan) -> Vec<(Listing, Option<Listing>)> {
    let mut out = Vec::new();
    for (label, accept, limit, raw_page) in LISTS {
        progress(&format!("  LIST {} pods, {label}…", plan.pods()));
        let api = median(plan.list_runs, || api_list(&backend.client, accept, limit)).await;
        assert_eq!(api.items, plan.pods(), "LIST {label} returned every pod");
        let raw = match raw_page {
            Some(page) => Some(median(plan.list_runs, || raw_list(&backend.raw, page)).await),
            None => None,
        };
        out.push((api, raw));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Watch fan-out

type Sent = Arc<Vec<OnceLock<Instant>>>;

fn sent_slots(n: usize) -> Sent {
    Arc::new((0..n).map(|_| OnceLock::new()).collect())
}

fn ms_since(sent: &Sent, i: usize) -> f64 {
    let at = sent
        .get(i)
        .and_then(OnceLock::get)
        .expect("update sent before seen");
    at.elapsed().as_secs_f64() * 1000.0
}

/// (p50, p99) in milliseconds of all latencies.
fn percentiles(mut all: Vec<f64>) -> (f64, f64) {
    assert!(!all.is_empty(), "no latencies");
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize];
    (pct(0.50), pct(0.99))
}

/// What a watch fan-out measured (all zero when skipped: `RKUBE_BENCH_ONLY=list`).
#[derive(Clone, Copy, Default)]
struct Fanout {
    /// (p50, p99) event latency in milliseconds.
    latency: (f64, f64),
    /// From the first update call to the last watcher having every event.
    span: Duration,
    /// (watcher, event) pairs delivered.
    deliveries: usize,
}

/// Waits for every watcher's latencies; `first_update` is when the first update was issued.
async fn gather(watchers: Vec<tokio::task::JoinHandle<Vec<f64>>>, first_update: Instant) -> Fanout {
    let collect = async {
        let mut all = Vec::new();
        for w in watchers {
            all.extend(w.await.expect("watcher task"));
        }
        all
    };
    let all = tokio::time::timeout(WATCH_DEADLINE, collect)
        .await
        .expect("every watcher saw every update in time");
    Fanout {
        span: first_update.elapsed(),
        deliveries: all.len(),
        latency: percentiles(all),
    }
}

type PodEvents = BoxStream<'static, kube::Result<WatchEvent<Pod>>>;

/// Latencies of one apiserver watcher until it has seen `want` updates.
async fn api_watcher(mut events: PodEvents, sent: Sent, want: usize) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(want);
    while latencies.len() < want {
        match events
            .next()
            .await
            .expect("watch ended")
            .expect("watch event")
        {
            WatchEvent::Modified(pod) => {
                let seq = pod
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SEQ_ANNOTATION))
                    .and_then(|s| s.parse::<usize>().ok())
                    .expect("update carries its index");
                latencies.push(ms_since(&sent, seq));
            }
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected watch event: {other:?}"),
        }
    }
    latencies
}

async fn open_api_watches(pods: &Api<Pod>, n: usize) -> Vec<PodEvents> {
    let rv = pods
        .list_metadata(&kube::api::ListParams::default().limit(1))
        .await
        .expect("current resourceVersion")
        .metadata
        .resource_version
        .expect("list has a resourceVersion");
    futures::stream::iter(0..n)
        .map(|_| {
            let (pods, rv) = (pods.clone(), rv.clone());
            async move {
                pods.watch(&WatchParams::default(), &rv)
                    .await
                    .expect("open watch")
                    .boxed()
            }
        })
        .buffer_unordered(WATCH_OPENERS)
        .collect()
        .await
}

/// Watch fan-out through the apiserver: `plan.watchers` kube-rs watches, then `plan.updates`
/// merge patches. Returns the figures and the RSS with every watch open.
async fn api_watch_latency(client: &Client, plan: &Plan) -> (Fanout, u64) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let sent = sent_slots(plan.updates);
    let watchers: Vec<_> = open_api_watches(&pods, plan.watchers)
        .await
        .into_iter()
        .map(|events| tokio::spawn(api_watcher(events, Arc::clone(&sent), plan.updates)))
        .collect();
    progress(&format!("  {} watches open; updating", plan.watchers));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = rss_bytes();
    let first_update = Instant::now();
    for (i, slot) in sent.iter().enumerate() {
        let patch =
            serde_json::json!({"metadata": {"annotations": {SEQ_ANNOTATION: i.to_string()}}});
        let _ = slot.set(Instant::now());
        pods.patch(
            &pod_name("a", i),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("patch pod");
        tokio::time::sleep(UPDATE_GAP).await;
    }
    progress("  updates sent; waiting for the watchers");
    (gather(watchers, first_update).await, rss)
}

/// Latencies of one store watcher until it has seen `want` updates.
async fn raw_watcher(mut events: rkube_store::WatchStream, sent: Sent, want: usize) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(want);
    while latencies.len() < want {
        let event = events.next().await.expect("watch ended").expect("watch");
        let seq = std::str::from_utf8(&event.kv.value[..8])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .expect("update carries its index");
        latencies.push(ms_since(&sent, seq));
    }
    latencies
}

/// `value` with its first 8 bytes replaced by the update's index.
fn marked(value: &Bytes, i: usize) -> Bytes {
    let mut v = value.to_vec();
    v[..8].copy_from_slice(format!("{i:08}").as_bytes());
    Bytes::from(v)
}

/// The same fan-out on the raw store: `Store::watch` watchers, `Store::update` of the values
/// the raw create measurement wrote.
async fn raw_watch_latency(store: &Arc<dyn Store>, value: &Bytes, plan: &Plan) -> Fanout {
    let mut targets: Vec<(String, Revision)> = Vec::with_capacity(plan.updates);
    for i in 0..plan.updates {
        let key = pod_key(&pod_name("a", i));
        let kv = store.get(&key, 0).await.expect("get").expect("raw key");
        targets.push((key, kv.mod_revision));
    }
    let sent = sent_slots(plan.updates);
    let mut watchers = Vec::with_capacity(plan.watchers);
    for _ in 0..plan.watchers {
        let events = store.watch(&pod_prefix(), 0).await.expect("watch");
        watchers.push(tokio::spawn(raw_watcher(
            events,
            Arc::clone(&sent),
            plan.updates,
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first_update = Instant::now();
    for (i, (key, rev)) in targets.iter().enumerate() {
        let _ = sent[i].set(Instant::now());
        match store.update(key, marked(value, i), *rev, None).await {
            Ok(UpdateOutcome::Updated(_)) => {}
            other => panic!("update {key}: {other:?}"),
        }
        tokio::time::sleep(UPDATE_GAP).await;
    }
    gather(watchers, first_update).await
}

// ---------------------------------------------------------------------------------------------
// One backend

struct Results {
    /// (clients, apiserver creates/s, raw creates/s).
    creates: Vec<(usize, f64, f64)>,
    lists: Vec<(Listing, Option<Listing>)>,
    watch: Fanout,
    raw_watch: Fanout,
    rss_before: u64,
    rss_created: u64,
    rss_listed: u64,
    rss_watching: u64,
    disk: (u64, u64),
    sent_len: usize,
    stored_len: usize,
}

async fn measure_creates(backend: &Backend, plan: &Plan) -> (Vec<(usize, f64, f64)>, Bytes) {
    let mut creates = Vec::new();
    let mut value = Bytes::new();
    for (clients, total, tag) in [
        (1, plan.single_creates, "a"),
        (plan.clients, plan.concurrent_creates, "b"),
    ] {
        progress(&format!("  creates, {clients} client(s), {total} pods…"));
        let api = api_create_rate(&backend.client, tag, clients, total).await;
        if value.is_empty() {
            value = stored_value(&backend.api_store, &pod_name("a", 0)).await;
        }
        let raw = raw_create_rate(&backend.raw, &value, tag, clients, total).await;
        creates.push((clients, api, raw));
    }
    (creates, value)
}

async fn measure(name: &str, backend: Backend, plan: &Plan) -> Results {
    progress(&format!("{name}:"));
    let rss_before = rss_bytes();
    let (creates, value) = measure_creates(&backend, plan).await;
    let rss_created = rss_bytes();
    let lists = measure_lists(&backend, plan).await;
    let rss_listed = rss_bytes();
    let disk = disk_usage(&backend.disk).await;
    let (watch, rss_watching, raw_watch) = if plan.watches {
        progress(&format!(
            "  watch fan-out, {} watchers × {} updates…",
            plan.watchers, plan.updates
        ));
        let (watch, rss_watching) = api_watch_latency(&backend.client, plan).await;
        progress("  watch fan-out on the raw store…");
        let raw_watch = raw_watch_latency(&backend.raw, &value, plan).await;
        (watch, rss_watching, raw_watch)
    } else {
        (Fanout::default(), 0, Fanout::default())
    };
    progress("  done");
    let sent_len = serde_json::to_vec(&pod(&pod_name("a", 0)))
        .expect("encode pod")
        .len();
    drop(backend.client);
    backend.server.shutdown().await;
    Results {
        creates,
        lists,
        watch,
        raw_watch,
        rss_before,
        rss_created,
        rss_listed,
        rss_watching,
        disk,
        sent_len,
        stored_len: value.len(),
    }
}

// ---------------------------------------------------------------------------------------------
// Output

fn mb(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn listing(l: &Listing) -> String {
    let pages = if l.pages > 1 {
        format!(", {} pages", l.pages)
    } else {
        String::new()
    };
    format!(
        "{:.0} ms, {}{pages}",
        l.elapsed.as_secs_f64() * 1000.0,
        mb(l.bytes)
    )
}

fn latency(f: &Fanout) -> String {
    let (p50, p99) = f.latency;
    format!("{p50:.1} / {p99:.1} ms")
}

fn fanout_span(f: &Fanout) -> String {
    let secs = f.span.as_secs_f64();
    format!(
        "{secs:.1} s ({:.0} deliveries/s)",
        f.deliveries as f64 / secs
    )
}

/// One table row: the apiserver and raw figures of each backend.
fn row(name: String, cells: impl Fn(&Results) -> (String, String), results: &[Results]) -> String {
    let cols: Vec<String> = results
        .iter()
        .flat_map(|r| {
            let (api, raw) = cells(r);
            [api, raw]
        })
        .collect();
    format!("| {name} | {} |", cols.join(" | "))
}

fn rows(plan: &Plan, results: &[Results]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (clients, _, _)) in results[0].creates.iter().enumerate() {
        out.push(row(
            format!("creates/s, {clients} client(s)"),
            |r| {
                let (_, api, raw) = r.creates[i];
                (
                    format!("{api:.0} ({:.2}× raw)", api / raw),
                    format!("{raw:.0}"),
                )
            },
            results,
        ));
    }
    for (i, (label, ..)) in LISTS.iter().enumerate() {
        out.push(row(
            format!("LIST {} pods, {label}", plan.pods()),
            |r| {
                let (api, raw) = &r.lists[i];
                (listing(api), raw.as_ref().map_or("–".into(), listing))
            },
            results,
        ));
    }
    if plan.watches {
        out.push(row(
            format!(
                "watch latency p50 / p99, {} watchers × {} updates",
                plan.watchers, plan.updates
            ),
            |r| (latency(&r.watch), latency(&r.raw_watch)),
            results,
        ));
        out.push(row(
            format!(
                "watch: first update call → last of the {} deliveries",
                plan.watchers * plan.updates
            ),
            |r| (fanout_span(&r.watch), fanout_span(&r.raw_watch)),
            results,
        ));
    }
    out.push(row(
        "process RSS: phase start → pods stored → pods listed".into(),
        |r| {
            let cell = format!(
                "{} → {} → {}",
                mib(r.rss_before),
                mib(r.rss_created),
                mib(r.rss_listed)
            );
            (cell, "–".into())
        },
        results,
    ));
    if plan.watches {
        out.push(row(
            format!("process RSS with {} watches open", plan.watchers),
            |r| (mib(r.rss_watching), "–".into()),
            results,
        ));
    }
    out.push(row(
        format!("store on disk, {} pods", plan.pods()),
        |r| (mib(r.disk.0), mib(r.disk.1)),
        results,
    ));
    out
}

fn print_table(plan: &Plan, results: &[Results]) {
    println!(
        "| measurement | embedded: apiserver | embedded: raw Store | etcd: apiserver | etcd: raw Store |"
    );
    println!("|---|---|---|---|---|");
    for line in rows(plan, results) {
        println!("{line}");
    }
    let r = &results[0];
    println!();
    println!(
        "Pod: {} B of JSON as sent, {} B as stored (the raw stores write values of that size). \
         Store on disk: SQLite db + WAL for the embedded store, etcd's `dbSize` (bbolt, without \
         the WAL) for etcd.",
        r.sent_len, r.stored_len
    );
    print_summary(plan, results);
}

/// Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
fn print_summary(plan: &Plan, results: &[Results]) {
    println!();
    for (backend, r) in ["embedded", "etcd"].iter().zip(results) {
        for (clients, api, raw) in &r.creates {
            println!(
                "SUMMARY | apiserver ({backend}): pod creates/s, {clients} client(s) | {api:.0} ({:.2}× raw) | raw Store create {raw:.0}/s",
                api / raw
            );
        }
        if let Some((api, raw)) = r.lists.first() {
            println!(
                "SUMMARY | apiserver ({backend}): LIST {} pods, JSON | {:.0} ms | raw Store range {}",
                plan.pods(),
                api.elapsed.as_secs_f64() * 1000.0,
                raw.as_ref().map_or("–".into(), |l| format!(
                    "{:.0} ms",
                    l.elapsed.as_secs_f64() * 1000.0
                ))
            );
        }
        if plan.watches {
            println!(
                "SUMMARY | apiserver ({backend}): watch latency p50 / p99, {} watchers | {} | raw Store watch {}",
                plan.watchers,
                latency(&r.watch),
                latency(&r.raw_watch)
            );
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    rkube_component::allocator::tune();
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = Plan {
        watches: std::env::var("RKUBE_BENCH_ONLY").as_deref() != Ok("list"),
        ..Plan::new(quick)
    };
    assert!(
        plan.updates <= plan.single_creates,
        "updates target pod-a-*"
    );
    progress("starting etcd (two single-member clusters)…");
    let etcd_api = EtcdCluster::start(1).await.expect("start etcd");
    let etcd_raw = EtcdCluster::start(1).await.expect("start etcd");
    let embedded = measure("embedded store", embedded_backend().await, &plan).await;
    let etcd = measure("etcd", etcd_backend(&etcd_api, &etcd_raw).await, &plan).await;
    print_table(&plan, &[embedded, etcd]);
}
