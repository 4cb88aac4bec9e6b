//! Writes: create-if-absent, update and delete conditional on the mod revision, each one etcd
//! transaction whose header revision is the write's revision.
//!
//! Retries after a failure that may have reached etcd (see `call.rs`): a create or update that
//! was in fact applied finds, on its retry, the key holding exactly the value and lease it
//! wrote (version 1 for a create, a mod revision past the expected one for an update) and
//! reports success. Another writer storing byte-identical data in that instant would be taken
//! for ours — harmless, the key holds what the caller wanted. A delete is not retried then: it
//! could not tell its own success from "not found", so it reports [`StoreError::Unavailable`].

use super::Shared;
use super::call::{Answer, Failure, Retry};
use super::convert::{header_revision, key_value};
use crate::{
    CreateOutcome, DeleteOutcome, Revision, StoreError, UpdateOutcome, validate_key, validate_ttl,
    validate_value,
};
use bytes::Bytes;
use etcd_client::{
    Compare, CompareOp, DeleteOptions, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
};
use std::time::Duration;

impl Shared {
    /// Writes `key` if it does not exist.
    pub(super) async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<CreateOutcome, StoreError> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let ttl = validate_ttl(key, ttl)?;
        let what = format!("create {key}");
        let (answer, lease) = self
            .put_txn(&what, key, ttl, |put| {
                Txn::new()
                    .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key, value.to_vec(), put)])
                    .or_else([TxnOp::get(key, None)])
            })
            .await?;
        let resp = answer.value;
        if resp.succeeded() {
            return Ok(CreateOutcome::Created(header_revision(resp.header())));
        }
        let Some(existing) = first_kv(&resp) else {
            return Err(self
                .client
                .unavailable(&what, "etcd said the key exists but sent none"));
        };
        if answer.maybe_applied
            && existing.version() == 1
            && existing.value() == value.as_ref()
            && existing.lease() == lease
        {
            return Ok(CreateOutcome::Created(existing.mod_revision()));
        }
        Ok(CreateOutcome::AlreadyExists(key_value(existing)))
    }

    /// Replaces `key`'s value if its mod revision is `expected`.
    pub(super) async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        ttl: Option<Duration>,
    ) -> Result<UpdateOutcome, StoreError> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let ttl = validate_ttl(key, ttl)?;
        let what = format!("update {key}");
        let (answer, lease) = self
            .put_txn(&what, key, ttl, |put| {
                Txn::new()
                    .when(exists_at(key, expected))
                    .and_then([TxnOp::put(key, value.to_vec(), put)])
                    .or_else([TxnOp::get(key, None)])
            })
            .await?;
        let resp = answer.value;
        if resp.succeeded() {
            return Ok(UpdateOutcome::Updated(header_revision(resp.header())));
        }
        match first_kv(&resp) {
            Some(current)
                if answer.maybe_applied
                    && current.mod_revision() > expected
                    && current.value() == value.as_ref()
                    && current.lease() == lease =>
            {
                Ok(UpdateOutcome::Updated(current.mod_revision()))
            }
            current => Ok(UpdateOutcome::Conflict(current.map(key_value))),
        }
    }

    /// Deletes `key`, if its mod revision is `expected` when one is given.
    pub(super) async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<DeleteOutcome, StoreError> {
        validate_key(key)?;
        let what = format!("delete {key}");
        let delete = TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()));
        let txn = match expected {
            Some(expected) => Txn::new()
                .when(exists_at(key, expected))
                .and_then([delete])
                .or_else([TxnOp::get(key, None)]),
            None => Txn::new().and_then([delete]),
        };
        let resp = self
            .client
            .call(&what, Retry::IfNotSent, || {
                let mut kv = self.client.kv.clone();
                let txn = txn.clone();
                async move { kv.txn(txn).await }
            })
            .await
            .map_err(|f| f.into_store(&self.client, &what))?
            .value;
        if !resp.succeeded() {
            return Ok(match first_kv(&resp) {
                Some(current) => DeleteOutcome::Conflict(key_value(current)),
                None => DeleteOutcome::NotFound,
            });
        }
        let prev = resp.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Delete(mut d) => d.take_prev_kvs().into_iter().next(),
            _ => None,
        });
        Ok(match prev {
            Some(prev) => DeleteOutcome::Deleted {
                revision: header_revision(resp.header()),
                prev: key_value(prev),
            },
            None => DeleteOutcome::NotFound,
        })
    }

    /// Runs the transaction `build` makes around a put (given the put's options, with the
    /// lease for `ttl`). If etcd no longer knows a shared lease, takes a fresh one once.
    /// Returns the answer and the lease used (0 for none).
    async fn put_txn(
        &self,
        what: &str,
        key: &str,
        ttl: Option<i64>,
        build: impl Fn(Option<PutOptions>) -> Txn,
    ) -> Result<(Answer<TxnResponse>, i64), StoreError> {
        let mut fresh_lease_taken = false;
        loop {
            let lease = match ttl {
                Some(ttl) => self.leases.lease_for(&self.client, key, ttl).await?,
                None => 0,
            };
            let txn = build((lease != 0).then(|| PutOptions::new().with_lease(lease)));
            let result = self
                .client
                .call(what, Retry::Recognised, || {
                    let mut kv = self.client.kv.clone();
                    let txn = txn.clone();
                    async move { kv.txn(txn).await }
                })
                .await;
            match (result, ttl) {
                (Ok(answer), _) => return Ok((answer, lease)),
                (Err(Failure::LeaseNotFound), Some(ttl)) if !fresh_lease_taken => {
                    tracing::debug!(lease, ttl, "etcd lost a shared lease; granting another");
                    self.leases.forget(ttl, lease).await;
                    fresh_lease_taken = true;
                }
                (Err(f), _) => return Err(f.into_store(&self.client, what)),
            }
        }
    }
}

/// Compares that hold when `key` exists with mod revision `expected` (a mod revision of 0
/// alone would also match an absent key).
fn exists_at(key: &str, expected: Revision) -> Vec<Compare> {
    vec![
        Compare::version(key, CompareOp::Greater, 0),
        Compare::mod_revision(key, CompareOp::Equal, expected),
    ]
}

/// The key-value read by a transaction's `get` branch.
fn first_kv(resp: &TxnResponse) -> Option<etcd_client::KeyValue> {
    resp.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(mut get) => get.take_kvs().into_iter().next(),
        _ => None,
    })
}
