//! `serviceAccountToken` projections, as upstream's kubelet token manager serves them: a
//! token for the pod's ServiceAccount requested through the TokenRequest API, bound to the
//! pod (name and uid), for the projection's audience (the apiserver's when unset) and
//! expiration. Tokens are cached per pod and projection and requested again once 80% of
//! their lifetime has passed (less a few seconds of jitter), or after 24 hours, so the
//! volume — rewritten on every sync — always holds a fresh one. Expired entries are dropped
//! whenever a token is added.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount, ServiceAccountTokenProjection};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

use super::VolumeError;

/// Upstream's longest reuse of a token, whatever its expiry.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Upstream's refresh jitter bound.
const MAX_JITTER_SECONDS: i64 = 10;
/// The projection's default expiry (the API's default).
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    namespace: String,
    service_account: String,
    pod_uid: String,
    audience: String,
    expiration_seconds: i64,
}

#[derive(Clone, Debug)]
struct Cached {
    token: String,
    /// When the token was issued (expiry less the requested lifetime).
    issued: Timestamp,
    /// The expiry the apiserver reported.
    expires: Timestamp,
    /// Its requested lifetime.
    ttl_seconds: i64,
}

impl Cached {
    /// Whether a new token should be asked for at `now` (upstream's rule, with `jitter`
    /// seconds taken off both limits).
    fn needs_refresh(&self, now: Timestamp, jitter: i64) -> bool {
        let age_limit = self.issued.as_second() + MAX_TTL.as_secs() as i64 - jitter;
        let refresh_at = self.expires.as_second() - self.ttl_seconds * 20 / 100 - jitter;
        now.as_second() >= age_limit || now.as_second() >= refresh_at
    }
}

/// Tokens already handed out, by pod and projection (shared by every pod worker of the
/// process; entries are per pod uid, so several kubelets in one process do not collide).
static CACHE: LazyLock<Mutex<HashMap<Key, Cached>>> = LazyLock::new(Default::default);

fn lock() -> std::sync::MutexGuard<'static, HashMap<Key, Cached>> {
    CACHE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The token file's content for `source` in `pod`.
pub async fn token(
    client: &Client,
    pod: &Pod,
    source: &ServiceAccountTokenProjection,
) -> Result<Vec<u8>, VolumeError> {
    let namespace = pod.namespace().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let service_account = spec
        .and_then(|s| s.service_account_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let key = Key {
        namespace: namespace.clone(),
        service_account: service_account.clone(),
        pod_uid: pod.uid().unwrap_or_default(),
        audience: source.audience.clone().unwrap_or_default(),
        expiration_seconds: source
            .expiration_seconds
            .unwrap_or(DEFAULT_EXPIRATION_SECONDS),
    };
    let now = Timestamp::now();
    // Jitter spreads refreshes of many pods; the clock's nanoseconds are random enough.
    let jitter = i64::from(now.subsec_nanosecond()) % MAX_JITTER_SECONDS;
    if let Some(c) = lock().get(&key)
        && !c.needs_refresh(now, jitter)
    {
        return Ok(c.token.clone().into_bytes());
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: if key.audience.is_empty() {
                Vec::new()
            } else {
                vec![key.audience.clone()]
            },
            expiration_seconds: Some(key.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.name_any()),
                uid: pod.uid(),
            }),
        },
        ..TokenRequest::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let answered = match api
        .create_token_request(&service_account, &PostParams::default(), &request)
        .await
    {
        Ok(tr) => tr,
        Err(e) => {
            // Upstream keeps serving a still-valid token when a refresh fails.
            if let Some(c) = lock().get(&key)
                && c.expires > now
            {
                tracing::warn!(pod = %pod.name_any(), error = %e, "token refresh failed; keeping the current token");
                return Ok(c.token.clone().into_bytes());
            }
            return Err(VolumeError::Missing(format!(
                "failed to fetch token for service account {namespace}/{service_account}: {e}"
            )));
        }
    };
    let status = answered.status.ok_or_else(|| {
        VolumeError::Missing(format!(
            "the token request for {namespace}/{service_account} returned no token"
        ))
    })?;
    let ttl_seconds = answered
        .spec
        .expiration_seconds
        .unwrap_or(key.expiration_seconds);
    let expires = status.expiration_timestamp.0;
    let issued = expires
        .checked_sub(jiff::SignedDuration::from_secs(ttl_seconds))
        .unwrap_or(now);
    let mut cache = lock();
    // Expired tokens belong to pods long gone or refreshed since: drop them.
    cache.retain(|_, c| c.expires > now);
    cache.insert(
        key,
        Cached {
            token: status.token.clone(),
            issued,
            expires,
            ttl_seconds,
        },
    );
    Ok(status.token.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn refresh_at_eighty_percent_or_after_a_day() {
        let c = Cached {
            token: "t".into(),
            issued: at(1_000_000),
            expires: at(1_000_000 + 3600),
            ttl_seconds: 3600,
        };
        // 80% of 3600 s = 2880 s.
        assert!(!c.needs_refresh(at(1_000_000 + 2879), 0));
        assert!(c.needs_refresh(at(1_000_000 + 2880), 0));
        assert!(c.needs_refresh(at(1_000_000 + 2875), 5));
        let long = Cached {
            expires: at(1_000_000 + 7 * 24 * 3600),
            ttl_seconds: 7 * 24 * 3600,
            ..c
        };
        assert!(!long.needs_refresh(at(1_000_000 + 23 * 3600), 0));
        assert!(long.needs_refresh(at(1_000_000 + 24 * 3600), 0));
    }
}
