//! The SQLite file: opening it with the pragmas that make it durable and self-maintaining,
//! creating the schema, and refusing files that are not (or no longer) a valid store.
//!
//! Layout (a log, as kine's, but without the duplicated old value): every write is one row in
//! `log`, keyed by its revision. A delete is a tombstone row. `prev_rev` points at the key's
//! previous live row so watch events can carry the previous value. The key index carries
//! `deleted` so that a range read decides which rows are visible from the index alone and
//! reads the table only for the rows it returns (3× faster over a history of 4 versions).

use crate::StoreError;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::io::Read;
use std::path::Path;

/// Bumped when the layout changes incompatibly.
const SCHEMA_VERSION: i64 = 1;

const CREATE_SCHEMA: &str = "
CREATE TABLE log (
    rev        INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL,
    create_rev INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    deleted    INTEGER NOT NULL,
    value      BLOB    NOT NULL,
    prev_rev   INTEGER NOT NULL,
    expires_at INTEGER
);
CREATE INDEX log_key_rev_deleted ON log(key, rev, deleted);
CREATE INDEX log_expiry ON log(expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// What `meta` holds when a store is opened.
pub(crate) struct Meta {
    pub revision: i64,
    pub compacted: i64,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Applies the per-connection settings: WAL (readers never block the writer), fsync on every
/// commit, a bounded WAL file, and a busy timeout in case a reader holds a lock briefly.
fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| corrupt(path, e.to_string()))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| corrupt(path, format!("not a usable SQLite database: {e}")))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(corrupt(
            path,
            format!("cannot switch to WAL mode (got {mode})"),
        ));
    }
    // SQLite (bundled, with STAT4) would otherwise re-plan a statement whenever its bound
    // values change, which costs more than the queries themselves: our statements have one
    // good plan whatever the values.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // FULL: every commit syncs its WAL. The writer's gathering VFS (`wal_vfs`) relies on it:
    // the sync is where its held frames reach the file, before readers can see them.
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 2000;
         PRAGMA cache_size = -32768;",
    )?;
    Ok(())
}

/// Opens (creating if absent) the store file for the writer, checks it and reads `meta`.
pub(crate) fn open_writer(path: &Path) -> Result<(Connection, Meta), StoreError> {
    let existed = path.exists();
    if existed {
        check_header(path)?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // The writer's WAL writes go through the gathering VFS (one write per commit); without it
    // (SQLite refused the registration) the default VFS does the same job with more calls.
    let conn = match super::wal_vfs::register(super::wal_vfs::NAME) {
        Some(_) => Connection::open_with_flags_and_vfs(path, flags, super::wal_vfs::NAME),
        None => {
            tracing::warn!("cannot register the WAL-gathering VFS; using SQLite's default");
            Connection::open_with_flags(path, flags)
        }
    }
    .map_err(|e| corrupt(path, format!("cannot open: {e}")))?;
    if !existed {
        // Must precede the first table: lets compaction hand freed pages back to the OS.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    }
    configure(&conn, path)?;
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| corrupt(path, format!("unreadable: {e}")))?;
    if !has_meta {
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(corrupt(
                path,
                "is a SQLite database but not an rkube store; point --data-dir elsewhere",
            ));
        }
        conn.execute_batch(CREATE_SCHEMA)?;
        conn.execute(
            "INSERT INTO meta(name, value) VALUES ('schema', ?1), ('compacted', 0)",
            [SCHEMA_VERSION],
        )?;
    } else {
        integrity_check(&conn, path)?;
        upgrade_key_index(&conn)?;
    }
    let get = |name: &str| -> Result<i64, StoreError> {
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| corrupt(path, e.to_string()))?
        .ok_or_else(|| corrupt(path, format!("meta entry '{name}' is missing")))
    };
    let schema = get("schema")?;
    if schema != SCHEMA_VERSION {
        return Err(corrupt(
            path,
            format!("schema version {schema}, this rkube reads version {SCHEMA_VERSION}"),
        ));
    }
    // Compaction only removes rows below the compacted revision, which is at most the current
    // one, so the newest row always survives and its revision is the store's revision.
    let meta = Meta {
        revision: conn.query_row("SELECT coalesce(max(rev), 0) FROM log", [], |r| r.get(0))?,
        compacted: get("compacted")?,
    };
    if meta.compacted > meta.revision {
        return Err(corrupt(
            path,
            format!(
                "compacted revision {} is beyond the last revision {}; rows are missing",
                meta.compacted, meta.revision
            ),
        ));
    }
    Ok((conn, meta))
}

/// Stores written before the key index carried `deleted` get the new index (once: a few
/// seconds per million rows) in place of the old one; the file stays readable by either.
fn upgrade_key_index(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "BEGIN;
         CREATE INDEX IF NOT EXISTS log_key_rev_deleted ON log(key, rev, deleted);
         DROP INDEX IF EXISTS log_key_rev;
         COMMIT;",
    )?;
    Ok(())
}

/// Opens a second connection to the existing store file, configured as the writer's.
fn open_existing(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| corrupt(path, format!("cannot open: {e}")))?;
    configure(&conn, path)?;
    Ok(conn)
}

/// Opens the connection WAL checkpoints run on: it writes the database file (the checkpoint)
/// but never starts a transaction of its own.
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    open_existing(path)
}

/// Opens a read-only connection for queries.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = open_existing(path)?;
    conn.execute_batch("PRAGMA query_only = ON;")?;
    Ok(conn)
}

/// A file that is not SQLite at all (or truncated below its header) is refused by name before
/// SQLite gets to treat it as something else.
fn check_header(path: &Path) -> Result<(), StoreError> {
    let mut header = [0u8; 100];
    let mut file = std::fs::File::open(path).map_err(|e| corrupt(path, e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| corrupt(path, e.to_string()))?
        .len();
    if len == 0 {
        return Ok(()); // an empty file is a database not yet written
    }
    file.read_exact(&mut header).map_err(|_| {
        corrupt(
            path,
            format!(
                "truncated: {len} bytes, shorter than a SQLite header; restore it from a backup"
            ),
        )
    })?;
    if &header[..16] != b"SQLite format 3\0" {
        return Err(corrupt(
            path,
            "not a SQLite database (bad header); restore it from a backup or move it away",
        ));
    }
    let page_size = match u32::from(u16::from_be_bytes([header[16], header[17]])) {
        1 => 65536,
        n => n,
    };
    let pages = u32::from_be_bytes([header[28], header[29], header[30], header[31]]);
    let expected = u64::from(page_size) * u64::from(pages);
    // The header's page count is only trusted when valid-for matches the change counter,
    // and when no WAL is pending: with one, a checkpoint may be copying pages in (page 1,
    // with the new count, goes first — a server that was just stopped may still be closing
    // its connection), and SQLite reads what the file lacks from the WAL. The structural
    // check after opening still catches real damage.
    let valid_for = header[92..96] == header[24..28];
    if valid_for && pages > 0 && len < expected && !wal_pending(path) {
        return Err(corrupt(
            path,
            format!(
                "truncated: {len} bytes but the header promises {expected}; restore it from a backup"
            ),
        ));
    }
    Ok(())
}

/// Whether a non-empty write-ahead log lies beside the database file.
fn wal_pending(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|m| m.len() > 0)
}

/// Runs SQLite's structural check; a damaged file is refused rather than half-read.
fn integrity_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare("PRAGMA quick_check")
        .map_err(|e| corrupt(path, e.to_string()))?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| corrupt(path, format!("damaged: {e}; restore it from a backup")))?;
    if problems.len() != 1 || problems[0] != "ok" {
        let first: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        return Err(corrupt(
            path,
            format!("damaged ({}); restore it from a backup", first.join("; ")),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite header promising 12 pages of 4096 bytes, in a file of one page.
    fn short_file(dir: &Path) -> std::path::PathBuf {
        let mut page = vec![0u8; 4096];
        page[..16].copy_from_slice(b"SQLite format 3\0");
        page[16..18].copy_from_slice(&4096u16.to_be_bytes());
        page[24..28].copy_from_slice(&7u32.to_be_bytes());
        page[28..32].copy_from_slice(&12u32.to_be_bytes());
        page[92..96].copy_from_slice(&7u32.to_be_bytes());
        let path = dir.join("state.db");
        std::fs::write(&path, page).unwrap();
        path
    }

    #[test]
    fn a_short_file_is_refused_unless_a_wal_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = short_file(dir.path());
        let err = check_header(&path).unwrap_err();
        assert!(err.to_string().contains("header promises 49152"), "{err}");
        std::fs::write(dir.path().join("state.db-wal"), b"").unwrap();
        assert!(check_header(&path).is_err(), "an empty WAL holds nothing");
        std::fs::write(dir.path().join("state.db-wal"), [1u8; 32]).unwrap();
        check_header(&path).expect("a checkpoint may still be filling the file in");
    }
}
