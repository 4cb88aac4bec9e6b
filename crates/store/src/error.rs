//! The store's error type.

use crate::Revision;

/// What can go wrong in a store operation. Conflicts and existing keys are not errors: see the
/// `*Outcome` types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is empty, too long or has characters outside the allowed form.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The offending key (possibly truncated).
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The value is larger than [`crate::MAX_VALUE_LEN`].
    #[error("value for key {key:?} is {size} bytes, over the limit of {limit} bytes")]
    ValueTooLarge {
        /// The key being written.
        key: String,
        /// The value's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The TTL is zero or too large to represent.
    #[error("invalid ttl for key {key:?}: {reason}")]
    InvalidTtl {
        /// The key being written.
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The requested revision is older than the compacted revision.
    #[error(
        "revision {requested} has been compacted (compacted revision is {compacted}); \
         list again from the latest revision"
    )]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("revision {requested} is in the future (current revision is {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The data file could not be opened, is not a store, or is damaged.
    #[error("data file {path}: {reason}")]
    Corrupt {
        /// Path of the data file.
        path: String,
        /// What is wrong with it and what to do.
        reason: String,
    },
    /// A storage engine (SQLite) failure.
    #[error("storage engine error: {0}")]
    Engine(String),
    /// The backend cannot be reached or answered with an error.
    #[error("etcd {endpoints}: {reason}")]
    Unavailable {
        /// The endpoint(s) tried.
        endpoints: String,
        /// What failed.
        reason: String,
    },
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}
