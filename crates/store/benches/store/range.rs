//! The read behind a consistent LIST: every key under a prefix at the latest revision, in
//! pages of 1000 at the first page's revision (as the apiserver reads), over a history where
//! each key was written several times — and the references beside it: raw etcd ranging over
//! the same keys, raw SQLite scanning a table holding only the latest rows.

use bytes::Bytes;
use rkube_store::{CreateOutcome, RangeRequest, Revision, Store, UpdateOutcome};
use rkube_testkit::bench::rate;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Keys per page, as the apiserver pages a LIST through the store.
const PAGE: i64 = 1000;
/// Concurrent writers while the history is built.
const WRITERS: usize = 64;

/// Creates `keys` keys under `prefix`, then updates every key `versions - 1` times, one pass
/// over all keys per version, so that a key's versions are far apart in revision order (as
/// a pod's are: created, bound, started, …).
pub async fn fill_history(
    store: Arc<dyn Store>,
    prefix: &str,
    keys: usize,
    versions: usize,
    value: Bytes,
) {
    let revs: Arc<Vec<AtomicI64>> = Arc::new((0..keys).map(|_| AtomicI64::new(0)).collect());
    for pass in 0..versions {
        let (store, revs, prefix, value) = (
            Arc::clone(&store),
            Arc::clone(&revs),
            prefix.to_owned(),
            value.clone(),
        );
        rate(WRITERS, keys, move |i| {
            let (store, revs, value) = (Arc::clone(&store), Arc::clone(&revs), value.clone());
            let key = format!("{prefix}{i:08}");
            async move {
                let rev = if pass == 0 {
                    match store.create(&key, value, None).await {
                        Ok(CreateOutcome::Created(rev)) => rev,
                        other => panic!("create {key}: {other:?}"),
                    }
                } else {
                    let expected = revs[i].load(Ordering::Relaxed);
                    match store.update(&key, value, expected, None).await {
                        Ok(UpdateOutcome::Updated(rev)) => rev,
                        other => panic!("update {key}: {other:?}"),
                    }
                };
                revs[i].store(rev, Ordering::Relaxed);
            }
        })
        .await;
    }
}

/// Reads every key under `prefix` page by page at one revision; (keys, time).
pub async fn range_all(store: &dyn Store, prefix: &str) -> (usize, Duration) {
    let started = Instant::now();
    let mut req = RangeRequest {
        prefix: prefix.to_owned(),
        start_after: None,
        limit: PAGE,
        revision: 0,
    };
    let mut n = 0;
    loop {
        let resp = store.range(req.clone()).await.expect("range");
        n += resp.kvs.len();
        match (resp.more, resp.kvs.last()) {
            (true, Some(last)) => {
                req.start_after = Some(last.key.clone());
                req.revision = resp.revision;
            }
            _ => return (n, started.elapsed()),
        }
    }
}

/// The same pages straight from etcd (`[key, prefix end)` with a limit, at the first page's
/// revision); (keys, time).
pub async fn raw_etcd_range_all(
    mut client: etcd_client::Client,
    prefix: &str,
) -> (usize, Duration) {
    let started = Instant::now();
    let end = rkube_store::prefix_end(prefix);
    let mut from = prefix.as_bytes().to_vec();
    let mut revision: Revision = 0;
    let mut n = 0;
    loop {
        let opts = etcd_client::GetOptions::new()
            .with_range(end.as_bytes())
            .with_limit(PAGE)
            .with_revision(revision);
        let resp = client.get(from.clone(), Some(opts)).await.expect("raw get");
        if revision == 0 {
            revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        }
        n += resp.kvs().len();
        match resp.kvs().last() {
            Some(last) if resp.more() => {
                from = last.key().to_vec();
                from.push(0);
            }
            _ => return (n, started.elapsed()),
        }
    }
}

/// The floor: a SQLite table of only the latest rows (`key` primary key), scanned in key
/// order in pages of the same size; (keys, time).
pub fn raw_sqlite_latest_scan(
    dir: &std::path::Path,
    keys: usize,
    value_len: usize,
) -> (usize, Duration) {
    let conn = rusqlite::Connection::open(dir.join("raw-latest.db")).expect("open");
    conn.execute_batch(
        "CREATE TABLE latest(key TEXT PRIMARY KEY, rev INTEGER NOT NULL, value BLOB NOT NULL);",
    )
    .expect("schema");
    let v = vec![b'v'; value_len];
    conn.execute_batch("BEGIN").expect("begin");
    for i in 0..keys {
        conn.execute(
            "INSERT INTO latest VALUES (?1, ?2, ?3)",
            rusqlite::params![format!("/raw/{i:08}"), i as i64, &v],
        )
        .expect("insert");
    }
    conn.execute_batch("COMMIT").expect("commit");
    let started = Instant::now();
    let mut after = String::new();
    let mut n = 0;
    let mut stmt = conn
        .prepare("SELECT key, rev, value FROM latest WHERE key > ?1 ORDER BY key LIMIT ?2")
        .expect("prepare");
    loop {
        let page: Vec<(String, i64, Vec<u8>)> = stmt
            .query_map(rusqlite::params![after, PAGE], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        n += page.len();
        match page.last() {
            Some((key, _, _)) if page.len() as i64 == PAGE => after = key.clone(),
            _ => return (n, started.elapsed()),
        }
    }
}
