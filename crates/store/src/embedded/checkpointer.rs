//! WAL checkpoints, mostly on their own thread and connection, beside the writer.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold: that
//! commit (and every write queued behind it) waits while megabytes of log are copied into the
//! database file and fsynced. Here a passive checkpoint on another connection copies the bulk
//! while the writer keeps appending. It can never finish on its own under steady writes (the
//! writer adds frames while it copies), and the log only restarts from its beginning once
//! every frame is copied: so when the background copy is done, the writer copies the few
//! frames committed meanwhile itself, between two batches.

use super::metrics::{StoreMetrics, observe_since};
use super::schema::open_checkpointer;
use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

/// Log pages after which a checkpoint is asked for (8 MiB of 4 KiB pages).
pub(crate) const CHECKPOINT_PAGES: i32 = 2000;
/// Most frames left for the writer to copy after the background passes.
const TAIL_PAGES: i64 = 256;
/// Most background passes per request (each copies what the writer added during the last).
const MAX_PASSES: usize = 8;
/// Least time between two background checkpoints: while a long read pins the log nothing can
/// be copied, and asking again after every commit would only spin.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// What the writer and the checkpoint thread tell each other.
#[derive(Default)]
struct State {
    /// A background checkpoint is queued or running: the writer asks once, not per commit.
    requested: AtomicBool,
    /// A background checkpoint finished: the writer copies the rest.
    copied: AtomicBool,
}

/// The checkpoint thread. Dropping it waits for the thread, which ends once its
/// [`CheckpointRequester`] is gone: drop that first.
pub(crate) struct Checkpointer {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`; the requester asks it for work.
    pub fn start(
        path: &Path,
        metrics: StoreMetrics,
    ) -> Result<(Checkpointer, CheckpointRequester), StoreError> {
        let conn = open_checkpointer(path)?;
        let (wake, rx) = sync_channel(1);
        let state = Arc::new(State::default());
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("rkube-store-checkpoint".into())
            .spawn(move || run(conn, rx, thread_state, metrics))
            .map_err(|e| StoreError::Engine(format!("cannot start the checkpoint thread: {e}")))?;
        let requester = CheckpointRequester { wake, state };
        Ok((
            Checkpointer {
                thread: Some(thread),
            },
            requester,
        ))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer's side: asks for background checkpoints and finishes them. The thread ends
/// once every clone is dropped.
#[derive(Clone)]
pub(crate) struct CheckpointRequester {
    wake: SyncSender<()>,
    state: Arc<State>,
}

impl CheckpointRequester {
    /// Called after every commit with the log's size in pages.
    pub fn after_commit(&self, wal_pages: i32) {
        if wal_pages < CHECKPOINT_PAGES || self.state.requested.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Err(TrySendError::Disconnected(())) = self.wake.try_send(()) {
            self.state.requested.store(false, Ordering::Release);
        }
    }

    /// Between batches, on the writer's connection: once a background checkpoint has copied
    /// the bulk, copies the frames committed since, so the next write restarts the log.
    pub fn finish(&self, conn: &Connection, metrics: &StoreMetrics) {
        if !self.state.copied.swap(false, Ordering::AcqRel) {
            return;
        }
        let started = Instant::now();
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry at the next request");
        }
        observe_since(&metrics.checkpoint_tail, started);
        // Only now may the next request come: it copies what this left.
        self.state.requested.store(false, Ordering::Release);
    }
}

fn run(conn: Connection, wake: Receiver<()>, state: Arc<State>, metrics: StoreMetrics) {
    while wake.recv().is_ok() {
        let started = Instant::now();
        copy_most(&conn, &metrics);
        state.copied.store(true, Ordering::Release);
        std::thread::sleep(MIN_INTERVAL.saturating_sub(started.elapsed()));
    }
}

/// Passive checkpoints (they copy what no reader still needs and never wait for the writer or
/// readers) until at most [`TAIL_PAGES`] frames are left for the writer, or a pass gets no
/// further (a reader holds the rest): the writer's own copy of the tail stays short.
fn copy_most(conn: &Connection, metrics: &StoreMetrics) {
    let mut copied_before = -1;
    for _ in 0..MAX_PASSES {
        let started = Instant::now();
        let pass = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        observe_since(&metrics.checkpoint, started);
        match pass {
            Ok((log, copied)) if log - copied > TAIL_PAGES && copied > copied_before => {
                copied_before = copied;
            }
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry at the next request");
                return;
            }
        }
    }
}
