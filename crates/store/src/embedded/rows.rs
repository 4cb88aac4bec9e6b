//! Reading `log` rows into store values; shared by the writer, the readers and the watchers.

use crate::{KeyValue, Revision, WatchEvent, WatchEventKind};
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row};

/// The newest row of a key at or below a revision.
pub(crate) struct LatestRow {
    pub kv: KeyValue,
    pub deleted: bool,
    pub expires_at: Option<i64>,
}

impl LatestRow {
    /// The key's value if the row is a live one.
    pub fn live(self) -> Option<KeyValue> {
        (!self.deleted).then_some(self.kv)
    }
}

/// Maps the columns `rev, key, create_rev, version, value` to a [`KeyValue`].
pub(crate) fn kv_from_row(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        mod_revision: row.get(0)?,
        key: row.get(1)?,
        create_revision: row.get(2)?,
        version: row.get(3)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(4)?),
    })
}

/// The newest row of `key` with revision `<= at`.
pub(crate) fn latest_row(
    conn: &Connection,
    key: &str,
    at: Revision,
) -> rusqlite::Result<Option<LatestRow>> {
    conn.prepare_cached(
        "SELECT rev, key, create_rev, version, value, deleted, expires_at FROM log
         WHERE key = ?1 AND rev <= ?2 ORDER BY rev DESC LIMIT 1",
    )?
    .query_row(rusqlite::params![key, at], |row| {
        Ok(LatestRow {
            kv: kv_from_row(row)?,
            deleted: row.get::<_, i64>(5)? != 0,
            expires_at: row.get(6)?,
        })
    })
    .optional()
}

/// Watch events for revisions in `[from, to]`, in order, with previous values where still kept.
pub(crate) fn events_between(
    conn: &Connection,
    from: Revision,
    to: Revision,
) -> rusqlite::Result<Vec<WatchEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.rev, l.key, l.create_rev, l.version, l.value, l.deleted,
                p.rev, p.key, p.create_rev, p.version, p.value
         FROM log l LEFT JOIN log p ON p.rev = l.prev_rev AND l.prev_rev > 0
         WHERE l.rev >= ?1 AND l.rev <= ?2 ORDER BY l.rev",
    )?;
    let rows = stmt.query_map(rusqlite::params![from, to], |row| {
        let deleted = row.get::<_, i64>(5)? != 0;
        let prev = match row.get::<_, Option<i64>>(6)? {
            Some(prev_rev) => Some(KeyValue {
                mod_revision: prev_rev,
                key: row.get(7)?,
                create_revision: row.get(8)?,
                version: row.get(9)?,
                value: Bytes::from(row.get::<_, Vec<u8>>(10)?),
            }),
            None => None,
        };
        let kv = kv_from_row(row)?;
        Ok(if deleted {
            delete_event(kv.key, kv.mod_revision, prev)
        } else {
            WatchEvent {
                kind: WatchEventKind::Put,
                kv,
                prev,
            }
        })
    })?;
    rows.collect()
}

/// The event for a deletion of `key` at `revision`.
pub(crate) fn delete_event(key: String, revision: Revision, prev: Option<KeyValue>) -> WatchEvent {
    WatchEvent {
        kind: WatchEventKind::Delete,
        kv: KeyValue {
            key,
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: revision,
            version: 0,
        },
        prev,
    }
}
