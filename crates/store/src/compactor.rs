//! Scheduled compaction, as the upstream apiserver does it: every interval, compact to the
//! revision that was current one interval ago, so at least one interval of history stays.

use crate::{Revision, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// A running compaction loop; dropping it stops the loop.
pub struct Compactor {
    handle: JoinHandle<()>,
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Starts compacting `store` every `interval` (upstream: 5 minutes). Uses tokio time, so a
/// paused clock drives it in tests.
pub fn spawn_compactor(store: Arc<dyn Store>, interval: Duration) -> Compactor {
    let handle = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_seen: Revision = 0;
        loop {
            ticker.tick().await;
            if last_seen > 0 {
                match store.compact(last_seen).await {
                    Ok(()) => tracing::debug!(revision = last_seen, "compacted store"),
                    Err(e) => tracing::warn!(revision = last_seen, error = %e, "compaction failed"),
                }
            }
            match store.current_revision().await {
                Ok(rev) => last_seen = rev,
                Err(e) => tracing::warn!(error = %e, "reading the revision for compaction failed"),
            }
        }
    });
    Compactor { handle }
}
