//! The conformance suite every `Store` backend must pass: etcd v3 semantics as the apiserver
//! relies on them. Each case takes a fresh, empty store. Revisions are compared relative to
//! each other, never as absolute numbers (etcd starts at 1, the embedded store at 0).

#![allow(dead_code)] // each test binary uses the cases through the macro

use bytes::Bytes;
use futures::StreamExt;
use rkube_store::{
    CreateOutcome, DeleteOutcome, KeyValue, MAX_VALUE_LEN, RangeRequest, Revision, Store,
    StoreError, UpdateOutcome, WatchEvent, WatchEventKind, WatchStream,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// Expands to one `#[tokio::test]` per conformance case, each on a store from `$fresh()`,
/// an async fn returning `(Arc<dyn Store>, guard)`.
macro_rules! conformance_tests {
    ($fresh:path) => {
        conformance::conformance_tests!(@each $fresh;
            revisions_and_versions,
            create_existing_key_is_a_value,
            update_is_conditional_on_mod_revision,
            delete_semantics,
            reads_at_past_revisions,
            future_revisions_are_refused,
            prefix_ranges_do_not_leak,
            pagination_is_a_consistent_snapshot_while_writes_go_on,
            watch_from_now_sees_only_later_changes,
            watch_carries_previous_values_and_deletes,
            watch_from_old_revision_under_concurrent_writers_has_no_gaps_or_duplicates,
            watch_progress_covers_other_prefixes_and_never_runs_ahead_of_the_events,
            compaction_refuses_older_revisions,
            keys_with_ttl_expire,
            ten_thousand_keys,
            large_values,
            bad_input_writes_nothing,
        );
    };
    (@each $fresh:path; $($case:ident),* $(,)?) => { $(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let (store, _guard) = $fresh().await;
            conformance::$case(store).await;
        }
    )* };
}
pub(crate) use conformance_tests;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn create(s: &dyn Store, key: &str, value: &str) -> Revision {
    match s.create(key, b(value), None).await.expect("create") {
        CreateOutcome::Created(rev) => rev,
        other => panic!("create {key}: {other:?}"),
    }
}

async fn update(s: &dyn Store, key: &str, value: &str, expected: Revision) -> Revision {
    match s
        .update(key, b(value), expected, None)
        .await
        .expect("update")
    {
        UpdateOutcome::Updated(rev) => rev,
        other => panic!("update {key}: {other:?}"),
    }
}

async fn value_at(s: &dyn Store, key: &str, rev: Revision) -> Option<String> {
    s.get(key, rev)
        .await
        .expect("get")
        .map(|kv| String::from_utf8(kv.value.to_vec()).expect("utf8"))
}

/// Reads `n` events from `w`, failing if they do not arrive within `secs`.
async fn next_events(w: &mut WatchStream, n: usize, secs: u64) -> Vec<WatchEvent> {
    let mut out = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, w.next()).await {
            Ok(Some(Ok(ev))) => out.push(ev),
            Ok(Some(Err(e))) => panic!("watch error after {} events: {e}", out.len()),
            Ok(None) => panic!("watch ended after {} of {n} events", out.len()),
            Err(_) => panic!("timed out after {} of {n} events", out.len()),
        }
    }
    out
}

/// Asserts that no further event arrives within a short while.
async fn no_more_events(w: &mut WatchStream) {
    if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), w.next()).await {
        panic!("unexpected event {ev:?}");
    }
}

pub async fn revisions_and_versions(s: Arc<dyn Store>) {
    let r0 = s.current_revision().await.unwrap();
    let r1 = create(&*s, "/t/a", "1").await;
    assert!(r1 > r0, "create must bump the revision");
    let r2 = update(&*s, "/t/a", "2", r1).await;
    let r3 = create(&*s, "/t/b", "x").await;
    assert!(
        r1 < r2 && r2 < r3,
        "revisions strictly increase: {r1} {r2} {r3}"
    );
    assert_eq!(s.current_revision().await.unwrap(), r3);
    let kv = s.get("/t/a", 0).await.unwrap().expect("present");
    assert_eq!(
        kv,
        KeyValue {
            key: "/t/a".into(),
            value: b("2"),
            create_revision: r1,
            mod_revision: r2,
            version: 2
        }
    );
}

pub async fn create_existing_key_is_a_value(s: Arc<dyn Store>) {
    let r1 = create(&*s, "/t/a", "first").await;
    let out = s.create("/t/a", b("second"), None).await.unwrap();
    match out {
        CreateOutcome::AlreadyExists(kv) => {
            assert_eq!(kv.value, b("first"));
            assert_eq!(kv.mod_revision, r1);
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        s.current_revision().await.unwrap(),
        r1,
        "a failed create writes nothing"
    );
}

pub async fn update_is_conditional_on_mod_revision(s: Arc<dyn Store>) {
    let r1 = create(&*s, "/t/a", "1").await;
    let r2 = update(&*s, "/t/a", "2", r1).await;
    match s.update("/t/a", b("stale"), r1, None).await.unwrap() {
        UpdateOutcome::Conflict(Some(kv)) => {
            assert_eq!((kv.value, kv.mod_revision), (b("2"), r2));
        }
        other => panic!("expected a conflict carrying the current value, got {other:?}"),
    }
    match s.update("/t/missing", b("x"), r1, None).await.unwrap() {
        UpdateOutcome::Conflict(None) => {}
        other => panic!("expected a conflict on a missing key, got {other:?}"),
    }
    assert_eq!(
        s.current_revision().await.unwrap(),
        r2,
        "conflicts write nothing"
    );
    assert_eq!(value_at(&*s, "/t/a", 0).await.as_deref(), Some("2"));
}

pub async fn delete_semantics(s: Arc<dyn Store>) {
    assert_eq!(
        s.delete("/t/none", None).await.unwrap(),
        DeleteOutcome::NotFound
    );
    let r1 = create(&*s, "/t/a", "1").await;
    let r2 = update(&*s, "/t/a", "2", r1).await;
    match s.delete("/t/a", Some(r1)).await.unwrap() {
        DeleteOutcome::Conflict(kv) => assert_eq!(kv.mod_revision, r2),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let r3 = match s.delete("/t/a", Some(r2)).await.unwrap() {
        DeleteOutcome::Deleted { revision, prev } => {
            assert_eq!(
                (prev.value, prev.mod_revision, prev.version),
                (b("2"), r2, 2)
            );
            revision
        }
        other => panic!("expected Deleted, got {other:?}"),
    };
    assert!(r3 > r2);
    assert_eq!(s.current_revision().await.unwrap(), r3);
    assert_eq!(s.get("/t/a", 0).await.unwrap(), None);
    assert_eq!(
        s.delete("/t/a", None).await.unwrap(),
        DeleteOutcome::NotFound
    );
    // Re-creating starts a new life: version 1, a new create revision.
    let r4 = create(&*s, "/t/a", "again").await;
    let kv = s.get("/t/a", 0).await.unwrap().unwrap();
    assert_eq!((kv.create_revision, kv.version), (r4, 1));
    // Unconditional delete.
    assert!(matches!(
        s.delete("/t/a", None).await.unwrap(),
        DeleteOutcome::Deleted { .. }
    ));
}

pub async fn reads_at_past_revisions(s: Arc<dyn Store>) {
    let r1 = create(&*s, "/t/a", "1").await;
    let r2 = update(&*s, "/t/a", "2", r1).await;
    let r3 = match s.delete("/t/a", None).await.unwrap() {
        DeleteOutcome::Deleted { revision, .. } => revision,
        other => panic!("{other:?}"),
    };
    create(&*s, "/t/b", "b").await;
    assert_eq!(value_at(&*s, "/t/a", r1).await.as_deref(), Some("1"));
    assert_eq!(value_at(&*s, "/t/a", r2).await.as_deref(), Some("2"));
    assert_eq!(value_at(&*s, "/t/a", r3).await, None);
    assert_eq!(value_at(&*s, "/t/b", r2).await, None);
    let page = s
        .range(RangeRequest {
            prefix: "/t/".into(),
            revision: r2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.revision, r2);
    assert_eq!(page.count, 1);
    assert_eq!(page.kvs[0].value, b("2"));
}

pub async fn future_revisions_are_refused(s: Arc<dyn Store>) {
    let r1 = create(&*s, "/t/a", "1").await;
    let err = s.get("/t/a", r1 + 100).await.unwrap_err();
    assert!(matches!(err, StoreError::FutureRevision { .. }), "{err:?}");
    let err = s.compact(r1 + 100).await.unwrap_err();
    assert!(matches!(err, StoreError::FutureRevision { .. }), "{err:?}");
}

pub async fn prefix_ranges_do_not_leak(s: Arc<dyn Store>) {
    for k in ["/a/1", "/a/2", "/ab", "/a0", "/b/1"] {
        create(&*s, k, k).await;
    }
    let page = s
        .range(RangeRequest {
            prefix: "/a/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let keys: Vec<_> = page.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/a/1", "/a/2"]);
    assert_eq!(page.count, 2);
    assert!(!page.more);
    assert_eq!(s.count("/a/").await.unwrap(), 2);
    assert_eq!(s.count("/").await.unwrap(), 5);
}

pub async fn pagination_is_a_consistent_snapshot_while_writes_go_on(s: Arc<dyn Store>) {
    let mut expected = BTreeMap::new();
    for i in 0..100 {
        let key = format!("/p/{i:03}");
        let rev = create(&*s, &key, "v0").await;
        expected.insert(key, rev);
    }
    let first = s
        .range(RangeRequest {
            prefix: "/p/".into(),
            limit: 7,
            ..Default::default()
        })
        .await
        .unwrap();
    let snapshot = first.revision;
    // Churn: rewrite, delete and add keys while the listing pages through the snapshot.
    let writer = {
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            for i in 0..100 {
                let key = format!("/p/{i:03}");
                if let Some(kv) = s.get(&key, 0).await.unwrap() {
                    if i % 3 == 0 {
                        s.delete(&key, None).await.unwrap();
                    } else {
                        s.update(&key, b("v1"), kv.mod_revision, None)
                            .await
                            .unwrap();
                    }
                }
                create(&*s, &format!("/p/{i:03}x"), "new").await;
            }
        })
    };
    let mut seen = BTreeMap::new();
    let mut page = first;
    loop {
        assert_eq!(page.count, 100, "count is of the snapshot");
        assert!(page.kvs.len() <= 7);
        for kv in &page.kvs {
            assert_eq!(kv.value, b("v0"), "{} read from the snapshot", kv.key);
            seen.insert(kv.key.clone(), kv.mod_revision);
        }
        if !page.more {
            break;
        }
        let last = page.kvs.last().unwrap().key.clone();
        page = s
            .range(RangeRequest {
                prefix: "/p/".into(),
                start_after: Some(last),
                limit: 7,
                revision: snapshot,
            })
            .await
            .unwrap();
        assert_eq!(page.revision, snapshot);
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    assert_eq!(seen, expected, "every key of the snapshot exactly once");
}

pub async fn watch_from_now_sees_only_later_changes(s: Arc<dyn Store>) {
    create(&*s, "/w/before", "x").await;
    let mut w = s.watch("/w/", 0).await.unwrap();
    let r = create(&*s, "/w/after", "y").await;
    let evs = next_events(&mut w, 1, 10).await;
    assert_eq!(evs[0].kv.key, "/w/after");
    assert_eq!(evs[0].revision(), r);
    assert_eq!(evs[0].kind, WatchEventKind::Put);
    no_more_events(&mut w).await;
}

pub async fn watch_carries_previous_values_and_deletes(s: Arc<dyn Store>) {
    let start = s.current_revision().await.unwrap() + 1;
    let r1 = create(&*s, "/w/a", "1").await;
    create(&*s, "/other/a", "not watched").await;
    let r2 = update(&*s, "/w/a", "2", r1).await;
    s.delete("/w/a", None).await.unwrap();
    let mut w = s.watch("/w/", start).await.unwrap();
    let evs = next_events(&mut w, 3, 10).await;
    assert_eq!(evs[0].kind, WatchEventKind::Put);
    assert_eq!(evs[0].prev, None, "a creation has no previous value");
    assert_eq!(evs[0].kv.create_revision, r1);
    assert_eq!(evs[1].kind, WatchEventKind::Put);
    assert_eq!(evs[1].prev.as_ref().map(|p| p.value.clone()), Some(b("1")));
    assert_eq!(evs[1].kv.version, 2);
    assert_eq!(evs[2].kind, WatchEventKind::Delete);
    assert_eq!(evs[2].kv.key, "/w/a");
    assert!(evs[2].revision() > r2);
    let prev = evs[2]
        .prev
        .as_ref()
        .expect("a delete carries the deleted value");
    assert_eq!((prev.value.clone(), prev.mod_revision), (b("2"), r2));
    no_more_events(&mut w).await;
}

pub async fn watch_from_old_revision_under_concurrent_writers_has_no_gaps_or_duplicates(
    s: Arc<dyn Store>,
) {
    const WRITERS: usize = 8;
    const WRITES: usize = 40;
    let start = s.current_revision().await.unwrap() + 1;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let key = format!("/c/{w}");
            let mut rev = create(&*s, &key, "0").await;
            acked.push(rev);
            for i in 1..WRITES {
                rev = update(&*s, &key, &i.to_string(), rev).await;
                acked.push(rev);
                // Unwatched noise in between.
                create(&*s, &format!("/noise/{w}/{i}"), "n").await;
            }
            acked
        }));
    }
    // Start watching from the old revision while the writers are still going.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut w = s.watch("/c/", start).await.unwrap();
    let mut acked = BTreeSet::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let evs = next_events(&mut w, WRITERS * WRITES, 30).await;
    let revs: Vec<Revision> = evs.iter().map(WatchEvent::revision).collect();
    assert!(revs.windows(2).all(|p| p[0] < p[1]), "strictly increasing");
    assert_eq!(
        revs.iter().copied().collect::<BTreeSet<_>>(),
        acked,
        "exactly the acked writes"
    );
    // Each event's previous value is the key's value one write earlier.
    for ev in &evs {
        let n: usize = std::str::from_utf8(&ev.kv.value).unwrap().parse().unwrap();
        match (&ev.prev, n) {
            (None, 0) => {}
            (Some(p), n) if n > 0 => assert_eq!(p.value, b(&(n - 1).to_string())),
            other => panic!("bad prev for {}: {other:?}", ev.kv.key),
        }
    }
    no_more_events(&mut w).await;
}

/// Waits (asking, as a backend may report only when asked) until `progress` covers `rev`.
async fn wait_covered(progress: &mut rkube_store::WatchProgress, rev: Revision) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while progress.covered() < rev {
        progress.request();
        match tokio::time::timeout_at(deadline, progress.changed()).await {
            Ok(true) => {}
            Ok(false) => panic!("the watch's progress ended at {}", progress.covered()),
            Err(_) => panic!("progress stuck at {} < {rev}", progress.covered()),
        }
    }
}

/// A watch's progress moves past writes outside its prefix (no event shows them), and once it
/// covers a revision, that revision's event is already in the stream: what lets a cache fed
/// by the watch answer consistent reads.
pub async fn watch_progress_covers_other_prefixes_and_never_runs_ahead_of_the_events(
    s: Arc<dyn Store>,
) {
    use futures::FutureExt;
    let start = create(&*s, "/b/0", "v").await;
    let (mut events, mut progress) = s
        .watch_with_progress("/a/", start + 1)
        .await
        .expect("watch");
    assert!(progress.is_known(), "both backends report progress");
    let elsewhere = create(&*s, "/b/1", "v").await;
    wait_covered(&mut progress, elsewhere).await;
    assert!(
        events.next().now_or_never().is_none(),
        "nothing under /a/ yet"
    );
    for i in 0..50 {
        let rev = create(&*s, &format!("/a/{i}"), "v").await;
        let other = create(&*s, &format!("/b/x{i}"), "v").await;
        wait_covered(&mut progress, if i % 2 == 0 { rev } else { other }).await;
        // Covered means handed over: the event waits in the stream, it is not on its way.
        let event = events
            .next()
            .now_or_never()
            .flatten()
            .unwrap_or_else(|| panic!("round {i}: the covered event is in the stream"))
            .expect("no error");
        assert_eq!(event.revision(), rev);
    }
}

pub async fn compaction_refuses_older_revisions(s: Arc<dyn Store>) {
    let mut revs = vec![create(&*s, "/k/a", "0").await];
    for i in 1..5 {
        let prev = *revs.last().unwrap();
        revs.push(update(&*s, "/k/a", &i.to_string(), prev).await);
    }
    create(&*s, "/k/gone", "x").await;
    s.delete("/k/gone", None).await.unwrap();
    let keep = revs[2];
    s.compact(keep).await.unwrap();
    assert_eq!(s.compacted_revision().await.unwrap(), keep);
    let err = s.get("/k/a", revs[1]).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Compacted { requested, .. } if requested == revs[1]),
        "{err:?}"
    );
    let err = s
        .range(RangeRequest {
            prefix: "/k/".into(),
            revision: revs[0],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Compacted { .. }), "{err:?}");
    // The compacted revision itself and everything later still read.
    assert_eq!(value_at(&*s, "/k/a", keep).await.as_deref(), Some("2"));
    assert_eq!(value_at(&*s, "/k/a", 0).await.as_deref(), Some("4"));
    assert_eq!(s.get("/k/gone", 0).await.unwrap(), None);
    // A watch from before the compaction ends with Compacted; from it, it replays.
    let mut old = s
        .watch("/k/", revs[1])
        .await
        .map(Some)
        .or_else(|e| match e {
            StoreError::Compacted { .. } => Ok(None),
            e => Err(e),
        });
    if let Ok(Some(w)) = old.as_mut() {
        match tokio::time::timeout(Duration::from_secs(10), w.next()).await {
            Ok(Some(Err(StoreError::Compacted { .. }))) => {}
            other => panic!("expected a Compacted error from the watch, got {other:?}"),
        }
    }
    assert!(
        old.is_ok(),
        "watch from a compacted revision: {old:?}",
        old = old.err()
    );
    let mut w = s.watch("/k/a", keep).await.unwrap();
    let evs = next_events(&mut w, 3, 10).await;
    assert_eq!(
        evs.iter().map(WatchEvent::revision).collect::<Vec<_>>(),
        revs[2..]
    );
    // Compacting again at or below is a no-op; the latest values survive.
    s.compact(revs[1]).await.unwrap();
    s.compact(keep).await.unwrap();
    let latest = s.current_revision().await.unwrap();
    s.compact(latest).await.unwrap();
    assert_eq!(value_at(&*s, "/k/a", 0).await.as_deref(), Some("4"));
    assert_eq!(s.count("/k/").await.unwrap(), 1);
}

pub async fn keys_with_ttl_expire(s: Arc<dyn Store>) {
    let mut w = s.watch("/ttl/", 0).await.unwrap();
    let created = match s
        .create("/ttl/short", b("x"), Some(Duration::from_secs(2)))
        .await
        .unwrap()
    {
        CreateOutcome::Created(rev) => rev,
        other => panic!("{other:?}"),
    };
    create(&*s, "/ttl/forever", "y").await;
    let started = std::time::Instant::now();
    let evs = next_events(&mut w, 3, 15).await;
    let expired = &evs[2];
    assert_eq!(expired.kind, WatchEventKind::Delete);
    assert_eq!(expired.kv.key, "/ttl/short");
    assert_eq!(expired.prev.as_ref().map(|p| p.mod_revision), Some(created));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "expired too early: {waited:?}"
    );
    assert_eq!(s.get("/ttl/short", 0).await.unwrap(), None);
    assert!(s.get("/ttl/forever", 0).await.unwrap().is_some());
}

pub async fn ten_thousand_keys(s: Arc<dyn Store>) {
    const N: usize = 10_000;
    futures::stream::iter(0..N)
        .for_each_concurrent(64, |i| {
            let s = Arc::clone(&s);
            async move {
                create(&*s, &format!("/many/{i:05}"), &format!("value-{i}")).await;
            }
        })
        .await;
    assert_eq!(s.count("/many/").await.unwrap(), N as i64);
    let mut keys = Vec::new();
    let mut start_after = None;
    let mut revision = 0;
    loop {
        let page = s
            .range(RangeRequest {
                prefix: "/many/".into(),
                start_after: start_after.clone(),
                limit: 1000,
                revision,
            })
            .await
            .unwrap();
        assert_eq!(page.count, N as i64);
        revision = page.revision;
        keys.extend(page.kvs.iter().map(|kv| kv.key.clone()));
        start_after = page.kvs.last().map(|kv| kv.key.clone());
        if !page.more {
            break;
        }
    }
    let want: Vec<String> = (0..N).map(|i| format!("/many/{i:05}")).collect();
    assert_eq!(keys, want);
}

pub async fn large_values(s: Arc<dyn Store>) {
    let big = Bytes::from(vec![b'x'; MAX_VALUE_LEN]);
    let rev = match s.create("/big/max", big.clone(), None).await.unwrap() {
        CreateOutcome::Created(rev) => rev,
        other => panic!("{other:?}"),
    };
    let kv = s.get("/big/max", 0).await.unwrap().unwrap();
    assert_eq!(kv.value.len(), MAX_VALUE_LEN);
    assert_eq!(kv.value, big);
    let too_big = Bytes::from(vec![b'x'; MAX_VALUE_LEN + 1]);
    let err = s
        .create("/big/over", too_big.clone(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ValueTooLarge { .. }), "{err:?}");
    let err = s.update("/big/max", too_big, rev, None).await.unwrap_err();
    assert!(matches!(err, StoreError::ValueTooLarge { .. }), "{err:?}");
    assert_eq!(s.current_revision().await.unwrap(), rev, "nothing written");
    assert_eq!(s.get("/big/max", 0).await.unwrap().unwrap().value, big);
}

pub async fn bad_input_writes_nothing(s: Arc<dyn Store>) {
    let r0 = s.current_revision().await.unwrap();
    for key in ["", "no-slash", "/with space", "/tab\t", "/ünïcode"] {
        let err = s.create(key, b("v"), None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidKey { .. }),
            "{key:?}: {err:?}"
        );
        assert!(s.get(key, 0).await.is_err());
        assert!(s.delete(key, None).await.is_err());
    }
    let err = s.watch("", 0).await.err().expect("empty prefix refused");
    assert!(matches!(err, StoreError::InvalidKey { .. }), "{err:?}");
    let err = s
        .create("/ttl0", b("v"), Some(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTtl { .. }), "{err:?}");
    assert_eq!(s.current_revision().await.unwrap(), r0, "nothing written");
}
