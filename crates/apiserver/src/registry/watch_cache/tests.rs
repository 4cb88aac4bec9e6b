use super::*;

use crate::registry::test_store as store;
use serde_json::Value;

async fn put(store: &Arc<dyn Store>, key: &str) -> Revision {
    match store
        .create(key, Bytes::from_static(b"{\"metadata\":{}}"), None)
        .await
        .unwrap()
    {
        rkube_store::CreateOutcome::Created(rev) => rev,
        other => panic!("{other:?}"),
    }
}

async fn next_key(s: &mut CacheWatch) -> String {
    let e = tokio::time::timeout(std::time::Duration::from_secs(5), s.next())
        .await
        .expect("an event")
        .expect("stream open");
    e.key.clone()
}

#[tokio::test]
async fn watchers_of_one_resource_share_one_store_watch_and_see_their_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::new(store.clone());
    let from = store.current_revision().await.unwrap() + 1;
    let mut per_ns = Vec::new();
    for i in 0..50 {
        let prefix = format!("/registry/pods/ns{i}/");
        let s = caches
            .watch("/registry/pods/", &prefix, from, None)
            .await
            .unwrap()
            .expect("served by the cache");
        per_ns.push(s);
    }
    let mut all = caches
        .watch("/registry/pods/", "/registry/pods/", from, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caches.len(), 1, "one store watch for 51 watchers");
    for i in (0..50).rev() {
        put(&store, &format!("/registry/pods/ns{i}/p")).await;
    }
    for (i, s) in per_ns.iter_mut().enumerate() {
        assert_eq!(next_key(s).await, format!("/registry/pods/ns{i}/p"));
    }
    for i in (0..50).rev() {
        assert_eq!(next_key(&mut all).await, format!("/registry/pods/ns{i}/p"));
    }
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_closed_and_the_others_keep_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::with_limits(store.clone(), 100, 8);
    let from = store.current_revision().await.unwrap() + 1;
    let mut slow = caches
        .watch("/registry/pods/", "/registry/pods/", from, None)
        .await
        .unwrap()
        .unwrap();
    let mut fast = caches
        .watch("/registry/pods/", "/registry/pods/", from, None)
        .await
        .unwrap()
        .unwrap();
    // The fast one reads each event before the next write (in lockstep: a loaded machine may
    // hand the cache several events at once, more than a buffer of 8 when nobody read).
    for i in 0..40 {
        let key = format!("/registry/pods/default/p{i}");
        put(&store, &key).await;
        assert_eq!(
            next_key(&mut fast).await,
            key,
            "the fast watcher sees every write"
        );
    }
    // The slow one never read: it is closed rather than buffering without bound.
    let mut got = 0;
    while let Ok(Some(_)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), slow.next()).await
    {
        got += 1;
    }
    // It read what was queued for it (its buffer), then its stream ended.
    assert_eq!(got, 8, "the slow watcher was cut off");
    // Writers were never held up, and a new watcher is served.
    put(&store, "/registry/pods/default/after").await;
}

#[tokio::test]
async fn lists_come_from_memory_and_follow_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    put(&store, "/registry/pods/a/before").await;
    put(&store, "/registry/pods/b/other").await;
    let caches = WatchCaches::new(store.clone());
    let (items, rev) = caches
        .list("/registry/pods/", "/registry/pods/a/")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(rev, store.current_revision().await.unwrap());
    // A watch from the list's revision sees what follows, and so does the next list.
    let mut w = caches
        .watch("/registry/pods/", "/registry/pods/a/", rev + 1, None)
        .await
        .unwrap()
        .unwrap();
    let added = put(&store, "/registry/pods/a/after").await;
    assert_eq!(next_key(&mut w).await, "/registry/pods/a/after");
    store.delete("/registry/pods/a/before", None).await.unwrap();
    assert_eq!(next_key(&mut w).await, "/registry/pods/a/before");
    let (items, rev) = caches
        .list("/registry/pods/", "/registry/pods/a/")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        items.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
        vec![added]
    );
    assert!(rev > added);
}

#[tokio::test]
async fn a_watch_from_the_recent_past_is_replayed_and_an_older_one_goes_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::with_limits(store.clone(), 3, 100);
    let start = store.current_revision().await.unwrap() + 1;
    // The first watch starts the cache.
    let _keep = caches
        .watch("/registry/pods/", "/registry/pods/", start, None)
        .await
        .unwrap()
        .unwrap();
    let mut revs = Vec::new();
    for i in 0..5 {
        revs.push(put(&store, &format!("/registry/pods/default/p{i}")).await);
    }
    // Let the feeder take them in.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut replay = caches
        .watch("/registry/pods/", "/registry/pods/", revs[3], None)
        .await
        .unwrap()
        .expect("still in the ring");
    assert_eq!(next_key(&mut replay).await, "/registry/pods/default/p3");
    assert_eq!(next_key(&mut replay).await, "/registry/pods/default/p4");
    // Only the last three are kept: p0 must come from the store.
    assert!(
        caches
            .watch("/registry/pods/", "/registry/pods/", revs[0], None)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn only_the_newest_events_keep_their_decoded_objects() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::with_limits(store.clone(), 100, 100).with_decoded_window(3);
    let from = store.current_revision().await.unwrap() + 1;
    let mut w = caches
        .watch("/registry/pods/", "/registry/pods/", from, None)
        .await
        .unwrap()
        .unwrap();
    let mut seen = Vec::new();
    for i in 0..6 {
        put(&store, &format!("/registry/pods/default/p{i}")).await;
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), w.next())
            .await
            .unwrap()
            .unwrap();
        // Every watcher decodes (and so the cache would keep) each event.
        assert!(e.decoded().new.as_ref().unwrap().is_ok());
        seen.push(e);
    }
    put(&store, "/registry/pods/default/last").await;
    w.next().await.unwrap().decoded();
    let held: Vec<bool> = seen.iter().map(|e| e.holds_decoded()).collect();
    // p4, p5 and `last` are the newest three (the window); p0..p3 dropped theirs.
    assert_eq!(held, [false, false, false, false, true, true]);
    // One far behind decodes again, and the same objects come out.
    let again = seen[0].decoded();
    assert_eq!(
        again.new.as_ref().unwrap().as_ref().unwrap()["metadata"]["resourceVersion"],
        seen[0].revision.to_string()
    );
}

fn pod_on(node: &str) -> Bytes {
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({"metadata": {}, "spec": {"nodeName": node}}))
            .unwrap(),
    )
}

fn node_name(pod: &Value) -> String {
    pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until `w` has taken everything offered to it and the cache has reached `revision`.
async fn wait_up_to_date(w: &CacheWatch, revision: Revision) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while w.up_to_date().is_none_or(|r| r < revision) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher never caught up with {revision}: {:?}",
            w.up_to_date()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_indexed_watcher_is_offered_only_the_changes_of_objects_with_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::new(store.clone());
    let from = store.current_revision().await.unwrap() + 1;
    let watch = |value: Option<&str>| {
        let index = value.map(|v| (node_name as IndexFn, v.to_owned()));
        caches.watch("/registry/pods/", "/registry/pods/", from, index)
    };
    let mut unscheduled = watch(Some("")).await.unwrap().unwrap();
    let mut n1 = watch(Some("n1")).await.unwrap().unwrap();
    let mut n2 = watch(Some("n2")).await.unwrap().unwrap();
    let mut all = watch(None).await.unwrap().unwrap();
    let a = "/registry/pods/default/a";
    let b = "/registry/pods/default/b";
    let created = match store.create(a, pod_on(""), None).await.unwrap() {
        rkube_store::CreateOutcome::Created(rev) => rev,
        other => panic!("{other:?}"),
    };
    // Bound to n1: the scheduler's watch of unscheduled pods sees it leave, n1's arrive.
    store.update(a, pod_on("n1"), created, None).await.unwrap();
    store.create(b, pod_on("n2"), None).await.unwrap();
    store.delete(a, None).await.unwrap();
    let last = store.current_revision().await.unwrap();
    for _ in 0..4 {
        next_key(&mut all).await;
    }
    for (w, expected) in [
        (&mut unscheduled, vec![a, a]),
        (&mut n1, vec![a, a]),
        (&mut n2, vec![b]),
    ] {
        for key in expected {
            assert_eq!(next_key(w).await, key);
        }
        // Nothing else was offered to it, and it is up to date with the newest revision
        // (what its bookmarks then carry).
        wait_up_to_date(w, last).await;
    }
    assert_eq!(all.up_to_date(), Some(last));
}

#[tokio::test]
async fn a_watcher_with_events_queued_is_not_up_to_date_and_a_dropped_one_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::new(store.clone());
    let from = store.current_revision().await.unwrap() + 1;
    let index = || Some((node_name as IndexFn, "n1".to_owned()));
    let mut w = caches
        .watch("/registry/pods/", "/registry/pods/", from, index())
        .await
        .unwrap()
        .unwrap();
    let gone = caches
        .watch("/registry/pods/", "/registry/pods/", from, index())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(caches.watchers("/registry/pods/"), 2);
    drop(gone);
    assert_eq!(caches.watchers("/registry/pods/"), 1);
    store
        .create("/registry/pods/default/a", pod_on("n1"), None)
        .await
        .unwrap();
    let last = store.current_revision().await.unwrap();
    // Until it takes the event, its bookmarks cannot claim the newest revision.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while caches.revision("/registry/pods/") < last {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(w.up_to_date(), None);
    assert_eq!(next_key(&mut w).await, "/registry/pods/default/a");
    assert_eq!(w.up_to_date(), Some(last));
}

/// A consistent list waits for the cache to apply every write acknowledged before it: each
/// write is seen by the list right after it, and the list's revision is the store's current
/// one even when the newest write was to another resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistent_list_sees_every_write_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::new(store.clone());
    for i in 0..200 {
        let added = put(&store, &format!("/registry/pods/a/p{i}")).await;
        let elsewhere = put(&store, &format!("/registry/leases/l{i}")).await;
        let (items, rev) = caches
            .list_consistent("/registry/pods/", "/registry/pods/a/", elsewhere)
            .await
            .unwrap()
            .expect("the embedded store reports progress");
        assert_eq!(items.len(), i + 1, "round {i}");
        assert!(items.iter().any(|(_, r)| *r == added), "round {i}");
        assert_eq!(rev, elsewhere, "round {i}");
    }
}

/// A consistent get, like a consistent list, answers as the store would right after each
/// acknowledged write: a namespace just created is there, one just deleted is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consistent_get_sees_every_write_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let caches = WatchCaches::new(store.clone());
    let prefix = "/registry/namespaces/";
    for i in 0..100 {
        let key = format!("{prefix}ns{i}");
        let created = put(&store, &key).await;
        let got = caches
            .get_consistent(prefix, &key, store.current_revision().await.unwrap())
            .await
            .unwrap()
            .expect("the embedded store reports progress");
        assert_eq!(got.map(|(_, rev)| rev), Some(created), "round {i}");
        store.delete(&key, None).await.unwrap();
        // The newest write is elsewhere: the cache must still reach the store's revision.
        let elsewhere = put(&store, &format!("/registry/leases/l{i}")).await;
        let gone = caches
            .get_consistent(prefix, &key, elsewhere)
            .await
            .unwrap()
            .expect("the embedded store reports progress");
        assert!(gone.is_none(), "round {i}: deleted before the get");
    }
}

/// Without progress reports the cache cannot know it is current: consistent lists are left
/// to the store, while `resourceVersion=0` lists are still served.
#[tokio::test]
async fn without_progress_reports_consistent_lists_are_left_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let inner = store(dir.path()).await;
    let store: Arc<dyn Store> = Arc::new(crate::registry::test_stores::Limited {
        inner,
        frozen: false,
    });
    let rev = put(&store, "/registry/pods/a/p").await;
    let caches = WatchCaches::new(store.clone());
    let started = std::time::Instant::now();
    assert!(
        caches
            .list_consistent("/registry/pods/", "/registry/pods/a/", rev)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        started.elapsed() < CONSISTENT_READ_WAIT,
        "no wait for what cannot come"
    );
    assert!(
        caches
            .list("/registry/pods/", "/registry/pods/a/")
            .await
            .unwrap()
            .is_some()
    );
}
