//! etcd-specific behaviour of `EtcdStore`, against real etcd processes from the testkit:
//! CRUD, leases and compaction on one member; a three-member cluster losing members under an
//! open watch; unreachable endpoints; a slow watcher next to a fast one.

use bytes::Bytes;
use futures::StreamExt;
use rkube_store::etcd::{EtcdConfig, EtcdStore};
use rkube_store::{
    CreateOutcome, DeleteOutcome, RangeRequest, Revision, Store, StoreError, UpdateOutcome,
    WatchEvent, WatchEventKind, WatchStream,
};
use rkube_testkit::EtcdCluster;
use std::time::{Duration, Instant};

async fn connect(endpoints: Vec<String>, request_timeout: Duration) -> EtcdStore {
    let mut config = EtcdConfig::new(endpoints);
    config.dial_timeout = Duration::from_secs(1);
    config.request_timeout = request_timeout;
    EtcdStore::connect(config).await.expect("connect")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn create(s: &EtcdStore, key: &str, value: Bytes) -> Revision {
    match s.create(key, value, None).await.expect("create") {
        CreateOutcome::Created(rev) => rev,
        other => panic!("create {key}: {other:?}"),
    }
}

/// Reads `n` events, failing if they do not come within `secs`.
async fn next_events(w: &mut WatchStream, n: usize, secs: u64) -> Vec<WatchEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::with_capacity(n);
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

async fn no_more_events(w: &mut WatchStream) {
    if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(300), w.next()).await {
        panic!("unexpected event {ev:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_member_crud_leases_and_compaction() {
    let cluster = EtcdCluster::start(1).await.expect("start etcd");
    let s = connect(cluster.endpoints(), Duration::from_secs(5)).await;
    let mut raw = etcd_client::Client::connect(cluster.endpoints(), None)
        .await
        .expect("raw client");

    // CRUD, as etcd sees it.
    let r1 = create(&s, "/crud/a", b("1")).await;
    let raw_kv = raw.get("/crud/a", None).await.expect("raw get").kvs()[0].clone();
    assert_eq!((raw_kv.value(), raw_kv.mod_revision()), (&b"1"[..], r1));
    match s.create("/crud/a", b("again"), None).await.expect("create") {
        CreateOutcome::AlreadyExists(kv) => assert_eq!((kv.value, kv.version), (b("1"), 1)),
        other => panic!("{other:?}"),
    }
    let r2 = match s.update("/crud/a", b("2"), r1, None).await.expect("update") {
        UpdateOutcome::Updated(rev) => rev,
        other => panic!("{other:?}"),
    };
    assert!(r2 > r1);
    assert!(matches!(
        s.update("/crud/a", b("x"), r1, None).await.expect("update"),
        UpdateOutcome::Conflict(Some(kv)) if kv.mod_revision == r2
    ));
    // expected 0 must not create a missing key (etcd's mod_revision of an absent key is 0).
    assert_eq!(
        s.update("/crud/none", b("x"), 0, None)
            .await
            .expect("update"),
        UpdateOutcome::Conflict(None)
    );
    assert_eq!(s.get("/crud/none", 0).await.expect("get"), None);
    for i in 0..5 {
        create(&s, &format!("/crud/list/{i}"), b("v")).await;
    }
    let page = s
        .range(RangeRequest {
            prefix: "/crud/list/".into(),
            limit: 2,
            ..Default::default()
        })
        .await
        .expect("range");
    assert_eq!((page.kvs.len(), page.more, page.count), (2, true, 5));
    let rest = s
        .range(RangeRequest {
            prefix: "/crud/list/".into(),
            start_after: page.kvs.last().map(|kv| kv.key.clone()),
            limit: 10,
            revision: page.revision,
        })
        .await
        .expect("range");
    let keys: Vec<_> = rest.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/crud/list/2", "/crud/list/3", "/crud/list/4"]);
    assert_eq!(
        (rest.more, rest.count, rest.revision),
        (false, 5, page.revision)
    );
    // A start_after outside the prefix cannot widen the listing.
    let all = s
        .range(RangeRequest {
            prefix: "/crud/list/".into(),
            start_after: Some("/a".into()),
            ..Default::default()
        })
        .await
        .expect("range");
    assert_eq!((all.kvs.len(), all.count), (5, 5));
    match s.delete("/crud/a", Some(r2)).await.expect("delete") {
        DeleteOutcome::Deleted { prev, revision } => {
            assert_eq!(prev.value, b("2"));
            assert_eq!(revision, s.current_revision().await.expect("revision"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(raw.get("/crud/a", None).await.expect("raw get").count(), 0);

    // Keys with the same long TTL share one lease that outlives the TTL; short TTLs do not.
    create_with_ttl(&s, "/ttl/a", 3600).await;
    create_with_ttl(&s, "/ttl/b", 3600).await;
    create_with_ttl(&s, "/ttl/c", 2).await;
    create_with_ttl(&s, "/ttl/d", 2).await;
    let lease = |key: &'static str| {
        let mut raw = raw.clone();
        async move { raw.get(key, None).await.expect("raw get").kvs()[0].lease() }
    };
    let (la, lb, lc, ld) = (
        lease("/ttl/a").await,
        lease("/ttl/b").await,
        lease("/ttl/c").await,
        lease("/ttl/d").await,
    );
    assert!(la != 0 && la == lb, "same TTL, same lease: {la} {lb}");
    assert!(
        lc != 0 && lc != ld && lc != la,
        "short TTLs get their own: {lc} {ld}"
    );
    let ttl = raw.lease_time_to_live(la, None).await.expect("ttl");
    assert!(
        (3600..=3660).contains(&ttl.ttl()),
        "shared lease lives at least the TTL and at most a minute more: {}",
        ttl.ttl()
    );

    // compacted_revision finds a compaction made by another client; errors carry it.
    let mut revs = vec![create(&s, "/k/a", b("0")).await];
    for i in 1..6 {
        let prev = *revs.last().expect("revs");
        match s
            .update("/k/a", b(&i.to_string()), prev, None)
            .await
            .expect("update")
        {
            UpdateOutcome::Updated(rev) => revs.push(rev),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.compacted_revision().await.expect("compacted"), 0);
    raw.compact(revs[3], None).await.expect("raw compact");
    assert_eq!(s.compacted_revision().await.expect("compacted"), revs[3]);
    match s.get("/k/a", revs[1]).await {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => assert_eq!((requested, compacted), (revs[1], revs[3])),
        other => panic!("expected Compacted, got {other:?}"),
    }
    let mut w = s.watch("/k/", revs[2]).await.expect("watch");
    match tokio::time::timeout(Duration::from_secs(5), w.next()).await {
        Ok(Some(Err(StoreError::Compacted {
            requested,
            compacted,
        }))) => assert_eq!((requested, compacted), (revs[2], revs[3])),
        other => panic!("expected Compacted, got {other:?}"),
    }
    s.compact(revs[4]).await.expect("compact");
    s.compact(revs[2])
        .await
        .expect("compacting below is a no-op");
    assert_eq!(s.compacted_revision().await.expect("compacted"), revs[4]);
    let current = s.current_revision().await.expect("revision");
    assert!(matches!(
        s.get("/k/a", current + 10).await,
        Err(StoreError::FutureRevision { requested, current: c }) if requested == current + 10 && c == current
    ));
}

async fn create_with_ttl(s: &EtcdStore, key: &str, secs: u64) {
    match s
        .create(key, b("v"), Some(Duration::from_secs(secs)))
        .await
        .expect("create")
    {
        CreateOutcome::Created(_) => {}
        other => panic!("create {key}: {other:?}"),
    }
}

/// The index of the member that is the raft leader.
async fn leader(cluster: &EtcdCluster) -> usize {
    for i in 0..cluster.len() {
        let mut raw = etcd_client::Client::connect([cluster.member_endpoint(i)], None)
            .await
            .expect("raw client");
        let status = raw.status().await.expect("status");
        if status.header().map(|h| h.member_id()) == Some(status.leader()) {
            return i;
        }
    }
    panic!("no member is the leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_keeps_serving_and_watching_while_members_die() {
    let mut cluster = EtcdCluster::start(3).await.expect("start etcd");
    let s = connect(cluster.endpoints(), Duration::from_secs(15)).await;
    let mut w = s.watch("/ha/", 0).await.expect("watch");
    let mut acked = Vec::new();
    let mut n = 0;
    // Kill every member in turn, the leader last, so that the one serving the watch dies too;
    // write and read while each is down.
    let leader = leader(&cluster).await;
    let victims = (0..3).filter(|&i| i != leader).chain([leader]);
    for victim in victims {
        cluster.kill_member(victim);
        for _ in 0..10 {
            let key = format!("/ha/{n:03}");
            let created = create(&s, &key, b("0")).await;
            let updated = match s.update(&key, b("1"), created, None).await.expect("update") {
                UpdateOutcome::Updated(rev) => rev,
                other => panic!("update {key}: {other:?}"),
            };
            let kv = s.get(&key, 0).await.expect("get").expect("present");
            assert_eq!((kv.value, kv.mod_revision), (b("1"), updated));
            acked.extend([created, updated]);
            n += 1;
        }
        assert_eq!(s.count("/ha/").await.expect("count"), n);
        cluster.restart_member(victim).await.expect("restart");
    }
    let events = next_events(&mut w, acked.len(), 20).await;
    let revs: Vec<Revision> = events.iter().map(WatchEvent::revision).collect();
    assert_eq!(revs, acked, "every acknowledged write once, in order");
    assert!(events.iter().all(|e| e.kind == WatchEventKind::Put));
    no_more_events(&mut w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_unavailable_until_etcd_is_back() {
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let nowhere = format!("http://{}", free.local_addr().expect("addr"));
    drop(free);
    let s = connect(vec![nowhere.clone()], Duration::from_secs(1)).await;
    let started = Instant::now();
    let err = s.get("/a", 0).await.expect_err("nothing listens");
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&nowhere),
        "names the endpoint: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A member that goes away and comes back on the same port.
    let mut cluster = EtcdCluster::start(1).await.expect("start etcd");
    let endpoint = cluster.member_endpoint(0);
    let s = connect(vec![endpoint.clone()], Duration::from_secs(1)).await;
    let patient = connect(vec![endpoint.clone()], Duration::from_secs(20)).await;
    create(&s, "/u/a", b("a")).await;
    let mut w = patient.watch("/u/", 0).await.expect("watch");
    cluster.kill_member(0);
    let started = Instant::now();
    let errors = [
        s.get("/u/a", 0).await.err(),
        s.create("/u/b", b("b"), None).await.err(),
        s.delete("/u/a", None).await.err(),
        s.watch("/u/", 0).await.err(),
    ];
    for err in errors {
        match err {
            Some(e @ StoreError::Unavailable { .. }) => {
                assert!(e.to_string().contains(&endpoint), "names the endpoint: {e}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    cluster.restart_member(0).await.expect("restart");
    assert_eq!(
        s.get("/u/a", 0).await.expect("get").map(|kv| kv.value),
        Some(b("a"))
    );
    assert_eq!(
        s.get("/u/b", 0).await.expect("get"),
        None,
        "the failed create wrote nothing"
    );
    let rev = create(&s, "/u/c", b("c")).await;
    // The watch opened before the outage resumed without losing or repeating anything.
    let events = next_events(&mut w, 1, 10).await;
    assert_eq!(
        (events[0].kv.key.as_str(), events[0].revision()),
        ("/u/c", rev)
    );
    no_more_events(&mut w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_that_stop_reading_hold_up_nobody() {
    const N: usize = 1500; // more than a watch buffers
    let cluster = EtcdCluster::start(1).await.expect("start etcd");
    let s = connect(cluster.endpoints(), Duration::from_secs(10)).await;
    // Three stalled streams could hold more HTTP/2 window (2 MiB each) than the connection has
    // (5 MiB) if their unread data stayed on it.
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(s.watch("/s/", 0).await.expect("watch"));
    }
    let mut fast = s.watch("/s/", 0).await.expect("watch");
    let value = Bytes::from(vec![b'v'; 8 * 1024]); // 12 MB in all
    let mut acked: Vec<Revision> = futures::stream::iter(0..N)
        .map(|i| {
            let (s, value) = (s.clone(), value.clone());
            async move { create(&s, &format!("/s/{i:04}"), value).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    acked.sort_unstable();
    let fast_revs: Vec<Revision> = next_events(&mut fast, N, 20)
        .await
        .iter()
        .map(WatchEvent::revision)
        .collect();
    assert_eq!(fast_revs, acked);
    // Requests still flow while the slow watchers have read nothing.
    assert_eq!(s.count("/s/").await.expect("count"), N as i64);
    for w in &mut slow {
        let events = next_events(w, N, 20).await;
        let revs: Vec<Revision> = events.iter().map(WatchEvent::revision).collect();
        assert_eq!(
            revs, acked,
            "a slow watcher catches up from history, no gaps or repeats"
        );
        assert!(events.iter().all(|e| e.kv.value == value));
        no_more_events(w).await;
    }
}
