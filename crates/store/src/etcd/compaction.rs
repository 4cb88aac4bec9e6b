//! Compaction, and finding the compacted revision.
//!
//! etcd 3.4 has no request that returns the compacted revision, but a read at a revision older
//! than it fails with "required revision has been compacted" and a read at it or later works.
//! So [`Shared::compacted_revision`] keeps the highest value it has learnt (from its own
//! compactions, from watches ended by compaction and from earlier searches), checks with one
//! read whether it still holds, and otherwise binary-searches the first readable revision
//! between it and the current revision (about log2(revisions) small reads). The answer is
//! exact unless another client compacts during the search. A compaction at revision 1 cannot be
//! told from none and reads as 0.

use super::Shared;
use super::call::Failure;
use crate::{Revision, StoreError};
use etcd_client::GetOptions;
use std::sync::atomic::Ordering;

impl Shared {
    /// Discards history before `revision` (logical compaction; etcd frees space in the
    /// background).
    pub(super) async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        if revision <= 0 {
            return Ok(());
        }
        let what = format!("compact at revision {revision}");
        let result = self
            .client
            .call(&what, super::call::Retry::Idempotent, || {
                let mut kv = self.client.kv.clone();
                async move { kv.compact(revision, None).await }
            })
            .await;
        match result {
            // "Compacted" means it already is, at this revision or a later one.
            Ok(_) | Err(Failure::Compacted) => {
                self.note_compacted(revision);
                Ok(())
            }
            Err(Failure::FutureRevision) => Err(StoreError::FutureRevision {
                requested: revision,
                current: self.current_revision().await?,
            }),
            Err(f) => Err(f.into_store(&self.client, &what)),
        }
    }

    /// Remembers that the store is compacted at least up to `revision`.
    pub(super) fn note_compacted(&self, revision: Revision) {
        self.compacted.fetch_max(revision, Ordering::Relaxed);
    }

    /// The revision etcd was last compacted at (0 if never), see the module doc.
    pub(super) async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        let known = self.compacted.load(Ordering::Relaxed);
        let mut unreadable = known.max(1);
        if self.readable_at(unreadable).await? {
            return Ok(known);
        }
        let mut readable = self.current_revision().await?;
        while readable - unreadable > 1 {
            let mid = unreadable + (readable - unreadable) / 2;
            if self.readable_at(mid).await? {
                readable = mid;
            } else {
                unreadable = mid;
            }
        }
        self.note_compacted(readable);
        Ok(self.compacted.load(Ordering::Relaxed))
    }

    /// [`Self::compacted_revision`], or the last known value if etcd cannot be asked.
    pub(super) async fn compacted_revision_or_known(&self) -> Revision {
        match self.compacted_revision().await {
            Ok(rev) => rev,
            Err(_) => self.compacted.load(Ordering::Relaxed),
        }
    }

    /// Whether a read at `revision` works (false: it has been compacted).
    async fn readable_at(&self, revision: Revision) -> Result<bool, StoreError> {
        let what = format!("probing revision {revision}");
        let opts = GetOptions::new().with_count_only().with_revision(revision);
        match self.get_raw(&what, "/", opts).await {
            Ok(_) | Err(Failure::FutureRevision) => Ok(true),
            Err(Failure::Compacted) => Ok(false),
            Err(f) => Err(f.into_store(&self.client, &what)),
        }
    }
}
