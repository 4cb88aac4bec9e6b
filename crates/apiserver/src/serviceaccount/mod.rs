//! Service-account tokens, as upstream's apiserver issues and accepts them:
//!
//! - [`keys`]: the cluster's signing key (ECDSA P-256), generated on first start and kept in
//!   the data dir (`tls/service.key`), so tokens survive restarts; its JWKS form;
//! - [`jwt`]: compact ES256 JSON Web Tokens (sign, verify);
//! - [`claims`]: upstream's claims (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti` and the
//!   private `kubernetes.io` claim binding the token to a ServiceAccount and Pod/Secret/Node);
//! - [`token_request`]: `POST …/serviceaccounts/{name}/token` (TokenRequest);
//! - [`authenticator`]: bearer tokens signed by the key, for the API audiences, unexpired,
//!   whose bound objects still exist with the same uid → `system:serviceaccount:<ns>:<name>`;
//! - [`discovery`]: `/.well-known/openid-configuration` and `/openid/v1/jwks`.

pub mod authenticator;
pub mod claims;
pub mod discovery;
pub mod jwt;
pub mod keys;
pub mod token_request;

use std::sync::Arc;

use axum::Router;

pub use authenticator::ServiceAccountAuthenticator;
pub use keys::{KeyError, SigningKey};

/// The issuer (`iss`) and the API audience, as k3s configures them.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Upstream's user name of a service account: `system:serviceaccount:<ns>:<name>`.
pub fn user_name(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The groups every service account is in (besides `system:authenticated`).
pub fn groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_string(),
        format!("system:serviceaccounts:{namespace}"),
    ]
}

/// What issuing and checking tokens needs: the key, the issuer, the API audiences, the
/// registry (for the objects tokens bind to) and the clock.
#[derive(Clone)]
pub struct Tokens {
    /// The signing key.
    pub key: Arc<SigningKey>,
    /// `iss` of issued tokens (and the only one accepted).
    pub issuer: String,
    /// The apiserver's audiences: the default of a TokenRequest, and what a presented token
    /// must be meant for (one of them).
    pub audiences: Vec<String>,
    /// Where ServiceAccounts, Pods, Secrets and Nodes are read.
    pub registry: crate::registry::Registry,
    /// The clock (shared with the registry).
    pub clock: crate::registry::Clock,
}

impl Tokens {
    /// Tokens signed with `key`, issued by and for [`DEFAULT_ISSUER`].
    pub fn new(
        key: Arc<SigningKey>,
        registry: crate::registry::Registry,
        clock: crate::registry::Clock,
    ) -> Tokens {
        Tokens {
            key,
            issuer: DEFAULT_ISSUER.to_string(),
            audiences: vec![DEFAULT_ISSUER.to_string()],
            registry,
            clock,
        }
    }

    /// The routes this module serves (TokenRequest, OIDC discovery); authenticated by the
    /// caller's layer.
    pub fn routes(self: &Arc<Self>) -> Router {
        token_request::routes(Arc::clone(self)).merge(discovery::routes(Arc::clone(self)))
    }
}
