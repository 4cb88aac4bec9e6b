//! Watches: one etcd watch stream per store watch, pumped by a task into a bounded buffer.
//!
//! - The task remembers the next revision it owes the reader. When the etcd stream breaks (its
//!   member died, lost the leader, the connection dropped) it opens a new one from that
//!   revision, on whichever member answers, so the reader sees neither gaps nor duplicates. It
//!   gives up with [`StoreError::Unavailable`] when no new stream stays up for the request
//!   timeout.
//! - A reader that falls [`BUFFER`] events behind does not hold etcd's stream open: unread
//!   data would hold HTTP/2 flow-control window that other watches and requests on the same
//!   connection need. The task drops the stream, waits for the reader to drain half the buffer
//!   and resumes from history, like etcd's own "unsynced" watchers. If that history was
//!   compacted meanwhile, the reader gets [`StoreError::Compacted`].
//! - A response reporting compaction ends the stream with [`StoreError::Compacted`].
//! - With progress asked for ([`crate::Store::watch_with_progress`]), a request from the reader
//!   becomes an etcd progress request on the stream; etcd answers (once the watch is synced)
//!   with an empty response carrying its current revision, which becomes the covered revision,
//!   as do the revisions of delivered events.

use super::Shared;
use super::call::Retry;
use super::convert::key_value;
use crate::key::validate_prefix;
use crate::progress::{ProgressRequests, ProgressSender, advance};
use crate::{
    KeyValue, Revision, StoreError, WatchEvent, WatchEventKind, WatchProgress, WatchStream,
    prefix_end,
};
use bytes::Bytes;
use etcd_client::{EventType, WatchOptions};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

/// Events buffered per watch before the reader counts as behind.
const BUFFER: usize = 1024;
/// A stream that stayed up this long before breaking counts as having worked.
const STABLE_AFTER: Duration = Duration::from_secs(1);
/// Pause before reopening a stream that broke.
const REOPEN_DELAY: Duration = Duration::from_millis(50);

/// Starts a watch of `prefix` from `start` (0 or less: from the next write), reporting its
/// progress when asked to `with_progress`.
pub(super) async fn watch(
    shared: &Arc<Shared>,
    prefix: &str,
    start: Revision,
    with_progress: bool,
) -> Result<(WatchStream, WatchProgress), StoreError> {
    validate_prefix(prefix)?;
    let next = if start <= 0 {
        shared.current_revision().await? + 1
    } else {
        start
    };
    let (reporting, progress) = if with_progress {
        let (covered, requests, progress) = WatchProgress::on_request(next - 1);
        (Some(Reporting { covered, requests }), progress)
    } else {
        (None, WatchProgress::unknown())
    };
    let pump = Pump {
        shared: shared.clone(),
        prefix: prefix.to_string(),
        end: prefix_end(prefix),
        next,
        reporting,
    };
    // Open the first stream here, so that an unreachable cluster fails the call itself.
    let stream = pump.open().await?;
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(pump.run(stream, tx));
    Ok((ReceiverStream::new(rx).boxed(), progress))
}

/// The pump's side of a [`WatchProgress`].
struct Reporting {
    covered: ProgressSender,
    requests: ProgressRequests,
}

impl Reporting {
    fn covered(&self, revision: Revision) {
        advance(&self.covered, revision);
    }
}

/// What woke the pump.
enum Step {
    Message(Result<Option<etcd_client::WatchResponse>, etcd_client::Error>),
    ProgressRequested,
}

/// Moves events from etcd to one reader.
struct Pump {
    shared: Arc<Shared>,
    prefix: String,
    end: String,
    /// The first revision not yet handed to the reader.
    next: Revision,
    /// Progress reporting, when asked for.
    reporting: Option<Reporting>,
}

type Sender = mpsc::Sender<Result<WatchEvent, StoreError>>;

impl Pump {
    /// Opens an etcd watch from `self.next`, retrying until the request timeout.
    async fn open(&self) -> Result<etcd_client::WatchStream, StoreError> {
        let what = format!("watch {} from revision {}", self.prefix, self.next);
        let opts = WatchOptions::new()
            .with_range(self.end.clone())
            .with_prev_key()
            .with_start_revision(self.next);
        let client = &self.shared.client;
        client
            .call(&what, Retry::Idempotent, || {
                let mut watch = client.watch.clone();
                let opts = opts.clone();
                let key = self.prefix.clone();
                async move { watch.watch(key, Some(opts)).await }
            })
            .await
            .map(|answer| answer.value)
            .map_err(|f| f.into_store(client, &what))
    }

    async fn run(mut self, first: etcd_client::WatchStream, tx: Sender) {
        let mut stream = Some(first);
        let mut opened_at = Instant::now();
        // When the current run of failures started (None while streams work).
        let mut failing_since: Option<Instant> = None;
        loop {
            let Some(current) = stream.as_mut() else {
                let opened = tokio::select! {
                    _ = tx.closed() => return,
                    opened = self.open() => opened,
                };
                match opened {
                    Ok(s) => {
                        stream = Some(s);
                        opened_at = Instant::now();
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
                continue;
            };
            let requests = self.reporting.as_mut().map(|r| &mut r.requests);
            let step = tokio::select! {
                _ = tx.closed() => return,
                message = current.message() => Step::Message(message),
                Some(()) = async move {
                    match requests {
                        Some(r) => r.recv().await,
                        None => std::future::pending().await,
                    }
                } => Step::ProgressRequested,
            };
            let message = match step {
                Step::Message(message) => message,
                Step::ProgressRequested => {
                    // A failed request means a broken stream, which the next read reports.
                    let _ = current.request_progress().await;
                    continue;
                }
            };
            let broken = match message {
                Ok(Some(resp)) if resp.compact_revision() > 0 => {
                    self.shared.note_compacted(resp.compact_revision());
                    let err = StoreError::Compacted {
                        requested: self.next,
                        compacted: resp.compact_revision(),
                    };
                    let _ = tx.send(Err(err)).await;
                    return;
                }
                Ok(Some(resp)) if resp.canceled() => format!("canceled: {}", resp.cancel_reason()),
                Ok(Some(resp)) => {
                    if !resp.events().is_empty() {
                        failing_since = None;
                    }
                    if !self.deliver(resp.events(), &tx, &mut stream).await {
                        return; // the reader dropped the stream
                    }
                    self.report(&resp);
                    if stream.is_none() && !wait_for_room(&tx).await {
                        return;
                    }
                    continue;
                }
                Ok(None) => "stream ended".to_string(),
                Err(e) => super::errors::describe(&e),
            };
            // The stream broke: resume from `self.next` unless it has been failing too long.
            stream = None;
            let now = Instant::now();
            if now.duration_since(opened_at) >= STABLE_AFTER {
                failing_since = None;
            }
            let since = *failing_since.get_or_insert(now);
            let timeout = self.shared.client.request_timeout();
            if now.duration_since(since) >= timeout {
                let what = format!("watch {} at revision {}", self.prefix, self.next);
                let reason = format!("{broken} (no working stream for {timeout:?})");
                let _ = tx
                    .send(Err(self.shared.client.unavailable(&what, reason)))
                    .await;
                return;
            }
            tracing::debug!(prefix = %self.prefix, next = self.next, reason = %broken,
                "etcd watch stream broke; resuming");
            tokio::time::sleep(REOPEN_DELAY).await;
        }
    }

    /// Reports what a response shows to be covered: the delivered events' revisions, or for a
    /// progress notification (no events; not the creation's answer, which comes before the
    /// history is replayed) the store revision it carries.
    fn report(&self, resp: &etcd_client::WatchResponse) {
        let Some(reporting) = &self.reporting else {
            return;
        };
        if !resp.events().is_empty() {
            reporting.covered(self.next - 1);
        } else if !resp.created()
            && !resp.canceled()
            && let Some(header) = resp.header()
        {
            reporting.covered(header.revision());
        }
    }

    /// Hands one response's events to the reader and advances `self.next` past them. A
    /// response holds whole revisions, so resuming from `self.next` afterwards loses nothing.
    /// If the buffer is full, drops the etcd `stream` before waiting. False if the reader left.
    async fn deliver(
        &mut self,
        events: &[etcd_client::Event],
        tx: &Sender,
        stream: &mut Option<etcd_client::WatchStream>,
    ) -> bool {
        for event in events {
            let Some(event) = watch_event(event) else {
                continue;
            };
            let revision = event.revision();
            if revision < self.next {
                continue; // already delivered
            }
            match tx.try_send(Ok(event)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    *stream = None;
                    if tx.send(item).await.is_err() {
                        return false;
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
        // Past the last revision only now: the events of one revision share this response.
        if let Some(last) = events
            .iter()
            .filter_map(|e| e.kv())
            .map(|kv| kv.mod_revision())
            .max()
        {
            self.next = self.next.max(last + 1);
        }
        true
    }
}

/// Waits until the reader has drained half the buffer; false if it went away.
async fn wait_for_room(tx: &Sender) -> bool {
    match tx.reserve_many(BUFFER / 2).await {
        Ok(permits) => {
            drop(permits);
            true
        }
        Err(_) => false,
    }
}

/// An etcd event as a [`WatchEvent`] (None for an event without a key-value, which etcd does
/// not send).
fn watch_event(event: &etcd_client::Event) -> Option<WatchEvent> {
    let kv = event.kv()?;
    let prev = event.prev_kv().cloned().map(key_value);
    Some(match event.event_type() {
        EventType::Put => WatchEvent {
            kind: WatchEventKind::Put,
            kv: key_value(kv.clone()),
            prev,
        },
        EventType::Delete => WatchEvent {
            kind: WatchEventKind::Delete,
            kv: KeyValue {
                key: String::from_utf8_lossy(kv.key()).into_owned(),
                value: Bytes::new(),
                create_revision: 0,
                mod_revision: kv.mod_revision(),
                version: 0,
            },
            prev,
        },
    })
}
