//! Watches over the store, with upstream's semantics: optional initial state as ADDED events,
//! selectors applied to both the old and the new object (an object leaving the selector is
//! DELETED for that watcher, one entering it ADDED), bookmarks, and `410 Expired` when the
//! requested revision is compacted.

use super::{Filter, ListOptions, Registry, decode_at, list_prefix, parse_resource_version};
use futures::StreamExt;
use futures::stream::BoxStream;
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use rkube_store::{Revision, StoreError, WatchEventKind};
use serde_json::Value;
use std::time::Duration;

/// One item of a watch stream.
#[derive(Debug)]
pub enum WatchItem {
    /// `ADDED`.
    Added(Value),
    /// `MODIFIED`.
    Modified(Value),
    /// `DELETED`.
    Deleted(Value),
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
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `allowWatchBookmarks`.
    pub allow_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// How often to send a bookmark when allowed.
    pub bookmark_interval: Option<Duration>,
}

/// Default interval between bookmarks (upstream sends one about every minute).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

impl Registry {
    /// Starts a watch of a namespace's objects (or all of them).
    pub async fn watch(
        &self,
        info: &ResourceInfo,
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
        let start = if send_initial {
            let list = self
                .list(
                    info,
                    namespace,
                    &ListOptions {
                        filter: opts.filter.clone(),
                        ..Default::default()
                    },
                )
                .await?;
            initial = list.items.into_iter().map(WatchItem::Added).collect();
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
        let events = match self.store.watch(&prefix, start + 1).await {
            Ok(events) => events,
            Err(StoreError::Compacted { compacted, .. }) => {
                let err =
                    ApiError::expired(format!("too old resource version: {start} ({compacted})"));
                return Ok(futures::stream::iter([WatchItem::Error(err)]).boxed());
            }
            Err(e) => return Err(super::store_error(e)),
        };
        let filter = opts.filter.clone();
        let changes = events
            .map(move |event| match event {
                Err(StoreError::Compacted {
                    requested,
                    compacted,
                }) => {
                    vec![WatchItem::Error(ApiError::expired(format!(
                        "too old resource version: {} ({compacted})",
                        requested - 1
                    )))]
                }
                Err(e) => vec![WatchItem::Error(super::store_error(e))],
                Ok(event) => translate(event, filter.as_ref()),
            })
            .flat_map(futures::stream::iter);
        let bookmarks = opts.allow_bookmarks;
        let interval = opts.bookmark_interval.unwrap_or(BOOKMARK_INTERVAL);
        Ok(futures::stream::iter(initial)
            .chain(with_bookmarks(changes.boxed(), start, bookmarks, interval))
            .boxed())
    }
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
            match (old.as_ref().map(matches), matches(&new)) {
                (None | Some(false), true) => WatchItem::Added(new),
                (Some(true), true) => WatchItem::Modified(new),
                (Some(true), false) => WatchItem::Deleted(new),
                (_, false) => return Vec::new(),
            }
        }
        WatchEventKind::Delete => match old {
            Some(mut old) if matches(&old) => {
                super::meta::set_meta(
                    &mut old,
                    "resourceVersion",
                    Some(revision.to_string().into()),
                );
                WatchItem::Deleted(old)
            }
            _ => return Vec::new(),
        },
    };
    vec![item]
}

/// Passes `changes` through; when bookmarks are allowed, adds one after each quiet interval
/// with the revision of the last change seen (every change up to it has been sent).
fn with_bookmarks(
    changes: BoxStream<'static, WatchItem>,
    start: Revision,
    enabled: bool,
    interval: Duration,
) -> BoxStream<'static, WatchItem> {
    if !enabled {
        return changes;
    }
    futures::stream::unfold(
        (changes, start),
        move |(mut changes, mut last)| async move {
            match tokio::time::timeout(interval, changes.next()).await {
                Ok(Some(item)) => {
                    if let WatchItem::Added(o) | WatchItem::Modified(o) | WatchItem::Deleted(o) =
                        &item
                        && let Some(rv) = o["metadata"]["resourceVersion"]
                            .as_str()
                            .and_then(|r| r.parse().ok())
                    {
                        last = rv;
                    }
                    Some((item, (changes, last)))
                }
                Ok(None) => None,
                Err(_) => Some((
                    WatchItem::Bookmark {
                        revision: last,
                        initial_events_end: false,
                    },
                    (changes, last),
                )),
            }
        },
    )
    .boxed()
}
