//! Reads: the current revision, one key, a page of a prefix, a count.
//!
//! Reads are linearizable (etcd's default) and retried on another member when one fails.
//! A revision of 0 (or less) means the latest.

use super::Shared;
use super::call::{Failure, Retry};
use super::convert::{header_revision, key_value};
use crate::key::validate_prefix;
use crate::{
    KeyValue, RangeRequest, RangeResponse, Revision, StoreError, prefix_end, validate_key,
};
use etcd_client::{GetOptions, GetResponse, Txn, TxnOp, TxnOpResponse};

impl Shared {
    /// The revision of the last write, from a count-only read's header.
    pub(super) async fn current_revision(&self) -> Result<Revision, StoreError> {
        let what = "reading the current revision";
        let resp = self
            .get_raw(what, "/", GetOptions::new().with_count_only())
            .await
            .map_err(|f| f.into_store(&self.client, what))?;
        Ok(header_revision(resp.header()))
    }

    /// One key at `revision`.
    pub(super) async fn get(
        &self,
        key: &str,
        revision: Revision,
    ) -> Result<Option<KeyValue>, StoreError> {
        validate_key(key)?;
        let what = format!("get {key}");
        let opts = GetOptions::new().with_revision(revision.max(0));
        let mut resp = match self.get_raw(&what, key, opts).await {
            Ok(resp) => resp,
            Err(f) => return Err(self.read_failure(f, revision, &what).await),
        };
        Ok(resp.take_kvs().into_iter().next().map(key_value))
    }

    /// A page of the keys under `req.prefix`, and how many there are in all.
    pub(super) async fn range(&self, req: RangeRequest) -> Result<RangeResponse, StoreError> {
        validate_prefix(&req.prefix)?;
        let what = format!("list {}", req.prefix);
        let end = prefix_end(&req.prefix);
        let revision = req.revision.max(0);
        let limit = req.limit.max(0);
        // Never start before the prefix, whatever `start_after` says.
        let start = match &req.start_after {
            Some(after) => format!("{after}\0").max(req.prefix.clone()),
            None => req.prefix.clone(),
        };
        let page = GetOptions::new()
            .with_range(end.clone())
            .with_limit(limit)
            .with_revision(revision);
        let result = if start == req.prefix {
            // The page's count is the whole prefix's.
            self.get_raw(&what, &start, page).await.map(|mut resp| {
                let header = header_revision(resp.header());
                (resp.take_kvs(), resp.more(), resp.count(), header)
            })
        } else {
            // A later page: read it and count the whole prefix in one read-only transaction,
            // so both see the same revision.
            let count = GetOptions::new()
                .with_range(end.clone())
                .with_count_only()
                .with_revision(revision);
            let mut ops = vec![TxnOp::get(req.prefix.clone(), Some(count))];
            if start < end {
                ops.push(TxnOp::get(start, Some(page)));
            }
            let txn = Txn::new().and_then(ops);
            self.client
                .call(&what, Retry::Idempotent, || {
                    let mut kv = self.client.kv.clone();
                    let txn = txn.clone();
                    async move { kv.txn(txn).await }
                })
                .await
                .map(|answer| {
                    let resp = answer.value;
                    let mut gets = resp.op_responses().into_iter().filter_map(|op| match op {
                        TxnOpResponse::Get(get) => Some(get),
                        _ => None,
                    });
                    let count = gets.next().map_or(0, |c| c.count());
                    let (kvs, more) = gets
                        .next()
                        .map_or((Vec::new(), false), |mut p| (p.take_kvs(), p.more()));
                    (kvs, more, count, header_revision(resp.header()))
                })
        };
        match result {
            Ok((kvs, more, count, header)) => Ok(RangeResponse {
                kvs: kvs.into_iter().map(key_value).collect(),
                more,
                count,
                revision: if revision == 0 { header } else { revision },
            }),
            Err(f) => Err(self.read_failure(f, revision, &what).await),
        }
    }

    /// How many keys are under `prefix` now.
    pub(super) async fn count(&self, prefix: &str) -> Result<i64, StoreError> {
        validate_prefix(prefix)?;
        let what = format!("count {prefix}");
        let opts = GetOptions::new()
            .with_range(prefix_end(prefix))
            .with_count_only();
        let resp = self
            .get_raw(&what, prefix, opts)
            .await
            .map_err(|f| f.into_store(&self.client, &what))?;
        Ok(resp.count())
    }

    /// A range request with retries.
    pub(super) async fn get_raw(
        &self,
        what: &str,
        key: &str,
        opts: GetOptions,
    ) -> Result<GetResponse, Failure> {
        self.client
            .call(what, Retry::Idempotent, || {
                let mut kv = self.client.kv.clone();
                let opts = opts.clone();
                let key = key.to_string();
                async move { kv.get(key, Some(opts)).await }
            })
            .await
            .map(|answer| answer.value)
    }

    /// Maps a failed read at `requested` to the store error, asking etcd for the compacted or
    /// current revision the error needs.
    async fn read_failure(&self, f: Failure, requested: Revision, what: &str) -> StoreError {
        match f {
            Failure::Compacted => StoreError::Compacted {
                requested,
                compacted: self.compacted_revision_or_known().await,
            },
            Failure::FutureRevision => match self.current_revision().await {
                Ok(current) => StoreError::FutureRevision { requested, current },
                Err(e) => e,
            },
            other => other.into_store(&self.client, what),
        }
    }
}
