//! The single writer thread: group commit and compaction.
//!
//! Every write goes through one thread that owns the SQLite write connection. It takes all the
//! jobs queued while the previous commit was syncing, runs them in one transaction, and commits
//! once, so one fsync acknowledges many writers. Compaction is recorded at once (reads below it
//! fail from then on) and then carried out in small steps between write batches, so a large
//! compaction never stalls writers.

use super::checkpointer::{CheckpointRequester, Checkpointer};
use super::metrics::{StoreMetrics, observe_since};
use super::rows::{LatestRow, delete_event, latest_row};
use super::shared::Shared;
use crate::{
    CreateOutcome, DeleteOutcome, KeyValue, Revision, StoreError, UpdateOutcome, WatchEvent,
    WatchEventKind,
};
use bytes::Bytes;
use rusqlite::{Connection, params};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;
use tokio::sync::oneshot;

/// Most jobs in one transaction.
const MAX_BATCH_JOBS: usize = 1024;
/// Most value bytes in one transaction (values can be 1.5 MiB each).
const MAX_BATCH_BYTES: usize = 32 << 20;
/// Rows examined per compaction step, one step between two write batches. Writes queued
/// meanwhile wait for it (up to 128 ms under the 150k-pod churn); smaller steps let the sweep
/// fall behind the next compaction under load (the churn test's file grew), and so did
/// 500-row steps run for 20 ms per batch (the churn test failed one run in five).
const COMPACTION_STEP: i64 = 2000;
/// Free pages given back to the OS per step after a compaction (1 MiB of 4 KiB pages): the
/// pages moved are written through the WAL, and the writes queued meanwhile wait for the step.
const RECLAIM_STEP: i64 = 256;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A request to the writer thread.
pub(crate) enum Job {
    Create {
        key: String,
        value: Bytes,
        expires_at: Option<i64>,
        reply: Reply<CreateOutcome>,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
        expires_at: Option<i64>,
        reply: Reply<UpdateOutcome>,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
        reply: Reply<DeleteOutcome>,
    },
    /// Deletes `key` if it is still at `revision` and its expiry is `<= now_ms`.
    Expire {
        key: String,
        revision: Revision,
        now_ms: i64,
    },
    Compact {
        revision: Revision,
        reply: Reply<()>,
    },
    /// Stop after the jobs queued before this one: checkpoint, then end the thread.
    Close,
}

impl Job {
    fn value_len(&self) -> usize {
        match self {
            Job::Create { value, .. } | Job::Update { value, .. } => value.len(),
            _ => 0,
        }
    }
}

/// A job's answer, held until the batch is durable.
enum Done {
    Create(Reply<CreateOutcome>, CreateOutcome),
    Update(Reply<UpdateOutcome>, UpdateOutcome),
    Delete(Reply<DeleteOutcome>, DeleteOutcome),
    Compact(Reply<()>, Result<(), StoreError>),
    Nothing,
}

impl Done {
    fn send(self) {
        // A caller that gave up waiting is not an error: its write is committed either way.
        match self {
            Done::Create(r, o) => drop(r.send(Ok(o))),
            Done::Update(r, o) => drop(r.send(Ok(o))),
            Done::Delete(r, o) => drop(r.send(Ok(o))),
            Done::Compact(r, o) => drop(r.send(o)),
            Done::Nothing => {}
        }
    }

    fn fail(self, err: &StoreError) {
        fn e<T>(err: &StoreError) -> Result<T, StoreError> {
            Err(StoreError::Engine(err.to_string()))
        }
        match self {
            Done::Create(r, _) => drop(r.send(e(err))),
            Done::Update(r, _) => drop(r.send(e(err))),
            Done::Delete(r, _) => drop(r.send(e(err))),
            Done::Compact(r, _) => drop(r.send(e(err))),
            Done::Nothing => {}
        }
    }
}

/// Physical compaction still to do: rows in `[next, target)` superseded at `target`.
struct PendingCompaction {
    next: Revision,
    target: Revision,
}

pub(crate) struct Writer {
    conn: Connection,
    path: PathBuf,
    shared: Arc<Shared>,
    latest: tokio::sync::watch::Sender<Revision>,
    pending: Option<PendingCompaction>,
    /// Free pages still to give back to the OS after the last compaction's sweep.
    reclaim: Option<i64>,
    metrics: StoreMetrics,
    /// Runs the WAL checkpoints the commits ask for, beside this thread.
    checkpointer: Option<Checkpointer>,
    /// The writer's handle on it (another sits in the commit hook).
    checkpoints: Option<CheckpointRequester>,
}

impl Writer {
    pub fn new(
        mut conn: Connection,
        path: PathBuf,
        shared: Arc<Shared>,
        latest: tokio::sync::watch::Sender<Revision>,
        metrics: StoreMetrics,
    ) -> Result<Writer, StoreError> {
        // The hook replaces SQLite's automatic checkpoint, which would run inside a commit.
        let (checkpointer, requester) = Checkpointer::start(&path, metrics.clone())?;
        let checkpoints = requester.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            requester.after_commit(pages);
            Ok(())
        }))?;
        // An earlier run may have recorded a compaction it did not finish sweeping: sweep
        // again (one pass over the rows below it: at most the live keys once it is done).
        let compacted = shared.compacted.load(Ordering::Acquire);
        let pending = (compacted > 0).then_some(PendingCompaction {
            next: 0,
            target: compacted,
        });
        Ok(Writer {
            conn,
            path,
            shared,
            latest,
            pending,
            reclaim: None,
            metrics,
            checkpointer: Some(checkpointer),
            checkpoints: Some(checkpoints),
        })
    }

    /// Whether compaction work waits to be done between batches.
    fn compacting(&self) -> bool {
        self.pending.is_some() || self.reclaim.is_some()
    }

    /// Serves jobs until every sender is gone or a [`Job::Close`] arrives.
    pub fn run(mut self, jobs: Receiver<Job>) {
        let mut closing = false;
        while !closing {
            let first = if self.compacting() {
                match jobs.try_recv() {
                    Ok(job) => Some(job),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                match jobs.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                }
            };
            if let Some(first) = first {
                let mut bytes = 0;
                let mut batch = Vec::new();
                let mut next = Some(first);
                while let Some(job) = next.take() {
                    if matches!(job, Job::Close) {
                        closing = true;
                        break;
                    }
                    bytes += job.value_len();
                    batch.push(job);
                    if batch.len() < MAX_BATCH_JOBS && bytes < MAX_BATCH_BYTES {
                        next = jobs.try_recv().ok();
                    }
                }
                if !batch.is_empty() {
                    self.run_batch(batch);
                }
            }
            if closing {
                break;
            }
            if let Some(c) = &self.checkpoints {
                c.finish(&self.conn, &self.metrics);
            }
            self.compaction_tick();
        }
        // The checkpoint thread ends once its requesters (ours and the hook's) are gone.
        self.checkpoints = None;
        if let Err(e) = self
            .conn
            .wal_hook(None::<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>>)
        {
            tracing::warn!(error = %e, "cannot remove the WAL hook");
        }
        drop(self.checkpointer.take());
        // Leave a small file behind: fold the WAL into the database on a clean shutdown.
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!(error = %e, "final checkpoint failed");
        }
    }

    fn run_batch(&mut self, batch: Vec<Job>) {
        let started = Instant::now();
        self.metrics.batch_jobs.observe(batch.len() as f64);
        let mut rev = self.shared.current.load(Ordering::Acquire);
        let mut compact_to = None;
        let mut done = Vec::with_capacity(batch.len());
        let mut events = Vec::new();
        let result = (|| -> Result<(), StoreError> {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            for job in batch {
                let d = self.apply(job, &mut rev, &mut events, &mut compact_to)?;
                done.push(d);
            }
            if let Some(c) = compact_to {
                self.conn
                    .prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'compacted'")?
                    .execute([c])?;
            }
            self.conn.execute_batch("COMMIT")?;
            Ok(())
        })();
        observe_since(&self.metrics.commit, started);
        match result {
            Ok(()) => {
                if let Some(target) = compact_to {
                    self.shared.compacted.store(target, Ordering::Release);
                    self.pending = Some(PendingCompaction { next: 0, target });
                }
                // Ring first, then the revision: whoever sees the revision finds its events.
                let wrote = !events.is_empty();
                self.shared.hub.publish(events);
                self.shared.current.store(rev, Ordering::Release);
                if wrote {
                    self.latest.send_replace(rev);
                }
                done.into_iter().for_each(Done::send);
            }
            Err(err) => {
                tracing::error!(path = %self.path.display(), error = %err, "write batch failed; rolled back");
                let _ = self.conn.execute_batch("ROLLBACK");
                done.into_iter().for_each(|d| d.fail(&err));
            }
        }
    }

    /// Runs one job inside the open transaction. Errors abort the whole batch.
    fn apply(
        &mut self,
        job: Job,
        rev: &mut Revision,
        events: &mut Vec<WatchEvent>,
        compact_to: &mut Option<Revision>,
    ) -> Result<Done, StoreError> {
        // On an engine error the reply must still be answered: hand the job back to fail it.
        match job {
            Job::Create {
                key,
                value,
                expires_at,
                reply,
            } => match self.live(&key, *rev) {
                Ok(Some(existing)) => {
                    Ok(Done::Create(reply, CreateOutcome::AlreadyExists(existing)))
                }
                Ok(None) => match self.put(&key, value, None, expires_at, rev, events) {
                    Ok(new_rev) => Ok(Done::Create(reply, CreateOutcome::Created(new_rev))),
                    Err(e) => Err(fail_reply(reply, e)),
                },
                Err(e) => Err(fail_reply(reply, e)),
            },
            Job::Update {
                key,
                value,
                expected,
                expires_at,
                reply,
            } => match self.live(&key, *rev) {
                Ok(Some(current)) if current.mod_revision == expected => {
                    match self.put(&key, value, Some(current), expires_at, rev, events) {
                        Ok(new_rev) => Ok(Done::Update(reply, UpdateOutcome::Updated(new_rev))),
                        Err(e) => Err(fail_reply(reply, e)),
                    }
                }
                Ok(current) => Ok(Done::Update(reply, UpdateOutcome::Conflict(current))),
                Err(e) => Err(fail_reply(reply, e)),
            },
            Job::Delete {
                key,
                expected,
                reply,
            } => match self.live(&key, *rev) {
                Ok(None) => Ok(Done::Delete(reply, DeleteOutcome::NotFound)),
                Ok(Some(current)) if expected.is_some_and(|e| e != current.mod_revision) => {
                    Ok(Done::Delete(reply, DeleteOutcome::Conflict(current)))
                }
                Ok(Some(current)) => match self.tombstone(current.clone(), rev, events) {
                    Ok(revision) => Ok(Done::Delete(
                        reply,
                        DeleteOutcome::Deleted {
                            revision,
                            prev: current,
                        },
                    )),
                    Err(e) => Err(fail_reply(reply, e)),
                },
                Err(e) => Err(fail_reply(reply, e)),
            },
            Job::Expire {
                key,
                revision,
                now_ms,
            } => {
                let row = latest_row(&self.conn, &key, *rev)?;
                if let Some(LatestRow {
                    kv,
                    deleted: false,
                    expires_at: Some(at),
                }) = row
                    && kv.mod_revision == revision
                    && at <= now_ms
                {
                    self.tombstone(kv, rev, events)?;
                }
                Ok(Done::Nothing)
            }
            // `run` stops at a Close before batching it; nothing to write either way.
            Job::Close => Ok(Done::Nothing),
            Job::Compact { revision, reply } => {
                let compacted = compact_to.unwrap_or(self.shared.compacted.load(Ordering::Acquire));
                let outcome = if revision > *rev {
                    Err(StoreError::FutureRevision {
                        requested: revision,
                        current: *rev,
                    })
                } else {
                    if revision > compacted {
                        *compact_to = Some(revision);
                    }
                    Ok(())
                };
                Ok(Done::Compact(reply, outcome))
            }
        }
    }

    fn live(&self, key: &str, at: Revision) -> Result<Option<KeyValue>, StoreError> {
        Ok(latest_row(&self.conn, key, at)?.and_then(LatestRow::live))
    }

    /// Appends a live row for `key`: a creation when `prev` is `None`.
    fn put(
        &mut self,
        key: &str,
        value: Bytes,
        prev: Option<KeyValue>,
        expires_at: Option<i64>,
        rev: &mut Revision,
        events: &mut Vec<WatchEvent>,
    ) -> Result<Revision, StoreError> {
        let new_rev = *rev + 1;
        let (create_rev, version, prev_rev) = match &prev {
            Some(p) => (p.create_revision, p.version + 1, p.mod_revision),
            None => (new_rev, 1, 0),
        };
        self.conn
            .prepare_cached(
                "INSERT INTO log(rev, key, create_rev, version, deleted, value, prev_rev, expires_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7)",
            )?
            .execute(params![new_rev, key, create_rev, version, &value[..], prev_rev, expires_at])?;
        *rev = new_rev;
        events.push(WatchEvent {
            kind: WatchEventKind::Put,
            kv: KeyValue {
                key: key.to_string(),
                value,
                create_revision: create_rev,
                mod_revision: new_rev,
                version,
            },
            prev,
        });
        Ok(new_rev)
    }

    /// Appends a tombstone for the live `current` row.
    fn tombstone(
        &mut self,
        current: KeyValue,
        rev: &mut Revision,
        events: &mut Vec<WatchEvent>,
    ) -> Result<Revision, StoreError> {
        let new_rev = *rev + 1;
        self.conn
            .prepare_cached(
                "INSERT INTO log(rev, key, create_rev, version, deleted, value, prev_rev, expires_at)
                 VALUES (?1, ?2, 0, 0, 1, x'', ?3, NULL)",
            )?
            .execute(params![new_rev, current.key, current.mod_revision])?;
        *rev = new_rev;
        events.push(delete_event(current.key.clone(), new_rev, Some(current)));
        Ok(new_rev)
    }

    /// One compaction step between two batches, timed as a sweep or a reclaim step.
    fn compaction_tick(&mut self) {
        if !self.compacting() {
            return;
        }
        let started = Instant::now();
        let sweeping = self.pending.is_some();
        let result = self.compaction_step();
        let series = if sweeping {
            &self.metrics.compaction_step
        } else {
            &self.metrics.reclaim_step
        };
        observe_since(series, started);
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "compaction step failed; will retry");
        }
    }

    /// Deletes one step of rows that no read at or after the compacted revision can see. Every
    /// row below the target is looked at, not just those since the previous compaction: a
    /// key's value that was live then may be superseded now.
    fn compaction_step(&mut self) -> Result<(), StoreError> {
        let Some(p) = &self.pending else {
            return self.reclaim_step();
        };
        let (from, target) = (p.next, p.target);
        let last: Option<Revision> = self
            .conn
            .prepare_cached(
                "SELECT max(rev) FROM (SELECT rev FROM log WHERE rev >= ?1 AND rev < ?2
                 ORDER BY rev LIMIT ?3)",
            )?
            .query_row(params![from, target, COMPACTION_STEP], |r| r.get(0))?;
        let Some(last) = last else {
            self.pending = None;
            self.reclaim = self.pages_to_reclaim()?;
            if self.reclaim.is_none() {
                self.reset_wal()?;
            }
            return Ok(());
        };
        self.conn
            .prepare_cached(
                "DELETE FROM log WHERE rev >= ?1 AND rev <= ?2 AND (deleted = 1 OR EXISTS (
                     SELECT 1 FROM log n WHERE n.key = log.key AND n.rev > log.rev AND n.rev <= ?3))",
            )?
            .execute(params![from, last, target])?;
        self.pending = Some(PendingCompaction {
            next: last + 1,
            target,
        });
        Ok(())
    }

    /// After a compaction's sweep: how many free pages to give back to the OS, if the free
    /// list is large, so the file never needs a manual VACUUM. About a tenth of the used pages
    /// stay free: the next churn cycle reuses them without growing the file.
    fn pages_to_reclaim(&self) -> Result<Option<i64>, StoreError> {
        let (free, total): (i64, i64) = self.conn.query_row(
            "SELECT (SELECT freelist_count FROM pragma_freelist_count),
                    (SELECT page_count FROM pragma_page_count)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let reserve = ((total - free) / 10).max(256);
        Ok((free > reserve && free * 4 > total).then_some(free - reserve))
    }

    /// Gives back one step of free pages. A step at a time, between batches: freeing them all
    /// at once moved hundreds of MB through the WAL while every write waited.
    fn reclaim_step(&mut self) -> Result<(), StoreError> {
        let Some(left) = self.reclaim else {
            return Ok(());
        };
        let step = left.min(RECLAIM_STEP);
        {
            // The pragma frees pages as it is stepped: it must be run to completion.
            let mut stmt = self
                .conn
                .prepare_cached(&format!("PRAGMA incremental_vacuum({step})"))?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        self.reclaim = Some(left - step).filter(|&l| l > 0);
        if self.reclaim.is_none() {
            self.reset_wal()?;
        }
        Ok(())
    }

    /// Folds the WAL into the database and empties it: after a compaction the WAL holds the
    /// sweep's and the reclaim's pages, which nothing needs any more. Cheap by then: the
    /// automatic checkpoints have copied all but the last few MB.
    fn reset_wal(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

fn fail_reply<T>(reply: Reply<T>, err: StoreError) -> StoreError {
    let _ = reply.send(Err(StoreError::Engine(err.to_string())));
    err
}
