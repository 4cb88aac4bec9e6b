//! How far a watch stream has got: what a cache built from the stream needs to know it is
//! current, as etcd's progress notifications tell the upstream apiserver's watch cache.

use crate::Revision;
use tokio::sync::watch;

/// The revision up to which a watch stream has handed over every event under its prefix
/// (events with revisions at or below it are in the stream, or were not under the prefix).
///
/// A consumer that reads [`WatchProgress::covered`] and then finds the stream empty has seen
/// every change up to that revision. Backends that cannot tell give [`WatchProgress::unknown`].
#[derive(Clone, Debug)]
pub struct WatchProgress(Option<watch::Receiver<Revision>>);

/// The backend's side of a [`WatchProgress`].
pub(crate) type ProgressSender = watch::Sender<Revision>;

impl WatchProgress {
    /// A progress that is never reported.
    pub fn unknown() -> WatchProgress {
        WatchProgress(None)
    }

    /// A progress the backend advances through the returned sender, starting at `covered`.
    pub(crate) fn channel(covered: Revision) -> (ProgressSender, WatchProgress) {
        let (tx, rx) = watch::channel(covered);
        (tx, WatchProgress(Some(rx)))
    }

    /// Whether the backend reports progress at all.
    pub fn is_known(&self) -> bool {
        self.0.is_some()
    }

    /// The revision covered so far (0 when unknown).
    pub fn covered(&self) -> Revision {
        self.0.as_ref().map_or(0, |rx| *rx.borrow())
    }

    /// Waits until the covered revision moves; `false` (at once) when it never will again:
    /// unknown, or the watch ended.
    pub async fn changed(&mut self) -> bool {
        match &mut self.0 {
            Some(rx) => rx.changed().await.is_ok(),
            None => false,
        }
    }
}
