//! The embedded backend: one SQLite file under the data dir, the single-machine default.
//!
//! - Durable: a write is acknowledged after its transaction is fsynced (WAL, `synchronous=FULL`).
//! - Group commit: one writer thread commits everything queued meanwhile in one transaction.
//!   Its WAL writes reach the kernel as one write per commit (`wal_vfs`).
//! - Self-maintaining: compaction is swept in small steps between writes, freed pages are
//!   reused (and handed back when the free list is large), the WAL is truncated after each
//!   compaction. No VACUUM, defrag or restart is ever needed.
//! - Watches read from an in-memory ring of recent events, falling back to the file.

mod checkpointer;
mod count_memo;
mod expiry;
mod hub;
mod metrics;
mod readers;
mod rows;
mod schema;
mod shared;
mod wal_vfs;
mod watcher;
mod writer;

use crate::key::validate_prefix;
use crate::{
    CreateOutcome, DeleteOutcome, KeyValue, RangeRequest, RangeResponse, Revision, Store,
    StoreError, UpdateOutcome, WatchProgress, WatchStream, validate_key, validate_ttl,
    validate_value,
};
use async_trait::async_trait;
use bytes::Bytes;
use count_memo::CountMemo;
use expiry::Clock;
use metrics::StoreMetrics;
use readers::Readers;
use shared::Shared;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use writer::{Job, Writer};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "state.db";

/// How an [`EmbeddedStore`] is opened.
#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// Directory holding the database file (created if missing).
    pub dir: PathBuf,
    /// How often expired keys are looked for.
    pub expiry_interval: Duration,
}

impl EmbeddedOptions {
    /// Defaults for a data directory.
    pub fn new(dir: impl Into<PathBuf>) -> EmbeddedOptions {
        EmbeddedOptions {
            dir: dir.into(),
            expiry_interval: Duration::from_millis(500),
        }
    }
}

/// The embedded SQLite store. Cheap to share behind an `Arc`; dropping the last handle stops
/// its writer after the queued writes are committed.
pub struct EmbeddedStore {
    path: PathBuf,
    jobs: Sender<Job>,
    shared: Arc<Shared>,
    readers: Arc<Readers>,
    counts: CountMemo,
    latest: watch::Receiver<Revision>,
    clock: Clock,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    sweeper: tokio::task::JoinHandle<()>,
    metrics: StoreMetrics,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `options.dir`. A file that is not a valid store is
    /// refused with [`StoreError::Corrupt`] naming it. Must run inside a tokio runtime.
    pub async fn open(options: EmbeddedOptions) -> Result<EmbeddedStore, StoreError> {
        let dir = options.dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::Corrupt {
            path: dir.display().to_string(),
            reason: format!("cannot create the data directory: {e}"),
        })?;
        let path = dir.join(DB_FILE);
        let open_path = path.clone();
        let (conn, meta) = tokio::task::spawn_blocking(move || schema::open_writer(&open_path))
            .await
            .map_err(|e| StoreError::Engine(format!("open task failed: {e}")))??;
        let shared = Arc::new(Shared {
            current: AtomicI64::new(meta.revision),
            compacted: AtomicI64::new(meta.compacted),
            hub: hub::Hub::new(meta.revision),
        });
        let (latest_tx, latest) = watch::channel(meta.revision);
        let metrics = StoreMetrics::default();
        let writer = Writer::new(
            conn,
            path.clone(),
            Arc::clone(&shared),
            latest_tx,
            metrics.clone(),
        )?;
        let (jobs, rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("rkube-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Engine(format!("cannot start the writer thread: {e}")))?;
        let readers = Arc::new(Readers::new(path.clone()));
        let clock = Clock::new();
        let sweeper = tokio::spawn(expiry::sweep_forever(
            Arc::clone(&readers),
            jobs.clone(),
            clock,
            options.expiry_interval,
        ));
        Ok(EmbeddedStore {
            path,
            jobs,
            shared,
            readers,
            counts: CountMemo::default(),
            latest,
            clock,
            writer: Mutex::new(Some(handle)),
            sweeper,
            metrics,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes on disk: the database file plus its WAL.
    pub fn disk_usage(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(&self.path) + size(Path::new(&wal))
    }

    /// Stops the store: commits what is queued, checkpoints the WAL, and waits for the writer.
    /// Writes submitted afterwards fail with [`StoreError::Closed`].
    async fn stop_writer(&self) {
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.sweeper.abort();
        let _ = self.jobs.send(Job::Close);
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(make(tx)).map_err(|_| StoreError::Closed)?;
        // A dropped reply means the batch it was in failed before reaching this job, or the
        // store was closed while the job was queued.
        rx.await.map_err(|_| {
            if self
                .writer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none()
            {
                StoreError::Closed
            } else {
                StoreError::Engine("write aborted with its batch".into())
            }
        })?
    }

    /// A watcher task from `start_revision` (0: after now), reporting how far it has got
    /// when `with_progress`.
    fn open_watch(
        &self,
        prefix: &str,
        start_revision: Revision,
        with_progress: bool,
    ) -> Result<(WatchStream, WatchProgress), StoreError> {
        validate_prefix(prefix)?;
        let next = if start_revision <= 0 {
            self.shared.current.load(Ordering::Acquire) + 1
        } else {
            self.shared.check_not_compacted(start_revision)?;
            start_revision
        };
        let (sender, progress) = if with_progress {
            let (tx, rx) = WatchProgress::channel(next - 1);
            (Some(tx), rx)
        } else {
            (None, WatchProgress::unknown())
        };
        let stream = watcher::spawn(
            Arc::clone(&self.shared),
            Arc::clone(&self.readers),
            self.latest.clone(),
            prefix.to_string(),
            next,
            sender,
        );
        Ok((stream, progress))
    }

    fn expires_at(&self, key: &str, ttl: Option<Duration>) -> Result<Option<i64>, StoreError> {
        Ok(validate_ttl(key, ttl)?.map(|secs| self.clock.now_ms() + secs * 1000))
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.shared.current.load(Ordering::Acquire))
    }

    async fn get(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>, StoreError> {
        validate_key(key)?;
        let at = self.shared.resolve(revision)?;
        let key = key.to_string();
        let kv = self
            .readers
            .with(move |c| readers::get(c, &key, at))
            .await?;
        self.shared.check_not_compacted(at)?;
        Ok(kv)
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        validate_prefix(&req.prefix)?;
        let at = self.shared.resolve(req.revision)?;
        let counted = self.counts.get(&req.prefix, at);
        let prefix = req.prefix.clone();
        let (kvs, more, count) = self
            .readers
            .with(move |c| {
                let (kvs, more) =
                    readers::range(c, &req.prefix, req.start_after.as_deref(), req.limit, at)?;
                // A listing from the start that returned everything has counted already;
                // counting again would scan the prefix a second time.
                let count = match counted {
                    Some(n) => n,
                    None if req.start_after.is_none() && !more => kvs.len() as i64,
                    None => readers::count(c, &req.prefix, at)?,
                };
                Ok((kvs, more, count))
            })
            .await?;
        self.shared.check_not_compacted(at)?;
        if more {
            self.counts.put(&prefix, at, count);
        }
        Ok(RangeResponse {
            kvs,
            more,
            count,
            revision: at,
        })
    }

    async fn count(&self, prefix: &str) -> Result<i64, StoreError> {
        validate_prefix(prefix)?;
        let at = self.shared.resolve(0)?;
        let prefix = prefix.to_string();
        self.readers
            .with(move |c| readers::count(c, &prefix, at))
            .await
    }

    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<CreateOutcome, StoreError> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let expires_at = self.expires_at(key, ttl)?;
        let key = key.to_string();
        self.submit(|reply| Job::Create {
            key,
            value,
            expires_at,
            reply,
        })
        .await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        ttl: Option<Duration>,
    ) -> Result<UpdateOutcome, StoreError> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let expires_at = self.expires_at(key, ttl)?;
        let key = key.to_string();
        self.submit(|reply| Job::Update {
            key,
            value,
            expected: expected_mod_revision,
            expires_at,
            reply,
        })
        .await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<DeleteOutcome, StoreError> {
        validate_key(key)?;
        let key = key.to_string();
        self.submit(|reply| Job::Delete {
            key,
            expected: expected_mod_revision,
            reply,
        })
        .await
    }

    async fn watch(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        Ok(self.open_watch(prefix, start_revision, false)?.0)
    }

    async fn watch_with_progress(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<(WatchStream, WatchProgress), StoreError> {
        self.open_watch(prefix, start_revision, true)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.submit(|reply| Job::Compact { revision, reply }).await
    }

    async fn close(&self) {
        self.stop_writer().await;
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.shared.compacted.load(Ordering::Acquire))
    }

    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.metrics.register(registry);
    }
}
