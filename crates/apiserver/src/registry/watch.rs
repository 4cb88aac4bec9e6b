//! Watches over the store, with upstream's semantics: optional initial state as ADDED events,
//! selectors applied to both the old and the new object (an object leaving the selector is
//! DELETED for that watcher, one entering it ADDED), bookmarks, and `410 Expired` when the
//! requested revision is compacted.

use super::watch_cache::{CacheWatch, CachedEvent};
pub use super::watch_object::WatchObject;
use super::{Filter, ListOptions, Registry, decode_at, list_prefix, parse_resource_version};
use futures::StreamExt;
use futures::stream::BoxStream;
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use rkube_store::{Revision, StoreError, WatchEventKind};
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// One item of a watch stream.
#[derive(Debug)]
pub enum WatchItem {
    /// `ADDED`.
    Added(WatchObject),
    /// `MODIFIED`.
    Modified(WatchObject),
    /// `DELETED`.
    Deleted(WatchObject),
    /// `BOOKMARK` at a revision; `initial_events_end` marks the end of the initial state.
    Bookmark {
        /// The revision.
        revision: Revision,
        /// Whether this bookmark ends `sendInitialEvents`.
        initial_events_end: bool,
    },
    /// `ERROR`, after which the stream ends.
    Error(ApiError),
}

/// Options of a watch.
#[derive(Clone, Default)]
pub struct WatchOptions {
    /// Keeps only matching objects.
    pub filter: Option<Filter>,
    /// The value the field selector pins the resource's indexed field to
    /// ([`super::watch_index`]), if it does: the watch cache then offers the watch only
    /// the changes of objects with that value.
    pub index_value: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `allowWatchBookmarks`.
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// How often to send a bookmark when allowed.
    pub bookmark_interval: Option<Duration>,
    /// How long the watch will last (`timeoutSeconds`): a bookmark goes out shortly before.
    pub timeout: Option<Duration>,
}

/// Default interval between bookmarks (upstream sends one about every minute).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// How long before the end of a watch its last bookmark goes out (upstream's two seconds).
const BOOKMARK_BEFORE_TIMEOUT: Duration = Duration::from_secs(2);

impl Registry {
    /// Starts a watch of a namespace's objects (or all of them).
    pub async fn watch(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: WatchOptions,
    ) -> Result<BoxStream<'static, WatchItem>, ApiError> {
        let prefix = list_prefix(info, namespace);
        let rv = match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(rv) => Some(parse_resource_version(rv)?),
        };
        // Without a resource version (or with sendInitialEvents) the watch starts with the
        // current state as ADDED events.
        let send_initial = opts.send_initial_events.unwrap_or(rv.is_none());
        let mut initial = Vec::new();
        let started = Instant::now();
        let start = if send_initial {
            // The initial state is read at the latest revision, refusing a future one
            // (`resourceVersionMatch=NotOlderThan`, which `sendInitialEvents` requires).
            let list = self
                .list(
                    info,
                    namespace,
                    &ListOptions {
                        filter: opts.filter.clone(),
                        resource_version: opts.resource_version.clone(),
                        resource_version_match: Some("NotOlderThan".into()),
                        ..Default::default()
                    },
                )
                .await?;
            initial = list
                .items
                .into_iter()
                .map(|o| WatchItem::Added(WatchObject::new(o)))
                .collect();
            if opts.send_initial_events == Some(true) && opts.allow_bookmarks {
                initial.push(WatchItem::Bookmark {
                    revision: list.resource_version,
                    initial_events_end: true,
                });
            }
            list.resource_version
        } else {
            match rv {
                Some(rv) => rv,
                None => self
                    .store
                    .current_revision()
                    .await
                    .map_err(super::store_error)?,
            }
        };
        // A revision at the very top of the range has no successor to watch from.
        let Some(from) = start.checked_add(1) else {
            let current = self
                .store
                .current_revision()
                .await
                .map_err(super::store_error)?;
            return Err(ApiError::timeout(format!(
                "Too large resource version: {start}, current: {current}"
            )));
        };
        let filter = opts.filter.clone();
        let index = super::watch_index::indexed_field(info)
            .zip(opts.index_value.clone())
            .map(|((_, value_of), value)| (value_of, value));
        // One store watch per resource, shared: the cache, unless it no longer holds `from`.
        let cached = self
            .watch_cache
            .watch(&info.storage_prefix(), &prefix, from, index)
            .await
            .ok()
            .flatten();
        let changes = match cached {
            Some(watch) => Changes::Cache { watch, filter },
            None => match self.store_changes(&prefix, start, from, filter).await? {
                Ok(changes) => Changes::Store(changes),
                Err(expired) => return Ok(futures::stream::iter([expired]).boxed()),
            },
        };
        if !opts.allow_bookmarks {
            return Ok(futures::stream::iter(initial)
                .chain(
                    changes
                        .into_stream()
                        .flat_map(|c| futures::stream::iter(c.items)),
                )
                .boxed());
        }
        let schedule = BookmarkSchedule {
            interval: opts.bookmark_interval.unwrap_or(BOOKMARK_INTERVAL),
            end: opts.timeout.and_then(|t| started.checked_add(t)),
        };
        Ok(futures::stream::iter(initial)
            .chain(with_bookmarks(changes, start, schedule))
            .boxed())
    }
}

impl Registry {
    /// The changes under `prefix` from `from` on, read from the store directly; `Err` with
    /// the 410 item when that revision is compacted.
    async fn store_changes(
        &self,
        prefix: &str,
        start: Revision,
        from: Revision,
        filter: Option<Filter>,
    ) -> Result<Result<BoxStream<'static, Change>, WatchItem>, ApiError> {
        let events = match self.store.watch(prefix, from).await {
            Ok(events) => events,
            Err(StoreError::Compacted { compacted, .. }) => {
                let err =
                    ApiError::expired(format!("too old resource version: {start} ({compacted})"));
                return Ok(Err(WatchItem::Error(err)));
            }
            Err(e) => return Err(super::store_error(e)),
        };
        Ok(Ok(events
            .map(move |event| match event {
                Err(StoreError::Compacted {
                    requested,
                    compacted,
                }) => Change {
                    revision: None,
                    items: vec![WatchItem::Error(ApiError::expired(format!(
                        "too old resource version: {} ({compacted})",
                        requested - 1
                    )))],
                },
                Err(e) => Change {
                    revision: None,
                    items: vec![WatchItem::Error(super::store_error(e))],
                },
                Ok(event) => Change {
                    revision: Some(event.revision()),
                    items: translate(event, filter.as_ref()),
                },
            })
            .boxed()))
    }
}

/// The watch items a cached event means for a watcher with `filter` (the event was decoded
/// once for all watchers).
fn translate_cached(event: &CachedEvent, filter: Option<&Filter>) -> Vec<WatchItem> {
    if filter.is_none()
        && let Some((new, replaced)) = event.stored_put()
    {
        return vec![if replaced {
            WatchItem::Modified(new)
        } else {
            WatchItem::Added(new)
        }];
    }
    let matches = |obj: &Value| filter.is_none_or(|f| f(obj));
    let decoded = event.decoded();
    let old_matches = decoded.old.as_ref().map(|o| matches(o));
    let item = match (&decoded.new, &event.kind) {
        (Some(Ok(new)), WatchEventKind::Put) => match (old_matches, matches(new)) {
            (None | Some(false), true) => WatchItem::Added(new.clone()),
            (Some(true), true) => WatchItem::Modified(new.clone()),
            (Some(true), false) => WatchItem::Deleted(new.clone()),
            (_, false) => return Vec::new(),
        },
        (Some(Err(e)), _) => return vec![WatchItem::Error(ApiError::internal(e.clone()))],
        _ => match (&decoded.old, old_matches) {
            (Some(old), Some(true)) => WatchItem::Deleted(old.clone()),
            _ => return Vec::new(),
        },
    };
    vec![item]
}

/// The watch items one store event means for a watcher with `filter`.
fn translate(event: rkube_store::WatchEvent, filter: Option<&Filter>) -> Vec<WatchItem> {
    let matches = |obj: &Value| filter.is_none_or(|f| f(obj));
    let revision = event.revision();
    let old = event
        .prev
        .as_ref()
        .and_then(|p| decode_at(&p.value, p.mod_revision).ok());
    let item = match event.kind {
        WatchEventKind::Put => {
            let new = match decode_at(&event.kv.value, revision) {
                Ok(new) => new,
                Err(e) => return vec![WatchItem::Error(e)],
            };
            let item = match (old.as_ref().map(matches), matches(&new)) {
                (None | Some(false), true) => WatchItem::Added,
                (Some(true), true) => WatchItem::Modified,
                (Some(true), false) => WatchItem::Deleted,
                (_, false) => return Vec::new(),
            };
            item(WatchObject::new(new))
        }
        WatchEventKind::Delete => match old {
            Some(mut old) if matches(&old) => {
                super::meta::set_meta(
                    &mut old,
                    "resourceVersion",
                    Some(revision.to_string().into()),
                );
                WatchItem::Deleted(WatchObject::new(old))
            }
            _ => return Vec::new(),
        },
    };
    vec![item]
}

/// What one store event means for a watcher: its revision (none for an error) and the items
/// to send (none when the change is outside the watcher's selector).
struct Change {
    revision: Option<Revision>,
    items: Vec<WatchItem>,
}

/// Where a watch's changes come from.
enum Changes {
    /// The watch cache, through the watcher's selector.
    Cache {
        watch: CacheWatch,
        filter: Option<Filter>,
    },
    /// The store directly (a revision the cache no longer holds), already translated.
    Store(BoxStream<'static, Change>),
}

impl Changes {
    async fn next(&mut self) -> Option<Change> {
        match self {
            Changes::Store(changes) => changes.next().await,
            Changes::Cache { watch, filter } => {
                let e = watch.next().await?;
                Some(Change {
                    revision: Some(e.revision),
                    items: translate_cached(&e, filter.as_ref()),
                })
            }
        }
    }

    /// A revision the watcher is known to be up to date with beyond the changes it has
    /// been given (the cache's newest, when nothing more is queued for it).
    fn up_to_date(&self) -> Option<Revision> {
        match self {
            Changes::Store(_) => None,
            Changes::Cache { watch, .. } => watch.up_to_date(),
        }
    }

    fn into_stream(self) -> BoxStream<'static, Change> {
        futures::stream::unfold(self, |mut changes| async move {
            let change = changes.next().await?;
            Some((change, changes))
        })
        .boxed()
    }
}

/// When bookmarks go out: every `interval` from the start of the watch, and a last one
/// shortly before its `end`, as upstream's watch cache schedules them.
#[derive(Clone, Copy)]
struct BookmarkSchedule {
    interval: Duration,
    end: Option<Instant>,
}

impl BookmarkSchedule {
    /// The next bookmark after one at `now` (none once the watch is about to end).
    fn next(&self, now: Instant) -> Option<Instant> {
        let heartbeat = now + self.interval;
        let Some(end) = self.end else {
            return Some(heartbeat);
        };
        let before_end = end
            .checked_sub(BOOKMARK_BEFORE_TIMEOUT)
            .unwrap_or(end)
            .min(heartbeat);
        (before_end >= now).then_some(before_end)
    }
}

/// Passes the items of `changes` through, adding bookmarks on `schedule`. A bookmark carries
/// the revision of the last store event the watcher has been brought up to — including
/// events its selector filtered out or the cache did not offer it — and goes out only after
/// every item of that event, so it is never older than anything already sent.
fn with_bookmarks(
    changes: Changes,
    start: Revision,
    schedule: BookmarkSchedule,
) -> BoxStream<'static, WatchItem> {
    struct State {
        changes: Changes,
        last: Revision,
        pending: VecDeque<WatchItem>,
        next_bookmark: Option<Instant>,
    }
    let state = State {
        changes,
        last: start,
        pending: VecDeque::new(),
        next_bookmark: schedule.next(Instant::now()),
    };
    futures::stream::unfold(state, move |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            let next = match st.next_bookmark {
                Some(at) => match tokio::time::timeout_at(at, st.changes.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        st.next_bookmark = schedule.next(Instant::now());
                        if let Some(revision) = st.changes.up_to_date() {
                            st.last = st.last.max(revision);
                        }
                        let bookmark = WatchItem::Bookmark {
                            revision: st.last,
                            initial_events_end: false,
                        };
                        return Some((bookmark, st));
                    }
                },
                None => st.changes.next().await,
            };
            let change = next?;
            if let Some(revision) = change.revision {
                st.last = st.last.max(revision);
            }
            st.pending.extend(change.items);
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests;
