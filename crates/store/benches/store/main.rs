//! Store benchmark: durable write throughput, watch latency, the full-prefix range read
//! of a LIST and write latency while a large history is compacted, on both backends, side by side with the references they are built on (raw etcd
//! through the same client, raw SQLite with the same durability settings), in one run on one
//! machine.
//!
//! `cargo bench -p rkube-store` (add `-- --quick` for a short run; `RKUBE_BENCH_RANGE_KEYS`
//! sets the range read's size). Prints a Markdown table for BENCHMARKS.md.
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

use bytes::Bytes;
use futures::StreamExt;
use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
use rkube_store::etcd::{EtcdConfig, EtcdStore};
use rkube_store::{CreateOutcome, Store};
use rkube_testkit::EtcdCluster;
use rkube_testkit::bench::rate;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod compaction;
mod range;

/// About a Pod object.
const VALUE_LEN: usize = 2048;
const WATCHERS: usize = 1000;

struct Plan {
    single_writes: usize,
    concurrent_writes: usize,
    watch_events: usize,
    range_keys: usize,
}

/// Each key of the range read is written this many times (create + updates) first.
const RANGE_VERSIONS: usize = 4;

fn value() -> Bytes {
    Bytes::from(vec![b'v'; VALUE_LEN])
}

async fn store_rate(store: Arc<dyn Store>, tag: &str, writers: usize, total: usize) -> f64 {
    let tag = tag.to_string();
    rate(writers, total, move |i| {
        let (store, key) = (Arc::clone(&store), format!("/bench/{tag}/{i}"));
        async move {
            match store.create(&key, value(), None).await {
                Ok(CreateOutcome::Created(_)) => {}
                other => panic!("create {key}: {other:?}"),
            }
        }
    })
    .await
}

async fn raw_etcd_rate(
    client: etcd_client::Client,
    tag: &str,
    writers: usize,
    total: usize,
) -> f64 {
    let tag = tag.to_string();
    rate(writers, total, move |i| {
        let (mut client, key) = (client.clone(), format!("/raw/{tag}/{i}"));
        async move {
            client
                .put(key, vec![b'v'; VALUE_LEN], None)
                .await
                .expect("raw put");
        }
    })
    .await
}

/// The etcd backend's create (a create-if-absent transaction) sent straight through the client:
/// separates etcd's own cost of a transaction over a put from the backend's.
async fn raw_etcd_txn_rate(
    client: etcd_client::Client,
    tag: &str,
    writers: usize,
    total: usize,
) -> f64 {
    use etcd_client::{Compare, CompareOp, Txn, TxnOp};
    let tag = tag.to_string();
    rate(writers, total, move |i| {
        let (mut client, key) = (client.clone(), format!("/rawtxn/{tag}/{i}"));
        async move {
            let txn = Txn::new()
                .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key.as_str(), vec![b'v'; VALUE_LEN], None)])
                .or_else([TxnOp::get(key.as_str(), None)]);
            assert!(client.txn(txn).await.expect("raw txn").succeeded());
        }
    })
    .await
}

/// Raw SQLite with the embedded backend's settings (WAL, synchronous=FULL), one writer,
/// `per_commit` inserts per transaction: the engine's own ceiling.
fn raw_sqlite_rate(dir: &std::path::Path, per_commit: usize, total: usize) -> f64 {
    let conn = rusqlite::Connection::open(dir.join(format!("raw-{per_commit}.db"))).unwrap();
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         CREATE TABLE kv(rev INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL);
         CREATE INDEX kv_key ON kv(key, rev);",
    )
    .unwrap();
    let v = vec![b'v'; VALUE_LEN];
    let start = Instant::now();
    for chunk in (0..total).collect::<Vec<_>>().chunks(per_commit) {
        conn.execute_batch("BEGIN").unwrap();
        for i in chunk {
            conn.execute(
                "INSERT INTO kv(key, value) VALUES (?1, ?2)",
                rusqlite::params![format!("/raw/{i}"), &v],
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// `WATCHERS` watchers on one prefix; `events` writes 5 ms apart; the delay from just before
/// each write is issued to each watcher's receipt. Returns (p50, p99) in milliseconds.
async fn watch_latency(store: Arc<dyn Store>, tag: &str, events: usize) -> (f64, f64) {
    let prefix = format!("/lat/{tag}/");
    let sent: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..events).map(|_| OnceLock::new()).collect());
    let mut watchers = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let mut w = store.watch(&prefix, 0).await.expect("watch");
        let (sent, prefix) = (Arc::clone(&sent), prefix.clone());
        watchers.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(events);
            while lat.len() < events {
                let ev = w.next().await.expect("watch ended").expect("watch error");
                let i: usize = ev.kv.key[prefix.len()..].parse().expect("index");
                let at = sent[i].get().expect("sent before seen");
                lat.push(at.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    // Let every watch be established before the first write.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (i, slot) in sent.iter().enumerate() {
        let _ = slot.set(Instant::now());
        store
            .create(&format!("{prefix}{i:06}"), value(), None)
            .await
            .expect("create");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut all = Vec::with_capacity(WATCHERS * events);
    for w in watchers {
        all.extend(w.await.expect("watcher"));
    }
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all[((all.len() - 1) as f64 * p) as usize];
    (pct(0.50), pct(0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let plan = if quick {
        Plan {
            single_writes: 300,
            concurrent_writes: 3000,
            watch_events: 20,
            range_keys: 5_000,
        }
    } else {
        Plan {
            single_writes: 2000,
            concurrent_writes: 20000,
            watch_events: 100,
            range_keys: 50_000,
        }
    };
    let range_keys = std::env::var("RKUBE_BENCH_RANGE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(plan.range_keys);
    let dir = tempfile::tempdir().expect("temp dir");
    eprintln!("starting etcd…");
    let etcd = EtcdCluster::start(1).await.expect("start etcd");
    let embedded: Arc<dyn Store> = Arc::new(
        EmbeddedStore::open(EmbeddedOptions::new(dir.path().join("embedded")))
            .await
            .expect("open embedded"),
    );
    let etcd_store: Arc<dyn Store> = Arc::new(
        EtcdStore::connect(EtcdConfig::new(etcd.endpoints()))
            .await
            .expect("connect etcd"),
    );
    let raw = etcd_client::Client::connect(etcd.endpoints(), None)
        .await
        .expect("raw etcd client");

    let mut rows: Vec<(String, [String; 5])> = Vec::new();
    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    let mut summary: Vec<String> = Vec::new();
    for (writers, total) in [(1, plan.single_writes), (64, plan.concurrent_writes)] {
        eprintln!("durable writes, {writers} writer(s), {total} × {VALUE_LEN} B…");
        let e = store_rate(
            Arc::clone(&embedded),
            &format!("w{writers}"),
            writers,
            total,
        )
        .await;
        let s = store_rate(
            Arc::clone(&etcd_store),
            &format!("w{writers}"),
            writers,
            total,
        )
        .await;
        let r = raw_etcd_rate(raw.clone(), &format!("w{writers}"), writers, total).await;
        let t = raw_etcd_txn_rate(raw.clone(), &format!("w{writers}"), writers, total).await;
        let per_commit = writers;
        let path = dir.path().to_path_buf();
        let q = tokio::task::spawn_blocking(move || raw_sqlite_rate(&path, per_commit, total))
            .await
            .expect("raw sqlite");
        summary.push(format!(
            "SUMMARY | store: embedded durable writes/s, {writers} writer(s) | {e:.0} | raw SQLite {q:.0} ({per_commit}/commit){}",
            if writers == 64 { "; goal ≥ 5000" } else { "" }
        ));
        summary.push(format!(
            "SUMMARY | store: etcd backend durable writes/s, {writers} writer(s) | {s:.0} ({:.2}× raw put) | raw etcd put {r:.0}, txn {t:.0}; goal ≥ 0.7× raw",
            s / r
        ));
        rows.push((
            format!("durable writes/s, {writers} writer(s)"),
            [
                format!("{e:.0}"),
                format!("{s:.0} ({:.2}× raw)", s / r),
                format!("{r:.0}"),
                format!("{t:.0}"),
                format!("{q:.0} ({per_commit}/commit)"),
            ],
        ));
    }
    eprintln!(
        "watch latency, {WATCHERS} watchers × {} events…",
        plan.watch_events
    );
    let (e50, e99) = watch_latency(Arc::clone(&embedded), "emb", plan.watch_events).await;
    let (s50, s99) = watch_latency(Arc::clone(&etcd_store), "etcd", plan.watch_events).await;
    summary.push(format!(
        "SUMMARY | store: watch latency p50 / p99, {WATCHERS} watchers | embedded {e50:.2} / {e99:.2} ms | etcd backend {s50:.2} / {s99:.2} ms"
    ));
    rows.push((
        format!("watch latency p50 / p99, {WATCHERS} watchers"),
        [
            format!("{e50:.2} / {e99:.2} ms"),
            format!("{s50:.2} / {s99:.2} ms"),
            "–".into(),
            "–".into(),
            "–".into(),
        ],
    ));

    eprintln!("range read: {range_keys} keys × {RANGE_VERSIONS} versions, writing the history…");
    for store in [&embedded, &etcd_store] {
        range::fill_history(
            Arc::clone(store),
            "/range/",
            range_keys,
            RANGE_VERSIONS,
            value(),
        )
        .await;
    }
    // Best of three: the figure is the read, not the first read's page-cache misses.
    let mut best = [Duration::MAX; 4];
    for _ in 0..3 {
        let reads = [
            range::range_all(&*embedded, "/range/").await,
            range::range_all(&*etcd_store, "/range/").await,
            range::raw_etcd_range_all(raw.clone(), "/range/").await,
        ];
        for (b, (n, took)) in best.iter_mut().zip(reads) {
            assert_eq!(n, range_keys, "every key read");
            *b = (*b).min(took);
        }
    }
    let path = dir.path().to_path_buf();
    let (n, raw_sqlite) = tokio::task::spawn_blocking(move || {
        range::raw_sqlite_latest_scan(&path, range_keys, VALUE_LEN)
    })
    .await
    .expect("raw sqlite scan");
    assert_eq!(n, range_keys);
    best[3] = raw_sqlite;
    let [e, s, r, q] = best.map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0));
    summary.push(format!(
        "SUMMARY | store: range read of {range_keys} keys × {RANGE_VERSIONS} versions, pages of 1000 | embedded {e}, etcd backend {s} | raw etcd {r}; raw SQLite latest-only table {q}"
    ));
    rows.push((
        format!("range read of {range_keys} keys × {RANGE_VERSIONS} versions (pages of 1000)"),
        [e, s, "–".into(), r, q],
    ));

    // The range read's history (three superseded versions of every key) is what is compacted.
    let (per_sec, secs) = (200, if quick { 5 } else { 10 });
    eprintln!("paced writes ({per_sec}/s for {secs} s), quiet and while compacting the history…");
    let mut paced = Vec::new();
    for (store, tag) in [(&embedded, "emb"), (&etcd_store, "etcd")] {
        let quiet = compaction::paced_writes(
            Arc::clone(store),
            &format!("/paced/{tag}/quiet/"),
            per_sec,
            secs,
            None,
            value(),
        )
        .await;
        let compacting = compaction::paced_writes(
            Arc::clone(store),
            &format!("/paced/{tag}/compacting/"),
            per_sec,
            secs,
            Some(Duration::from_secs(1)),
            value(),
        )
        .await;
        paced.push((quiet.show(), compacting.show()));
    }
    let [(eq, ec), (sq, sc)] = [paced[0].clone(), paced[1].clone()];
    summary.push(format!(
        "SUMMARY | store: write p50 / p99 / max at {per_sec}/s while compacting {} superseded versions | embedded {ec}, etcd backend {sc} | quiet: embedded {eq}, etcd backend {sq}",
        range_keys * (RANGE_VERSIONS - 1)
    ));
    rows.push((
        format!("write p50 / p99 / max at {per_sec}/s, quiet"),
        [eq, sq, "–".into(), "–".into(), "–".into()],
    ));
    rows.push((
        format!(
            "write p50 / p99 / max at {per_sec}/s, compacting {} superseded versions",
            range_keys * (RANGE_VERSIONS - 1)
        ),
        [ec, sc, "–".into(), "–".into(), "–".into()],
    ));

    println!(
        "| measurement | embedded (SQLite) | etcd backend | raw etcd put | raw etcd txn / range | raw SQLite |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, cols) in rows {
        println!("| {name} | {} |", cols.join(" | "));
    }
    println!();
    for line in summary {
        println!("{line}");
    }
}
