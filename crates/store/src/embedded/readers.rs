//! Read queries on a small pool of read-only connections (WAL lets them run beside the writer).

use super::rows::{LatestRow, events_between, kv_from_row, latest_row};
use super::schema::open_reader;
use crate::{KeyValue, Revision, StoreError, WatchEvent, prefix_end};
use rusqlite::{Connection, params};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 8;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A key in the latest row of its key as of `?3`, live, within `[?1, ?2)`.
const VISIBLE: &str = "l.key < ?2 AND l.rev <= ?3 AND l.deleted = 0
    AND NOT EXISTS (SELECT 1 FROM log n WHERE n.key = l.key AND n.rev > l.rev AND n.rev <= ?3)";

impl Readers {
    pub fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a pooled connection off the async threads.
    pub async fn with<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                Some(c) => c,
                None => open_reader(&this.path)?,
            };
            let out = f(&conn);
            let mut idle = this.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Engine(format!("read task failed: {e}")))?
    }
}

pub(crate) fn get(
    conn: &Connection,
    key: &str,
    at: Revision,
) -> Result<Option<KeyValue>, StoreError> {
    Ok(latest_row(conn, key, at)?.and_then(LatestRow::live))
}

/// Up to `limit` (0 = all) live keys under `prefix` after `start_after`, as of `at`, plus
/// whether more follow.
pub(crate) fn range(
    conn: &Connection,
    prefix: &str,
    start_after: Option<&str>,
    limit: i64,
    at: Revision,
) -> Result<(Vec<KeyValue>, bool), StoreError> {
    let (op, low) = match start_after {
        Some(after) if after >= prefix => (">", after),
        _ => (">=", prefix),
    };
    let sql = format!(
        "SELECT l.rev, l.key, l.create_rev, l.version, l.value FROM log l
         WHERE l.key {op} ?1 AND {VISIBLE} ORDER BY l.key LIMIT ?4"
    );
    let fetch = if limit > 0 { limit + 1 } else { -1 };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut kvs: Vec<KeyValue> = stmt
        .query_map(params![low, prefix_end(prefix), at, fetch], kv_from_row)?
        .collect::<Result<_, _>>()?;
    let more = limit > 0 && kvs.len() as i64 > limit;
    if more {
        kvs.truncate(limit as usize);
    }
    Ok((kvs, more))
}

/// Live keys under `prefix` as of `at`.
pub(crate) fn count(conn: &Connection, prefix: &str, at: Revision) -> Result<i64, StoreError> {
    let sql = format!("SELECT count(*) FROM log l WHERE l.key >= ?1 AND {VISIBLE}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![prefix, prefix_end(prefix), at], |r| r.get(0))?)
}

/// Events in `[from, to]` (see [`events_between`]).
pub(crate) fn events(
    conn: &Connection,
    from: Revision,
    to: Revision,
) -> Result<Vec<WatchEvent>, StoreError> {
    Ok(events_between(conn, from, to)?)
}
