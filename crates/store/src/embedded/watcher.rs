//! One task per watch: pulls events from its own position, from the in-memory ring when it can
//! and from the database when it has fallen behind, and pushes matching ones to its consumer.
//! Writers never wait on watchers; a slow consumer only delays itself.

use super::readers::{self, Readers};
use super::shared::Shared;
use crate::progress::{ProgressSender, advance};
use crate::{Revision, StoreError, WatchEvent, WatchStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

/// Events fetched per step.
const STEP: usize = 512;
/// Events buffered between a watcher task and its consumer.
const BUFFER: usize = 256;

pub(crate) fn spawn(
    shared: Arc<Shared>,
    readers: Arc<Readers>,
    latest: watch::Receiver<Revision>,
    prefix: String,
    next: Revision,
    progress: Option<ProgressSender>,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(run(shared, readers, latest, prefix, next, tx, progress));
    Box::pin(ReceiverStream::new(rx))
}

async fn run(
    shared: Arc<Shared>,
    readers: Arc<Readers>,
    mut latest: watch::Receiver<Revision>,
    prefix: String,
    mut next: Revision,
    tx: mpsc::Sender<Result<WatchEvent, StoreError>>,
    progress: Option<ProgressSender>,
) {
    loop {
        let current = shared.current.load(Ordering::Acquire);
        while next <= current {
            if let Err(e) = shared.check_not_compacted(next) {
                let _ = tx.send(Err(e)).await;
                return;
            }
            let batch = match shared.hub.read_from(next, STEP) {
                Some(batch) => batch,
                None => {
                    let (from, to) = (next, current.min(next + STEP as i64 - 1));
                    let read = readers.with(move |c| readers::events(c, from, to)).await;
                    // Compaction may have removed part of what was just read.
                    match read.and_then(|b| shared.check_not_compacted(next).map(|()| b)) {
                        Ok(batch) => batch,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    }
                }
            };
            let Some(last) = batch.last() else { break };
            next = last.revision() + 1;
            for event in batch {
                if event.kv.key.starts_with(&prefix) && tx.send(Ok(event)).await.is_err() {
                    return; // consumer gone
                }
            }
        }
        // Every event before `next` is in the channel now (or was not under the prefix).
        if let Some(progress) = &progress {
            advance(progress, next - 1);
        }
        tokio::select! {
            changed = latest.changed() => if changed.is_err() {
                return; // store closed
            },
            () = tx.closed() => return,
        }
    }
}
