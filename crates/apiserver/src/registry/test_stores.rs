//! Stores for tests that hide some of the real store's abilities: watches that report no
//! progress (the `Store` trait's default, as a store that cannot tell would), and watches that
//! never deliver (a watch cache over them keeps what it first read).

use std::sync::Arc;

use bytes::Bytes;
use rkube_store::{
    CreateOutcome, DeleteOutcome, KeyValue, RangeRequest, RangeResponse, Revision, Store,
    StoreError, UpdateOutcome, WatchStream,
};

/// The real store `inner` without progress reports; with `frozen`, its watches never deliver.
pub(crate) struct Limited {
    pub inner: Arc<dyn Store>,
    pub frozen: bool,
}

#[async_trait::async_trait]
impl Store for Limited {
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.inner.current_revision().await
    }
    async fn get(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>, StoreError> {
        self.inner.get(key, revision).await
    }
    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.inner.range(req).await
    }
    async fn count(&self, prefix: &str) -> Result<i64, StoreError> {
        self.inner.count(prefix).await
    }
    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<std::time::Duration>,
    ) -> Result<CreateOutcome, StoreError> {
        self.inner.create(key, value, ttl).await
    }
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        ttl: Option<std::time::Duration>,
    ) -> Result<UpdateOutcome, StoreError> {
        self.inner.update(key, value, expected, ttl).await
    }
    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<DeleteOutcome, StoreError> {
        self.inner.delete(key, expected).await
    }
    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream, StoreError> {
        if self.frozen {
            return Ok(Box::pin(futures::stream::pending()));
        }
        self.inner.watch(prefix, from).await
    }
    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.inner.compact(revision).await
    }
    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        self.inner.compacted_revision().await
    }
}
