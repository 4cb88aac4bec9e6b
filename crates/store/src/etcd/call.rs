//! One etcd request under the store's deadline and retry policy.
//!
//! etcd-client spreads requests over all endpoints but does not route around a dead member:
//! a request sent to it fails at once with a connect error (about one in three with one member
//! of three down). So every request is retried, with a short backoff, on another pick until
//! `request_timeout` runs out:
//! - a request that never left (connect failure) is always retried;
//! - one that may have reached etcd (broken connection, leader change, timeout) is retried only
//!   when repeating it is harmless ([`Retry::Idempotent`]: reads, compaction, lease grants) or
//!   the write recognises its own earlier success ([`Retry::Recognised`]: create and update,
//!   see `kv.rs`); otherwise ([`Retry::IfNotSent`]: delete) the caller gets
//!   [`StoreError::Unavailable`] saying the outcome is unknown.

use super::errors::{Class, classify, describe};
use crate::StoreError;
use etcd_client::{KvClient, LeaseClient, WatchClient};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Largest response accepted (etcd sends lists as one message): as large as gRPC allows, like
/// the upstream apiserver's client.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(500);
const UNKNOWN_OUTCOME: &str = "; the write may or may not have been applied";

/// When a failed attempt may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Retry {
    /// Reads and writes that may run twice: on any transient failure.
    Idempotent,
    /// Writes that recognise their own earlier success: on any transient failure, and the
    /// caller checks [`Answer::maybe_applied`].
    Recognised,
    /// Other writes: only when the request cannot have reached etcd.
    IfNotSent,
}

/// A successful answer.
pub(super) struct Answer<T> {
    /// What the last attempt returned.
    pub value: T,
    /// An earlier attempt failed after it may have been applied.
    pub maybe_applied: bool,
}

/// Why a request failed, for the callers that map some etcd errors themselves.
#[derive(Debug)]
pub(super) enum Failure {
    /// The revision asked for has been compacted.
    Compacted,
    /// The revision asked for is in the future.
    FutureRevision,
    /// The lease attached to a put no longer exists.
    LeaseNotFound,
    /// Anything else, already mapped.
    Store(StoreError),
}

impl Failure {
    /// For requests where compaction, future revisions and leases cannot be the cause.
    pub(super) fn into_store(self, client: &Client, what: &str) -> StoreError {
        match self {
            Failure::Store(e) => e,
            other => client.unavailable(what, format!("unexpected answer from etcd: {other:?}")),
        }
    }
}

/// The etcd-client handles plus what is needed to report and bound failures.
#[derive(Clone)]
pub(super) struct Client {
    pub kv: KvClient,
    pub watch: WatchClient,
    pub lease: LeaseClient,
    endpoints: String,
    request_timeout: Duration,
}

impl Client {
    pub(super) fn new(
        client: &etcd_client::Client,
        endpoints: String,
        request_timeout: Duration,
    ) -> Client {
        Client {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            lease: client.lease_client(),
            endpoints,
            request_timeout,
        }
    }

    /// How long one operation (retries included) may take.
    pub(super) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// An [`StoreError::Unavailable`] naming the endpoints.
    pub(super) fn unavailable(&self, what: &str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable {
            endpoints: self.endpoints.clone(),
            reason: format!("{what}: {reason}"),
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or `request_timeout` has passed.
    /// `what` names the operation in error messages.
    pub(super) async fn call<T, F, Fut>(
        &self,
        what: &str,
        retry: Retry,
        mut attempt: F,
    ) -> Result<Answer<T>, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.request_timeout;
        let mut backoff = FIRST_BACKOFF;
        let mut maybe_applied = false;
        let mut last_error = None;
        loop {
            let err = match tokio::time::timeout_at(deadline, attempt()).await {
                Ok(Ok(value)) => {
                    return Ok(Answer {
                        value,
                        maybe_applied,
                    });
                }
                Ok(Err(err)) => err,
                Err(_elapsed) => {
                    let mut reason = format!("no answer within {:?}", self.request_timeout);
                    if let Some(last) = last_error {
                        reason = format!("{reason} (last error: {last})");
                    }
                    if retry != Retry::Idempotent {
                        reason.push_str(UNKNOWN_OUTCOME);
                    }
                    return Err(Failure::Store(self.unavailable(what, reason)));
                }
            };
            match classify(&err) {
                Class::NotSent => {}
                Class::MaybeSent if retry == Retry::IfNotSent => {
                    let reason = format!("{}{UNKNOWN_OUTCOME}", describe(&err));
                    return Err(Failure::Store(self.unavailable(what, reason)));
                }
                Class::MaybeSent => maybe_applied = true,
                Class::Compacted => return Err(Failure::Compacted),
                Class::FutureRevision => return Err(Failure::FutureRevision),
                Class::LeaseNotFound => return Err(Failure::LeaseNotFound),
                Class::Fatal => return Err(Failure::Store(self.unavailable(what, describe(&err)))),
            }
            let reason = describe(&err);
            tracing::debug!(what, error = %reason, "etcd request failed, retrying");
            if Instant::now() + backoff >= deadline {
                let mut reason = format!("{reason} (gave up after {:?})", self.request_timeout);
                if maybe_applied && retry == Retry::Recognised {
                    reason.push_str(UNKNOWN_OUTCOME);
                }
                return Err(Failure::Store(self.unavailable(what, reason)));
            }
            last_error = Some(reason);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
