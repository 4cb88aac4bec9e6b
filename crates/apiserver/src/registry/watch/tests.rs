use super::*;
use serde_json::json;

fn added(rv: Revision) -> WatchItem {
    WatchItem::Added(WatchObject::new(
        json!({"metadata": {"name": "a", "resourceVersion": rv.to_string()}}),
    ))
}

fn change(revision: Revision, items: Vec<WatchItem>) -> Change {
    Change {
        revision: Some(revision),
        items,
    }
}

fn describe(item: &WatchItem) -> String {
    match item {
        WatchItem::Added(o) => format!("ADDED {}", o["metadata"]["resourceVersion"]),
        WatchItem::Bookmark { revision, .. } => format!("BOOKMARK {revision}"),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_carry_the_last_revision_seen_including_filtered_events() {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    // Revision 6 matches the watcher; 7 and 9 are other objects its selector filters out.
    for c in [
        change(6, vec![added(6)]),
        change(7, Vec::new()),
        change(9, Vec::new()),
    ] {
        tx.unbounded_send(c).unwrap();
    }
    let schedule = BookmarkSchedule {
        interval: Duration::from_millis(50),
        end: None,
    };
    let mut items = with_bookmarks(Changes::Store(rx.boxed()), 5, schedule);
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(describe(&items.next().await.unwrap()));
    }
    assert_eq!(seen, ["ADDED \"6\"", "BOOKMARK 9"]);
    // Nothing new: the next bookmark repeats the revision, never goes back.
    assert_eq!(describe(&items.next().await.unwrap()), "BOOKMARK 9");
    tx.unbounded_send(change(12, vec![added(12)])).unwrap();
    assert_eq!(describe(&items.next().await.unwrap()), "ADDED \"12\"");
    assert_eq!(describe(&items.next().await.unwrap()), "BOOKMARK 12");
    drop(tx);
    assert!(items.next().await.is_none());
}

#[tokio::test]
async fn a_quiet_watch_bookmarks_its_start_revision() {
    let (_tx, rx) = futures::channel::mpsc::unbounded::<Change>();
    let schedule = BookmarkSchedule {
        interval: Duration::from_millis(10),
        end: None,
    };
    let mut items = with_bookmarks(Changes::Store(rx.boxed()), 41, schedule);
    assert_eq!(describe(&items.next().await.unwrap()), "BOOKMARK 41");
}

#[test]
fn bookmark_schedule_follows_upstream() {
    let now = Instant::now();
    let every_minute = BookmarkSchedule {
        interval: BOOKMARK_INTERVAL,
        end: None,
    };
    assert_eq!(every_minute.next(now), Some(now + BOOKMARK_INTERVAL));
    // A watch ending in 10 s gets its bookmark 2 s before the end.
    let short = BookmarkSchedule {
        interval: BOOKMARK_INTERVAL,
        end: Some(now + Duration::from_secs(10)),
    };
    assert_eq!(short.next(now), Some(now + Duration::from_secs(8)));
    // A long one gets the minute heartbeat first.
    let long = BookmarkSchedule {
        interval: BOOKMARK_INTERVAL,
        end: Some(now + Duration::from_secs(600)),
    };
    assert_eq!(long.next(now), Some(now + BOOKMARK_INTERVAL));
    // Less than 2 s left: no more bookmarks.
    let ending = BookmarkSchedule {
        interval: BOOKMARK_INTERVAL,
        end: Some(now + Duration::from_secs(1)),
    };
    assert_eq!(ending.next(now), None);
}
