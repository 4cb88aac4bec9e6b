//! Values exchanged through the [`crate::Store`] trait.

use crate::StoreError;
use bytes::Bytes;
use futures::stream::BoxStream;

/// A store revision. Every successful write gets the next one; 0 means "latest" in requests.
pub type Revision = i64;

/// One key's value and its revision bookkeeping, as etcd's `mvccpb.KeyValue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value bytes.
    pub value: Bytes,
    /// Revision of the write that created the key (the first put since it was last absent).
    pub create_revision: Revision,
    /// Revision of the last write to the key.
    pub mod_revision: Revision,
    /// Number of writes since the key was created (1 on create).
    pub version: i64,
}

/// A page of a prefix listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// Keys starting with this prefix are listed.
    pub prefix: String,
    /// List only keys strictly after this one (the last key of the previous page).
    pub start_after: Option<String>,
    /// At most this many keys (0 = no limit).
    pub limit: i64,
    /// Read at this revision (0 = latest). Pages of one listing use the first page's revision.
    pub revision: Revision,
}

/// The answer to a [`RangeRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// The keys of this page, in key order.
    pub kvs: Vec<KeyValue>,
    /// Whether more keys follow this page.
    pub more: bool,
    /// How many keys match the whole request (ignoring `limit` and `start_after`).
    pub count: i64,
    /// The revision the page was read at; pass it back to read the next page consistently.
    pub revision: Revision,
}

/// Result of [`crate::Store::create`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The key was written; its new revision.
    Created(Revision),
    /// The key already exists; its current value.
    AlreadyExists(KeyValue),
}

/// Result of [`crate::Store::update`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The key was written; its new revision.
    Updated(Revision),
    /// The key's mod revision was not the expected one; its current value (`None` if absent).
    Conflict(Option<KeyValue>),
}

/// Result of [`crate::Store::delete`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The key was deleted at `revision`; `prev` is the value it had.
    Deleted {
        /// Revision of the deletion.
        revision: Revision,
        /// The value deleted.
        prev: KeyValue,
    },
    /// There was no such key.
    NotFound,
    /// The key's mod revision was not the expected one; its current value.
    Conflict(KeyValue),
}

/// What happened to a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEventKind {
    /// The key was created or updated; `kv` holds the new value.
    Put,
    /// The key was deleted (or expired); `kv.value` is empty, `kv.mod_revision` is the
    /// deletion's revision.
    Delete,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: WatchEventKind,
    /// The key after the change (for a delete: key and revision only).
    pub kv: KeyValue,
    /// The key's value before the change, when there was one and it was not compacted away.
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of watch events; an `Err` item ends it.
pub type WatchStream = BoxStream<'static, Result<WatchEvent, StoreError>>;
