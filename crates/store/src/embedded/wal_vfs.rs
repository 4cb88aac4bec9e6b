//! A SQLite VFS for the writer's connection that hands the WAL's writes of a transaction to the
//! kernel in one `pwrite` when the commit syncs.
//!
//! SQLite writes each WAL frame as two `pwrite`s (its 24-byte header, then the page): a commit
//! of 7 pages is 14 system calls before its `fsync`. On this VM, 12 such calls cost ~7× the CPU
//! of one call writing the same 25 KiB (~60 µs against ~8 µs). The frames of a transaction are appended at consecutive
//! offsets, so this layer gathers them in memory and writes them at once before anything
//! could look at the file: the sync that makes the commit durable, a read, a size query, a
//! truncation, a file control, a lock change, or the close. Other files (the database, the
//! shared-memory index) pass straight through to the default VFS.
//!
//! Why this is safe: SQLite publishes new frames to readers (the wal-index header) only after
//! the commit's sync, and with `synchronous = FULL` every commit syncs, so no reader (the
//! checkpointer or a reader connection, each with its own file handle) can ask for a frame still
//! held here. A write that is not contiguous with what is held (the WAL restarting at offset
//! 0) first writes out what is held, so the order of writes to the file is kept.

#![allow(unsafe_code)]

use rusqlite::ffi;
use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Most bytes held, and so handed on in one write: the default VFS's write takes at most
/// 128 KiB − 1 bytes per call (it masks larger sizes, and reports the short write as a full
/// disk). A commit of a few pages fits many times over; a larger one becomes 128 KiB writes.
const MAX_HELD: usize = 0x1ffff;

/// The name the writer's connection opens its file with.
pub(crate) const NAME: &str = "rkube-wal-gather";

/// How many writes were gathered and how many `pwrite`s they became, per registered VFS.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Writes SQLite asked for on a WAL file.
    pub gathered: AtomicU64,
    /// Writes handed to the default VFS for them.
    pub flushes: AtomicU64,
}

/// The VFS as SQLite sees it (`base` first), with what our callbacks need after it.
#[repr(C)]
struct GatherVfs {
    base: ffi::sqlite3_vfs,
    /// The default VFS every call ends in.
    inner: *mut ffi::sqlite3_vfs,
    counts: &'static Counts,
}

/// An open file as SQLite sees it (`base` first); the default VFS's file follows it in the
/// same allocation.
#[repr(C)]
struct GatherFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// Set for WAL files only.
    held: *mut Held,
    counts: &'static Counts,
}

/// Bytes written to a WAL file and not yet handed on: `bytes` belong at offset `start`.
struct Held {
    start: i64,
    bytes: Vec<u8>,
}

/// Registers the VFS under `name` (once per name per process) and returns its counters.
/// `None` if SQLite has no default VFS or refuses the registration.
pub(crate) fn register(name: &str) -> Option<&'static Counts> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static REGISTERED: Mutex<Option<HashMap<String, &'static Counts>>> = Mutex::new(None);
    let mut registered = REGISTERED.lock().unwrap_or_else(|p| p.into_inner());
    let registered = registered.get_or_insert_with(HashMap::new);
    if let Some(counts) = registered.get(name) {
        return Some(counts);
    }
    // SAFETY: sqlite3_vfs_find with NULL returns the default VFS (or NULL), which lives for
    // the whole process; we only read it and copy its fields.
    let inner = unsafe { ffi::sqlite3_vfs_find(ptr::null()) };
    if inner.is_null() {
        return None;
    }
    let counts: &'static Counts = Box::leak(Box::default());
    let zname: &'static CStr = Box::leak(CString::new(name).ok()?.into_boxed_c_str());
    // SAFETY: `inner` is valid (above). The copy keeps every field of the default VFS (its
    // app data, path length, the helpers that take a VFS pointer only to reach those), and
    // replaces the name, the file size and the open call. Leaked: SQLite keeps the pointer.
    let vfs = unsafe {
        let mut base = *inner;
        base.pNext = ptr::null_mut();
        base.zName = zname.as_ptr();
        base.szOsFile = (*inner).szOsFile + std::mem::size_of::<GatherFile>() as c_int;
        base.xOpen = Some(open);
        Box::leak(Box::new(GatherVfs {
            base,
            inner,
            counts,
        }))
    };
    // SAFETY: `vfs` is leaked, so it outlives every connection that uses it.
    let rc = unsafe { ffi::sqlite3_vfs_register(&mut vfs.base, 0) };
    if rc != ffi::SQLITE_OK {
        return None;
    }
    registered.insert(name.to_string(), counts);
    Some(counts)
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY (whole function): SQLite hands us our own VFS and an allocation of `szOsFile`
    // bytes for `file`, which we split into our header and the default VFS's file after it.
    unsafe {
        let vfs = vfs.cast::<GatherVfs>();
        let me = file.cast::<GatherFile>();
        let real = file
            .cast::<u8>()
            .add(std::mem::size_of::<GatherFile>())
            .cast::<ffi::sqlite3_file>();
        (*me).base.pMethods = ptr::null();
        let Some(inner_open) = (*(*vfs).inner).xOpen else {
            return ffi::SQLITE_ERROR;
        };
        (*real).pMethods = ptr::null();
        let rc = inner_open((*vfs).inner, name, real, flags, out_flags);
        // SQLite closes a file whose methods are set even when its open failed: ours are set
        // exactly when the default VFS's are, so its close is reached.
        if (*real).pMethods.is_null() {
            return rc;
        }
        let held = if rc == ffi::SQLITE_OK && flags & ffi::SQLITE_OPEN_WAL != 0 {
            Box::into_raw(Box::new(Held {
                start: 0,
                bytes: Vec::new(),
            }))
        } else {
            ptr::null_mut()
        };
        ptr::write(
            me,
            GatherFile {
                base: ffi::sqlite3_file { pMethods: &METHODS },
                real,
                held,
                counts: (*vfs).counts,
            },
        );
        rc
    }
}

/// Our header of `file`. SAFETY: `file` must be a file opened by [`open`].
unsafe fn me<'a>(file: *mut ffi::sqlite3_file) -> &'a mut GatherFile {
    unsafe { &mut *file.cast::<GatherFile>() }
}

/// The default VFS's methods for the file under ours.
unsafe fn real_methods<'a>(me: &GatherFile) -> &'a ffi::sqlite3_io_methods {
    // SAFETY: `real` was opened successfully, so its methods are set.
    unsafe { &*(*me.real).pMethods }
}

/// Hands what `me` holds to the default VFS in one write.
unsafe fn flush(me: &mut GatherFile) -> c_int {
    if me.held.is_null() {
        return ffi::SQLITE_OK;
    }
    // SAFETY: `held` is ours until close; `real` is open.
    unsafe {
        let held = &mut *me.held;
        if held.bytes.is_empty() {
            return ffi::SQLITE_OK;
        }
        me.counts.flushes.fetch_add(1, Ordering::Relaxed);
        let Some(real_write) = real_methods(me).xWrite else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        // A failed write is SQLite's to report (its commit fails); the bytes are not kept.
        let rc = real_write(
            me.real,
            held.bytes.as_ptr().cast(),
            held.bytes.len() as c_int,
            held.start,
        );
        held.bytes.clear();
        rc
    }
}

/// Flushes, then runs `then` unless the flush failed.
unsafe fn flushed(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(&mut GatherFile) -> c_int,
) -> c_int {
    // SAFETY: callers pass files opened by `open`.
    unsafe {
        let me = me(file);
        let rc = flush(me);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        then(me)
    }
}

/// Calls the default VFS's method `$m` on the real file, or answers `$missing` if it has none.
macro_rules! real {
    ($me:expr, $m:ident, $missing:expr $(, $arg:expr)*) => {
        match real_methods($me).$m {
            Some(f) => f($me.real $(, $arg)*),
            None => $missing,
        }
    };
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes each file it opened once; `held` is freed here only.
    unsafe {
        let me = me(file);
        let flushed = flush(me);
        if !me.held.is_null() {
            drop(Box::from_raw(me.held));
            me.held = ptr::null_mut();
        }
        let rc = real!(me, xClose, ffi::SQLITE_OK);
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            rc
        }
    }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        flushed(file, |me| {
            real!(me, xRead, ffi::SQLITE_IOERR_READ, buf, amount, offset)
        })
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    // SAFETY: SQLite passes `amount` readable bytes at `buf`.
    unsafe {
        let me = me(file);
        if me.held.is_null() || amount <= 0 {
            return real!(me, xWrite, ffi::SQLITE_IOERR_WRITE, buf, amount, offset);
        }
        me.counts.gathered.fetch_add(1, Ordering::Relaxed);
        let held = &mut *me.held;
        let contiguous = held.start + held.bytes.len() as i64 == offset;
        if !held.bytes.is_empty() && (!contiguous || held.bytes.len() + amount as usize > MAX_HELD)
        {
            let rc = flush(me);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if amount as usize > MAX_HELD {
            return real!(me, xWrite, ffi::SQLITE_IOERR_WRITE, buf, amount, offset);
        }
        let held = &mut *me.held;
        if held.bytes.is_empty() {
            held.start = offset;
        }
        held.bytes.extend_from_slice(std::slice::from_raw_parts(
            buf.cast::<u8>(),
            amount as usize,
        ));
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    unsafe {
        flushed(file, |me| {
            real!(me, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size)
        })
    }
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe { flushed(file, |me| real!(me, xSync, ffi::SQLITE_IOERR_FSYNC, flags)) }
}

unsafe extern "C" fn file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    unsafe {
        flushed(file, |me| {
            real!(me, xFileSize, ffi::SQLITE_IOERR_FSTAT, size)
        })
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe { flushed(file, |me| real!(me, xLock, ffi::SQLITE_IOERR_LOCK, level)) }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        flushed(file, |me| {
            real!(me, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
        })
    }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    unsafe {
        flushed(file, |me| {
            real!(
                me,
                xCheckReservedLock,
                ffi::SQLITE_IOERR_CHECKRESERVEDLOCK,
                out
            )
        })
    }
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    unsafe {
        flushed(file, |me| {
            real!(me, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
        })
    }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe { real!(me(file), xSectorSize, 4096) }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe { real!(me(file), xDeviceCharacteristics, 0) }
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    page_size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    unsafe {
        real!(
            me(file),
            xShmMap,
            ffi::SQLITE_IOERR_SHMMAP,
            page,
            page_size,
            extend,
            out
        )
    }
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    unsafe {
        real!(
            me(file),
            xShmLock,
            ffi::SQLITE_IOERR_SHMLOCK,
            offset,
            n,
            flags
        )
    }
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    unsafe { real!(me(file), xShmBarrier, ()) }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    unsafe { real!(me(file), xShmUnmap, ffi::SQLITE_OK, delete) }
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    amount: c_int,
    out: *mut *mut c_void,
) -> c_int {
    unsafe {
        flushed(file, |me| match real_methods(me).xFetch {
            Some(f) => f(me.real, offset, amount, out),
            None => {
                *out = ptr::null_mut();
                ffi::SQLITE_OK
            }
        })
    }
}

unsafe extern "C" fn unfetch(
    file: *mut ffi::sqlite3_file,
    offset: ffi::sqlite3_int64,
    p: *mut c_void,
) -> c_int {
    unsafe { real!(me(file), xUnfetch, ffi::SQLITE_OK, offset, p) }
}

#[cfg(test)]
#[path = "wal_vfs_tests.rs"]
mod tests;
