//! Embedded-backend behaviour beyond the shared conformance suite: persistence, damaged files,
//! slow watchers, space reclamation under churn, scheduled compaction.

use bytes::Bytes;
use futures::StreamExt;
use rkube_store::embedded::{DB_FILE, EmbeddedOptions, EmbeddedStore};
use rkube_store::{CreateOutcome, Store, StoreError, UpdateOutcome, spawn_compactor};
use std::sync::Arc;
use std::time::Duration;

async fn open(dir: &std::path::Path) -> Result<EmbeddedStore, StoreError> {
    EmbeddedStore::open(EmbeddedOptions::new(dir)).await
}

async fn create(s: &dyn Store, key: &str, value: &str) -> i64 {
    match s
        .create(key, Bytes::from(value.to_string()), None)
        .await
        .unwrap()
    {
        CreateOutcome::Created(rev) => rev,
        other => panic!("{other:?}"),
    }
}

async fn update(s: &dyn Store, key: &str, value: &str, expected: i64) -> i64 {
    match s
        .update(key, Bytes::from(value.to_string()), expected, None)
        .await
        .unwrap()
    {
        UpdateOutcome::Updated(rev) => rev,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_history_and_compaction_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await.unwrap();
    let r1 = create(&s, "/a", "1").await;
    let r2 = update(&s, "/a", "2", r1).await;
    let r3 = update(&s, "/a", "3", r2).await;
    s.compact(r2).await.unwrap();
    s.close().await;

    let s = open(dir.path()).await.unwrap();
    assert_eq!(s.current_revision().await.unwrap(), r3);
    assert_eq!(s.compacted_revision().await.unwrap(), r2);
    assert_eq!(s.get("/a", r2).await.unwrap().unwrap().value, "2");
    assert!(matches!(
        s.get("/a", r1).await,
        Err(StoreError::Compacted { .. })
    ));
    // Revisions continue where they stopped; a watch from before the restart replays from disk.
    let mut w = s.watch("/", r2).await.unwrap();
    let r4 = update(&s, "/a", "4", r3).await;
    assert_eq!(r4, r3 + 1);
    let revs: Vec<i64> = (&mut w)
        .take(3)
        .map(|e| e.unwrap().revision())
        .collect()
        .await;
    assert_eq!(revs, [r2, r3, r4]);
}

/// The apiserver holds the store as a shared `Arc<dyn Store>` (its watch tasks keep clones),
/// so it closes it through the trait: the WAL is folded in before `close` returns, later
/// writes are refused, and the data reopens whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_shared_store_checkpoints_and_refuses_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(open(dir.path()).await.unwrap());
    let held_elsewhere = Arc::clone(&s);
    let mut last = 0;
    for i in 0..50 {
        last = create(&*s, &format!("/k/{i}"), "v").await;
    }
    s.close().await;
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(wal_len, 0, "the WAL is checkpointed and truncated by close");
    assert!(matches!(
        held_elsewhere
            .create("/k/late", Bytes::from_static(b"v"), None)
            .await,
        Err(StoreError::Closed)
    ));

    let reopened = open(dir.path()).await.unwrap();
    assert_eq!(reopened.current_revision().await.unwrap(), last);
    assert_eq!(reopened.count("/k/").await.unwrap(), 50);
}

fn index_names(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn a_store_with_the_older_key_index_is_upgraded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await.unwrap();
    let r1 = create(&s, "/pods/a", "1").await;
    update(&s, "/pods/a", "2", r1).await;
    create(&s, "/pods/b", "1").await;
    s.delete("/pods/b", None).await.unwrap();
    s.close().await;
    // The layout before the key index carried `deleted`.
    let path = dir.path().join(DB_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX log_key_rev_deleted; CREATE INDEX log_key_rev ON log(key, rev);",
        )
        .unwrap();
    }
    assert_eq!(index_names(&path), ["log_expiry", "log_key_rev"]);

    let s = open(dir.path()).await.unwrap();
    assert_eq!(index_names(&path), ["log_expiry", "log_key_rev_deleted"]);
    let listed = s
        .range(rkube_store::RangeRequest {
            prefix: "/pods/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let values: Vec<_> = listed
        .kvs
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.clone()))
        .collect();
    assert_eq!(values, [("/pods/a", Bytes::from("2"))]);
    s.close().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_store_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    std::fs::write(
        &path,
        b"this is not a database, it is a text file with some words",
    )
    .unwrap();
    let err = open(dir.path()).await.err().expect("refused");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(
        msg.contains(&path.display().to_string()),
        "names the file: {msg}"
    );
    // Nothing was overwritten.
    assert!(std::fs::read(&path).unwrap().starts_with(b"this is not"));
}

#[tokio::test]
async fn a_foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let err = open(dir.path()).await.err().expect("refused");
    assert!(err.to_string().contains("not an rkube store"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_refused_not_half_read() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await.unwrap();
    let value = "v".repeat(1000);
    for i in 0..2000 {
        create(&s, &format!("/k/{i}"), &value).await;
    }
    s.close().await;
    let path = dir.path().join(DB_FILE);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1 << 20, "the store has data: {len} bytes");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = open(dir.path()).await.err().expect("refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains(DB_FILE), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_watcher_blocks_neither_writers_nor_other_watchers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()).await.unwrap());
    let start = s.current_revision().await.unwrap() + 1;
    let mut stalled = s.watch("/", start).await.unwrap(); // never read until the end
    let mut live = s.watch("/", start).await.unwrap();
    const N: i64 = 3000; // far more than a watcher buffers
    let writes = tokio::time::timeout(Duration::from_secs(60), async {
        futures::stream::iter(0..N)
            .for_each_concurrent(64, |i| {
                let s = Arc::clone(&s);
                async move {
                    create(&*s, &format!("/k/{i}"), "v").await;
                }
            })
            .await
    });
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while n < N {
            live.next().await.unwrap().unwrap();
            n += 1;
        }
        n
    });
    writes
        .await
        .expect("writers were blocked by the stalled watcher");
    assert_eq!(reader.await.unwrap(), N);
    // The stalled watcher still gets everything, in order, when it finally reads.
    for expect in start..start + N {
        let ev = stalled.next().await.unwrap().unwrap();
        assert_eq!(ev.revision(), expect);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_removes_superseded_rows_and_keeps_latest() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await.unwrap();
    let value = "x".repeat(4096);
    let mut rev = create(&s, "/hot", &value).await;
    for _ in 0..3000 {
        rev = update(&s, "/hot", &value, rev).await;
    }
    let before = s.disk_usage();
    s.compact(rev).await.unwrap();
    // The sweep runs in steps between writes; keep writing a little so it finishes.
    for i in 0..20 {
        create(&s, &format!("/tick/{i}"), "t").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = s.disk_usage();
    assert!(
        after * 4 < before,
        "compacting 3000 superseded 4 KiB versions must give space back: {before} -> {after}"
    );
    assert_eq!(s.get("/hot", 0).await.unwrap().unwrap().mod_revision, rev);
    assert_eq!(s.count("/").await.unwrap(), 21);
    // Sweep and reclaim steps are timed apart.
    assert!(metric(&s, "rkube_store_compaction_step_duration_seconds_count") >= 1.0);
    assert!(metric(&s, "rkube_store_reclaim_step_duration_seconds_count") >= 1.0);
}

/// Heartbeat churn: 1000 keys each updated every simulated 10 s, compacted every simulated
/// 5 minutes as the apiserver does. After warm-up the files must stop growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_churn_keeps_the_file_size_flat() {
    // RKUBE_CHURN_KEYS / RKUBE_CHURN_ROUNDS scale the soak (BENCHMARKS.md has the long runs).
    let keys: usize = std::env::var("RKUBE_CHURN_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // One simulated hour of 10 s heartbeats; RKUBE_CHURN_ROUNDS=60480 is a simulated week.
    let rounds: usize = std::env::var("RKUBE_CHURN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(360);
    const COMPACT_EVERY: usize = 30; // 5 minutes
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()).await.unwrap());
    let value = "h".repeat(300); // about a Lease object
    let mut revs = Vec::with_capacity(keys);
    for k in 0..keys {
        revs.push(
            create(
                &*s,
                &format!("/registry/leases/kube-node-lease/node-{k}"),
                &value,
            )
            .await,
        );
    }
    let mut compact_to = 0;
    let mut sizes = Vec::new();
    for round in 1..=rounds {
        let updates = futures::future::join_all(revs.iter().enumerate().map(|(k, &rev)| {
            let (s, value) = (Arc::clone(&s), value.clone());
            async move {
                update(
                    &*s,
                    &format!("/registry/leases/kube-node-lease/node-{k}"),
                    &value,
                    rev,
                )
                .await
            }
        }))
        .await;
        revs = updates;
        if round % COMPACT_EVERY == 0 {
            if compact_to > 0 {
                s.compact(compact_to).await.unwrap();
            }
            compact_to = s.current_revision().await.unwrap();
        }
        // Measure mid-period, when the last compaction's sweep is long done.
        if round % COMPACT_EVERY == COMPACT_EVERY / 2 {
            sizes.push(s.disk_usage());
        }
    }
    eprintln!("disk usage mid-period: {sizes:?}");
    // From the third period on (two periods of history: the steady state) nothing grows: the
    // largest size in the last quarter of the run is within 10% of the largest in the first
    // steady quarter. (Single samples swing with the WAL, which is truncated after each
    // compaction and refills.)
    let steady = &sizes[2..];
    let quarter = (steady.len() / 4).max(1);
    let early = *steady[..quarter].iter().max().unwrap();
    let late = *steady[steady.len() - quarter..].iter().max().unwrap();
    assert!(
        late <= early + early / 10,
        "file size must stay flat under churn: early max {early}, late max {late}, all {sizes:?}"
    );
    // And the log holds no forgotten versions: after one more compaction at the latest
    // revision, one row per key remains.
    s.compact(s.current_revision().await.unwrap())
        .await
        .unwrap();
    let rows = settle_row_count(s.path(), keys as i64).await;
    assert_eq!(
        rows, keys as i64,
        "rows left after compacting to the latest revision"
    );
}

/// Counts the log's rows, straight from the file, until it reaches `want` or 10 s pass (the
/// sweep runs in the background after `compact` returns).
async fn settle_row_count(path: &std::path::Path, want: i64) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
            .unwrap();
        if n == want || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_compaction_sweeps_versions_superseded_since_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await.unwrap();
    let mut revs = Vec::new();
    for k in 0..50 {
        revs.push(create(&s, &format!("/k/{k}"), "v1").await);
    }
    // The v1 rows are live at the first compaction, so it must keep them...
    s.compact(s.current_revision().await.unwrap())
        .await
        .unwrap();
    assert_eq!(settle_row_count(s.path(), 50).await, 50);
    for (k, rev) in revs.iter().enumerate() {
        update(&s, &format!("/k/{k}"), "v2", *rev).await;
    }
    // ...and the second must remove them, though they are older than the first.
    s.compact(s.current_revision().await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        settle_row_count(s.path(), 50).await,
        50,
        "v1 rows must be swept"
    );
    assert_eq!(s.get("/k/7", 0).await.unwrap().unwrap().value, "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compactor_keeps_one_interval_of_history() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn Store> = Arc::new(open(dir.path()).await.unwrap());
    let interval = Duration::from_millis(300);
    let _compactor = spawn_compactor(Arc::clone(&s), interval);
    let first = create(&*s, "/a", "0").await;
    let mut rev = first;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.compacted_revision().await.unwrap() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the compactor never ran"
        );
        rev = update(&*s, "/a", "x", rev).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let compacted = s.compacted_revision().await.unwrap();
    assert!(
        compacted >= first,
        "compacted to a revision seen one interval earlier"
    );
    assert!(
        compacted < rev,
        "the most recent interval is kept: {compacted} vs {rev}"
    );
}

/// Reads one series' value from the store's `/metrics` text.
fn metric(store: &dyn Store, series: &str) -> f64 {
    let mut registry = prometheus_client::registry::Registry::default();
    store.register_metrics(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// The WAL is checkpointed by its own thread (the writer's commits never run SQLite's
/// automatic checkpoint): after far more than a checkpoint's worth of writes the log has
/// been restarted instead of growing with them, and the timings are in the metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_checkpointed_beside_the_writer_and_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(dir.path()).await.unwrap());
    let value = "x".repeat(32 << 10);
    // 96 MiB of values, 16 writes in flight (group commits of several jobs).
    for chunk in 0..192 {
        futures::future::join_all((0..16).map(|i| {
            let (s, value) = (Arc::clone(&s), value.clone());
            async move { create(&*s, &format!("/big/{chunk}-{i}"), &value).await }
        }))
        .await;
    }
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert!(
        wal_len < 48 << 20,
        "the WAL restarts after checkpoints instead of holding all 96 MiB: {wal_len} bytes"
    );
    assert!(metric(&*s, "rkube_store_checkpoint_duration_seconds_count") >= 1.0);
    assert!(metric(&*s, "rkube_store_commit_duration_seconds_count") >= 1.0);
    assert_eq!(
        metric(&*s, "rkube_store_commit_batch_jobs_sum"),
        192.0 * 16.0
    );
    s.close().await;
    let reopened = open(dir.path()).await.unwrap();
    assert_eq!(reopened.count("/big/").await.unwrap(), 192 * 16);
}
