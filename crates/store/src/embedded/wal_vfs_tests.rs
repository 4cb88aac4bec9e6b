//! The gathering VFS against SQLite itself: what it writes must read back through the default
//! VFS exactly as if it had not been there, while the commit's frames become one write.

use super::{Counts, register};
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;
use std::sync::atomic::Ordering;

/// A connection through the VFS registered as `vfs`, set up as the store's writer is.
fn open_gathering(path: &Path, vfs: &str) -> (Connection, &'static Counts) {
    let counts = register(vfs).expect("register");
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        vfs,
    )
    .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
    )
    .unwrap();
    (conn, counts)
}

/// Every row of `t` through SQLite's default VFS, with the database checked first.
fn rows_read_plainly(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut stmt = conn.prepare("SELECT k, v FROM t ORDER BY k").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn value(k: i64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (k as usize * 31 + i) as u8).collect()
}

#[test]
fn a_commit_of_many_frames_is_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (mut conn, counts) = open_gathering(&path, "rkube-test-gather-commit");
    let (gathered0, flushes0) = (
        counts.gathered.load(Ordering::Relaxed),
        counts.flushes.load(Ordering::Relaxed),
    );
    const COMMITS: i64 = 20;
    for c in 0..COMMITS {
        let tx = conn.transaction().unwrap();
        for k in c * 5..c * 5 + 5 {
            // About a page each: every commit writes several frames.
            tx.execute("INSERT INTO t VALUES (?1, ?2)", params![k, value(k, 3000)])
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let gathered = counts.gathered.load(Ordering::Relaxed) - gathered0;
    let flushes = counts.flushes.load(Ordering::Relaxed) - flushes0;
    // Two writes per frame (header, page), at least 5 frames per commit.
    assert!(gathered >= COMMITS as u64 * 10, "gathered {gathered}");
    assert!(
        flushes <= COMMITS as u64 + 1,
        "{flushes} writes for {COMMITS} commits"
    );
    // A reader on the default VFS, while the writer is open, sees every commit in the WAL.
    let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let (n, bytes): (i64, i64) = reader
        .query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, bytes), (COMMITS * 5, COMMITS * 5 * 3000));
    drop(reader);
    drop(conn);
    let rows = rows_read_plainly(&path);
    assert_eq!(rows.len(), COMMITS as usize * 5);
    for (k, v) in rows {
        assert_eq!(v, value(k, 3000), "row {k}");
    }
}

#[test]
fn a_transaction_larger_than_one_write_is_split() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (conn, counts) = open_gathering(&path, "rkube-test-gather-large");
    let flushes0 = counts.flushes.load(Ordering::Relaxed);
    // 1.5 MiB in one transaction: ~380 frames, more than one write can carry.
    conn.execute("INSERT INTO t VALUES (1, ?1)", [value(1, 1_500_000)])
        .unwrap();
    let flushes = counts.flushes.load(Ordering::Relaxed) - flushes0;
    assert!(flushes >= 12, "{flushes} writes for ~1.5 MiB");
    drop(conn);
    assert_eq!(rows_read_plainly(&path), vec![(1, value(1, 1_500_000))]);
}

#[test]
fn frames_rewritten_within_a_transaction_keep_their_order() {
    // A page cache of a few pages makes SQLite spill frames mid-transaction and later write
    // the same pages again, at earlier offsets of the WAL: the file must end up as the last
    // writes left it, and the writer must read back what it spilled.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (mut conn, _) = open_gathering(&path, "rkube-test-gather-spill");
    conn.execute_batch("PRAGMA cache_size = 4;").unwrap();
    let tx = conn.transaction().unwrap();
    for round in 0..4i64 {
        for k in 0..60i64 {
            tx.execute(
                "INSERT OR REPLACE INTO t VALUES (?1, ?2)",
                params![k, value(k + round, 900)],
            )
            .unwrap();
        }
        let sum: i64 = tx
            .query_row("SELECT sum(length(v)) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, 60 * 900);
    }
    tx.commit().unwrap();
    drop(conn);
    let rows = rows_read_plainly(&path);
    assert_eq!(rows.len(), 60);
    for (k, v) in rows {
        assert_eq!(v, value(k + 3, 900), "row {k}");
    }
}

#[test]
fn registering_twice_gives_the_same_counts() {
    let a = register("rkube-test-gather-twice").unwrap();
    let b = register("rkube-test-gather-twice").unwrap();
    assert!(std::ptr::eq(a, b));
}

/// Drives a WAL file through the VFS's own calls, as SQLite would, and returns what the
/// writes left in the file.
#[allow(unsafe_code)]
fn write_through_vfs(dir: &Path, vfs: &str, writes: &[(i64, &[u8])]) -> Vec<u8> {
    use rusqlite::ffi;
    register(vfs).unwrap();
    // The default VFS takes a WAL file's permissions from its database file.
    std::fs::write(dir.join("db"), b"").unwrap();
    let wal = dir.join("db-wal");
    // SQLite's file names end in two NULs (URI parameters may follow the first).
    let mut name = wal.to_str().unwrap().as_bytes().to_vec();
    name.extend_from_slice(&[0, 0, 0, 0]);
    let cname = std::ffi::CString::new(vfs).unwrap();
    // SAFETY: the VFS is registered; the file buffer has the VFS's `szOsFile` bytes (8-aligned)
    // and is closed before it is freed; every buffer passed outlives its call.
    unsafe {
        let v = ffi::sqlite3_vfs_find(cname.as_ptr());
        assert!(!v.is_null());
        let mut file = vec![0u64; ((*v).szOsFile as usize).div_ceil(8)];
        let f = file.as_mut_ptr().cast::<ffi::sqlite3_file>();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_WAL;
        let mut out = 0;
        let rc = (*v).xOpen.unwrap()(v, name.as_ptr().cast(), f, flags, &mut out);
        assert_eq!(rc, ffi::SQLITE_OK);
        let m = &*(*f).pMethods;
        for (offset, bytes) in writes {
            let rc = m.xWrite.unwrap()(f, bytes.as_ptr().cast(), bytes.len() as i32, *offset);
            assert_eq!(rc, ffi::SQLITE_OK);
        }
        assert_eq!(m.xSync.unwrap()(f, ffi::SQLITE_SYNC_NORMAL), ffi::SQLITE_OK);
        assert_eq!(m.xClose.unwrap()(f), ffi::SQLITE_OK);
    }
    std::fs::read(&wal).unwrap()
}

#[test]
fn writes_out_of_sequence_land_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let got = write_through_vfs(
        dir.path(),
        "rkube-test-gather-order",
        &[
            (0, b"aaaa"),
            (4, b"bbbb"),
            // Back over the first write while it is still held: it must land after it.
            (2, b"XX"),
            (6, b"cc"),
            // A gap, then a write into it.
            (12, b"dd"),
            (8, b"eeee"),
        ],
    );
    assert_eq!(got, b"aaXXbbcceeeedd");
}
