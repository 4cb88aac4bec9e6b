//! The etcd v3 backend: [`EtcdStore`] implements [`crate::Store`] over `etcd-client`.
//!
//! Every operation maps onto one etcd request (a range, a transaction, a watch, a compaction):
//! conditional writes are transactions comparing the key's create or mod revision, so etcd
//! itself decides conflicts. Files, one concept each:
//! - `config.rs`: [`EtcdConfig`] / [`EtcdTls`], checked before connecting;
//! - `call.rs`: deadline and retries of one request (etcd-client does not route around a dead
//!   member by itself), `errors.rs`: what each etcd error means;
//! - `read.rs`, `write.rs`: the key-value operations; `lease.rs`: shared leases for TTLs;
//! - `compaction.rs`: compaction and finding the compacted revision;
//! - `watch.rs`: watches that resume on another member and let slow readers fall behind.

mod call;
mod compaction;
mod config;
mod convert;
mod errors;
mod lease;
mod read;
mod watch;
mod write;

pub use config::{EtcdConfig, EtcdTls};

use crate::{
    CreateOutcome, DeleteOutcome, KeyValue, RangeRequest, RangeResponse, Revision, Store,
    StoreError, UpdateOutcome, WatchProgress, WatchStream,
};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

/// A [`Store`] kept in an etcd v3 cluster (3.4 or later).
///
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct EtcdStore {
    shared: Arc<Shared>,
}

/// What the store's operations and its watch tasks share.
struct Shared {
    client: call::Client,
    leases: lease::Leases,
    /// The highest compacted revision this store has seen (see `compaction.rs`).
    compacted: AtomicI64,
}

impl EtcdStore {
    /// Checks `config` and sets up the connection. Does not contact etcd: the members are
    /// dialled on first use, and an unreachable cluster shows as [`StoreError::Unavailable`]
    /// from the operations.
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore, StoreError> {
        let options = config.connect_options()?;
        let endpoints = config.endpoints_label();
        let client = etcd_client::Client::connect(&config.endpoints, Some(options))
            .await
            .map_err(|e| StoreError::Unavailable {
                endpoints: endpoints.clone(),
                reason: format!("connecting: {}", errors::describe(&e)),
            })?;
        Ok(EtcdStore {
            shared: Arc::new(Shared {
                client: call::Client::new(&client, endpoints, config.request_timeout),
                leases: lease::Leases::default(),
                compacted: AtomicI64::new(0),
            }),
        })
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.shared.current_revision().await
    }

    async fn get(&self, key: &str, revision: Revision) -> Result<Option<KeyValue>, StoreError> {
        self.shared.get(key, revision).await
    }

    async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        self.shared.range(req).await
    }

    async fn count(&self, prefix: &str) -> Result<i64, StoreError> {
        self.shared.count(prefix).await
    }

    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<CreateOutcome, StoreError> {
        self.shared.create(key, value, ttl).await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
        ttl: Option<Duration>,
    ) -> Result<UpdateOutcome, StoreError> {
        self.shared
            .update(key, value, expected_mod_revision, ttl)
            .await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<DeleteOutcome, StoreError> {
        self.shared.delete(key, expected_mod_revision).await
    }

    async fn watch(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        Ok(watch::watch(&self.shared, prefix, start_revision, false)
            .await?
            .0)
    }

    async fn watch_with_progress(
        &self,
        prefix: &str,
        start_revision: Revision,
    ) -> Result<(WatchStream, WatchProgress), StoreError> {
        watch::watch(&self.shared, prefix, start_revision, true).await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.shared.compact(revision).await
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        self.shared.compacted_revision().await
    }
}
