//! The revisioned key-value store under the apiserver, with etcd v3 semantics.
//!
//! One [`Store`] trait, two backends: [`embedded::EmbeddedStore`] (SQLite in a log layout, the
//! single-machine default) and [`etcd::EtcdStore`] (a real etcd v3 cluster). The store knows
//! nothing of Kubernetes: keys are path-like strings, values are bytes.
//!
//! Semantics shared by both backends (and checked by the conformance suite in `tests/`):
//! - one revision counter for the whole store, bumped by every successful write;
//! - reads at the latest or a past revision, prefix ranges with limit and continuation;
//! - create-if-absent, update and delete conditional on the key's mod revision;
//! - keys with a time to live;
//! - watch from a revision with previous values, in order, without gaps or duplicates;
//! - compaction, after which older revisions answer [`StoreError::Compacted`].

mod compactor;
pub mod embedded;
mod error;
pub mod etcd;
mod key;
mod progress;
mod types;

pub use compactor::{Compactor, spawn_compactor};
pub use error::StoreError;
pub use key::{MAX_KEY_LEN, MAX_VALUE_LEN, prefix_end, validate_key, validate_ttl, validate_value};
pub use progress::WatchProgress;
pub use types::{
    CreateOutcome, DeleteOutcome, KeyValue, RangeRequest, RangeResponse, Revision, UpdateOutcome,
    WatchEvent, WatchEventKind, WatchStream,
};

use async_trait::async_trait;
use bytes::Bytes;
use std::time::Duration;

/// A revisioned key-value store with etcd v3 semantics.
///
/// Expected outcomes (the key exists, the revision moved on) are values in the `*Outcome` enums;
/// [`StoreError`] is for what went wrong (bad input, I/O, an unreachable backend, compaction).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The store's current revision: that of the last successful write.
    async fn current_revision(&self) -> Result<Revision, StoreError>;

    /// Reads one key at `revision` (0 = latest). `None` when absent at that revision.
    async fn get(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>, StoreError>;

    /// Lists the keys under a prefix at one revision, in key order, a page at a time.
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError>;

    /// Counts the keys under a prefix at the latest revision.
    async fn count(&self, prefix: &str) -> Result<i64, StoreError>;

    /// Writes `key` only if it does not exist. `ttl` makes the key expire on its own.
    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<CreateOutcome, StoreError>;

    /// Replaces `key`'s value only if its mod revision is still `expected_mod_revision`.
    /// A missing key is a conflict with `current: None`.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        ttl: Option<Duration>,
    ) -> Result<UpdateOutcome, StoreError>;

    /// Deletes `key`, only if its mod revision is `expected_mod_revision` when one is given.
    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<DeleteOutcome, StoreError>;

    /// Streams every change under `prefix` with revision `>= start_revision` (0 = changes after
    /// now), in revision order, each with the key's previous value. The stream ends with
    /// [`StoreError::Compacted`] if `start_revision` is (or becomes, for a lagging reader) older
    /// than the compacted revision.
    async fn watch(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<WatchStream, StoreError>;

    /// [`Store::watch`], with how far the stream has got: a cache fed by the stream uses it to
    /// know it has every change up to a revision (and so may answer consistent reads). A
    /// backend that cannot tell returns [`WatchProgress::unknown`].
    async fn watch_with_progress(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<(WatchStream, WatchProgress), StoreError> {
        Ok((
            self.watch(prefix, start_revision).await?,
            WatchProgress::unknown(),
        ))
    }

    /// Discards the history before `revision`: reads at older revisions and watches from them
    /// fail with [`StoreError::Compacted`]. The latest value of every key is kept. Compacting
    /// to a revision at or below the compacted one does nothing; a future revision is
    /// [`StoreError::FutureRevision`].
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// The revision the store was last compacted at (0 if never).
    async fn compacted_revision(&self) -> Result<Revision, StoreError>;

    /// Stops writing for a clean shutdown and returns once every acknowledged write is durable
    /// and the backend's own closing work is done (the embedded store folds its WAL into the
    /// database), so another process can open the same data right after. Writes after it fail
    /// with [`StoreError::Closed`]. Nothing to do for a remote backend.
    async fn close(&self) {}

    /// Adds the backend's own metrics (the embedded store's commit, compaction and checkpoint
    /// timings) to `registry`. Nothing for a remote backend: etcd exports its own.
    fn register_metrics(&self, _registry: &mut prometheus_client::registry::Registry) {}
}
