//! How far a watch stream has got: what a cache built from the stream needs to know it is
//! current, as etcd's progress notifications tell the upstream apiserver's watch cache.

use crate::Revision;
use tokio::sync::{mpsc, watch};

/// The revision up to which a watch stream has handed over every event under its prefix
/// (events with revisions at or below it are in the stream, or were not under the prefix).
///
/// A consumer that reads [`WatchProgress::covered`] and then finds the stream empty has seen
/// every change up to that revision. Backends that cannot tell give [`WatchProgress::unknown`].
#[derive(Clone, Debug)]
pub struct WatchProgress {
    covered: Option<watch::Receiver<Revision>>,
    /// Asks a backend that reports only when asked (etcd's progress requests).
    ask: Option<mpsc::Sender<()>>,
}

/// The backend's side of a [`WatchProgress`].
pub(crate) type ProgressSender = watch::Sender<Revision>;

/// Moves a progress forward to `revision` (never back), waking the consumer only if it moved.
pub(crate) fn advance(sender: &ProgressSender, revision: Revision) {
    sender.send_if_modified(|covered| {
        let moved = revision > *covered;
        *covered = (*covered).max(revision);
        moved
    });
}

/// Where a backend that reports only when asked receives the requests.
pub(crate) type ProgressRequests = mpsc::Receiver<()>;

impl WatchProgress {
    /// A progress that is never reported.
    pub fn unknown() -> WatchProgress {
        WatchProgress {
            covered: None,
            ask: None,
        }
    }

    /// A progress the backend advances through the returned sender, starting at `covered`,
    /// on its own after every change it has looked at.
    pub(crate) fn channel(covered: Revision) -> (ProgressSender, WatchProgress) {
        let (tx, rx) = watch::channel(covered);
        let progress = WatchProgress {
            covered: Some(rx),
            ask: None,
        };
        (tx, progress)
    }

    /// [`WatchProgress::channel`] for a backend that reports when [`WatchProgress::request`]
    /// asks it to.
    pub(crate) fn on_request(
        covered: Revision,
    ) -> (ProgressSender, ProgressRequests, WatchProgress) {
        let (tx, rx) = watch::channel(covered);
        // One pending request is as good as many.
        let (ask, requests) = mpsc::channel(1);
        let progress = WatchProgress {
            covered: Some(rx),
            ask: Some(ask),
        };
        (tx, requests, progress)
    }

    /// Whether the backend reports progress at all.
    pub fn is_known(&self) -> bool {
        self.covered.is_some()
    }

    /// The revision covered so far (0 when unknown).
    pub fn covered(&self) -> Revision {
        self.covered.as_ref().map_or(0, |rx| *rx.borrow())
    }

    /// Asks the backend to report its progress soon (it may already be on its way; a backend
    /// that reports on its own needs no asking).
    pub fn request(&self) {
        if let Some(ask) = &self.ask {
            let _ = ask.try_send(());
        }
    }

    /// Waits until the covered revision moves; `false` (at once) when it never will again:
    /// unknown, or the watch ended.
    pub async fn changed(&mut self) -> bool {
        match &mut self.covered {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        }
    }
}
