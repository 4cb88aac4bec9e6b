//! Leases for keys with a time to live.
//!
//! Like the upstream apiserver's `leaseManager`, writes with the same TTL share a lease for a
//! while instead of granting one lease per write (Events would otherwise mean one lease each).
//! A shared lease is granted with `ttl + window` seconds, where the window is 5% of the TTL and
//! at most a minute, and is only handed out while it still has at least `ttl` seconds to live:
//! a key never expires earlier than asked, and at most `window` seconds later. TTLs under 20 s
//! get no window and a lease of their own.

use super::call::{Client, Retry};
use super::errors::describe;
use crate::StoreError;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::key::MAX_TTL_SECS as MAX_LEASE_TTL;
/// Longest reuse window, in seconds (upstream: `maxLeaseReuseDurationSeconds`).
const MAX_REUSE_SECS: i64 = 60;

/// The shared leases, one per TTL.
#[derive(Default)]
pub(super) struct Leases {
    by_ttl: Mutex<HashMap<i64, SharedLease>>,
}

struct SharedLease {
    id: i64,
    /// No earlier than etcd's expiry: measured from before the grant was sent.
    expires: Instant,
}

/// Seconds a lease for `ttl` may be shared for.
fn reuse_window(ttl: i64) -> i64 {
    (ttl / 20).min(MAX_REUSE_SECS)
}

impl Leases {
    /// A lease that lives at least `ttl` seconds from now, for a write to `key`. `ttl` has
    /// passed [`crate::validate_ttl`], so it is at most etcd's maximum.
    pub(super) async fn lease_for(
        &self,
        client: &Client,
        key: &str,
        ttl: i64,
    ) -> Result<i64, StoreError> {
        let window = reuse_window(ttl).min(MAX_LEASE_TTL - ttl);
        if window == 0 {
            return grant(client, key, ttl).await.map(|(id, _)| id);
        }
        // Held across the grant so that concurrent writers with this TTL share one lease.
        let mut by_ttl = self.by_ttl.lock().await;
        let now = Instant::now();
        if let Some(lease) = by_ttl.get(&ttl)
            && now
                .checked_add(secs(ttl))
                .is_some_and(|t| t <= lease.expires)
        {
            return Ok(lease.id);
        }
        let (id, granted) = grant(client, key, ttl + window).await?;
        by_ttl.retain(|_, lease| lease.expires > now);
        if let Some(expires) = now.checked_add(secs(granted)) {
            by_ttl.insert(ttl, SharedLease { id, expires });
        }
        Ok(id)
    }

    /// Stops handing out lease `id` (etcd said it no longer exists).
    pub(super) async fn forget(&self, ttl: i64, id: i64) {
        let mut by_ttl = self.by_ttl.lock().await;
        if by_ttl.get(&ttl).is_some_and(|lease| lease.id == id) {
            by_ttl.remove(&ttl);
        }
    }
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

/// Grants a lease of `ttl` seconds; returns its id and the TTL etcd granted (which may be
/// raised to etcd's minimum).
async fn grant(client: &Client, key: &str, ttl: i64) -> Result<(i64, i64), StoreError> {
    let what = format!("granting a {ttl}s lease for {key}");
    // Retrying a grant that may have succeeded at worst leaves an unused lease to expire.
    let resp = client
        .call(&what, Retry::Idempotent, || {
            let mut lease = client.lease.clone();
            async move { lease.grant(ttl, None).await }
        })
        .await
        .map_err(|f| f.into_store(client, &what))?
        .value;
    if !resp.error().is_empty() {
        let err = etcd_client::Error::InvalidArgs(resp.error().to_string());
        return Err(client.unavailable(&what, describe(&err)));
    }
    let granted = if resp.ttl() > 0 { resp.ttl() } else { ttl };
    Ok((resp.id(), granted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_window_is_five_percent_up_to_a_minute() {
        assert_eq!(reuse_window(1), 0);
        assert_eq!(reuse_window(19), 0);
        assert_eq!(reuse_window(60), 3);
        assert_eq!(reuse_window(3600), 60);
        assert_eq!(reuse_window(MAX_LEASE_TTL), 60);
    }
}
