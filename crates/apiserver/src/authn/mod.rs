//! Authentication: who is making a request.
//!
//! Sources, in upstream's order: a client certificate that verifies against the client CA
//! (user = CN, groups = O values), then a bearer token (`Authorization: Bearer <t>`) from
//! the static token file, then (only if enabled) anonymous — unless a certificate failed
//! to verify and no token authenticated: that is a 401, as upstream's fail-on-error
//! anonymous step answers. Every authenticated non-anonymous user also
//! gets the group `system:authenticated`. A request that authenticates has its
//! `Authorization` header removed (as upstream does, so it never reaches a proxied
//! backend) and a [`UserInfo`] in its extensions; one that does not gets HTTP 401 with
//! upstream's `Status` body. See [`layer`].

mod layer;
pub mod review;
mod token_file;

use std::path::PathBuf;

use http::HeaderMap;

use crate::pki::ClientCa;
use crate::serve::{ClientCertIdentity, PeerCertificates};

pub use layer::{AuthnLayer, AuthnService, UNAUTHORIZED_BODY, layer, unauthorized_response};
pub use token_file::TokenFile;

/// Group added to every authenticated (non-anonymous) user.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// Group of the anonymous user.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
/// User name of unauthenticated requests when anonymous access is enabled.
pub const ANONYMOUS_USER: &str = "system:anonymous";

/// The authenticated user of a request (upstream's `user.Info`, without `extra`).
#[derive(Clone, Debug, PartialEq)]
pub struct UserInfo {
    /// User name, e.g. `system:admin` or `system:node:n1`.
    pub name: String,
    /// Unique id; empty for certificate users.
    pub uid: String,
    /// Groups, e.g. `system:masters`, `system:authenticated`.
    pub groups: Vec<String>,
}

/// Errors of the authentication configuration (not of requests: those are [`Rejection`]).
#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    /// The token file could not be read.
    #[error("read token file {path}: {source}")]
    Io {
        /// The token file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The token file is malformed.
    #[error("token file line {line}: {reason}")]
    TokenFile {
        /// 1-based line of the offending record.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Why a request was not authenticated (for logs; clients only see 401).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The request carried no usable credentials and anonymous access is off.
    #[error("no credentials")]
    NoCredentials,
    /// A bearer token was presented but is not known.
    #[error("invalid bearer token")]
    InvalidBearerToken,
    /// A client certificate was presented that does not verify against the client CA.
    #[error("client certificate not issued by the client CA")]
    UntrustedClientCertificate,
}

/// Authenticates requests from their client certificate identity and headers.
#[derive(Clone, Debug, Default)]
pub struct Authenticator {
    tokens: Option<TokenFile>,
    anonymous: bool,
    client_ca: Option<ClientCa>,
    service_accounts: Option<crate::serviceaccount::ServiceAccountAuthenticator>,
}

impl Authenticator {
    /// An authenticator accepting nothing yet (anonymous off): add a client CA, tokens.
    pub fn new() -> Authenticator {
        Authenticator::default()
    }

    /// Accepts client certificates issued by `ca` (upstream's `--client-ca-file`). Without
    /// one, presented certificates are ignored.
    pub fn with_client_ca(mut self, ca: ClientCa) -> Authenticator {
        self.client_ca = Some(ca);
        self
    }

    /// Also accepts the bearer tokens of `tokens` (upstream's `--token-auth-file`).
    pub fn with_token_file(mut self, tokens: TokenFile) -> Authenticator {
        self.tokens = Some(tokens);
        self
    }

    /// Also accepts service-account tokens (checked after the token file, asynchronously by
    /// the [`layer`], since they are verified against stored objects).
    pub fn with_service_account_tokens(
        mut self,
        tokens: crate::serviceaccount::ServiceAccountAuthenticator,
    ) -> Authenticator {
        self.service_accounts = Some(tokens);
        self
    }

    /// The service-account token authenticator, if enabled.
    pub fn service_accounts(&self) -> Option<&crate::serviceaccount::ServiceAccountAuthenticator> {
        self.service_accounts.as_ref()
    }

    /// Lets requests without credentials through as `system:anonymous` in
    /// `system:unauthenticated` (upstream's `--anonymous-auth`; off by default, as k3s).
    /// A bad bearer token is still rejected.
    pub fn with_anonymous(mut self, anonymous: bool) -> Authenticator {
        self.anonymous = anonymous;
        self
    }

    /// Authenticates a request given the certificate chain its client presented (from
    /// [`crate::serve`], unverified) and its headers.
    pub fn authenticate_request(
        &self,
        chain: Option<&PeerCertificates>,
        headers: &HeaderMap,
    ) -> Result<UserInfo, Rejection> {
        let (Some(chain), Some(ca)) = (chain, &self.client_ca) else {
            return self.authenticate(None, headers);
        };
        let verdict = chain.verdict.get_or_init(|| {
            ca.verify(&chain.chain)
                .map(|()| {
                    chain
                        .chain
                        .first()
                        .and_then(|leaf| ClientCertIdentity::from_der(leaf))
                })
                .map_err(|e| e.to_string())
        });
        let identity = match verdict {
            Ok(identity) => identity,
            Err(e) => {
                tracing::debug!(error = %e, "client certificate does not verify");
                return self
                    .authenticate_token(headers)
                    .unwrap_or(Err(Rejection::UntrustedClientCertificate));
            }
        };
        self.authenticate(identity.as_ref(), headers)
    }

    /// Authenticates a request given its verified client certificate identity and headers.
    pub fn authenticate(
        &self,
        cert: Option<&ClientCertIdentity>,
        headers: &HeaderMap,
    ) -> Result<UserInfo, Rejection> {
        if let Some(id) = cert
            && !id.common_name.is_empty()
        {
            return Ok(with_authenticated_group(UserInfo {
                name: id.common_name.clone(),
                uid: String::new(),
                groups: id.organizations.clone(),
            }));
        }
        if let Some(result) = self.authenticate_token(headers) {
            return result;
        }
        if self.anonymous {
            return Ok(UserInfo {
                name: ANONYMOUS_USER.to_string(),
                uid: String::new(),
                groups: vec![UNAUTHENTICATED_GROUP.to_string()],
            });
        }
        Err(Rejection::NoCredentials)
    }
}

impl Authenticator {
    /// The bearer token's verdict, `None` when the request has no bearer token.
    fn authenticate_token(&self, headers: &HeaderMap) -> Option<Result<UserInfo, Rejection>> {
        let token = bearer_token(headers)?;
        Some(match self.tokens.as_ref().and_then(|t| t.lookup(token)) {
            Some(user) => Ok(with_authenticated_group(user.clone())),
            None => Err(Rejection::InvalidBearerToken),
        })
    }
}

/// The bearer token of an `Authorization` header, parsed as upstream does: trimmed, split
/// on spaces, scheme `bearer` in any case, non-empty token. `None` if there is none.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Adds `system:authenticated` unless present (upstream's AuthenticatedGroupAdder).
fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    if !user.groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.to_string());
    }
    user
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    fn authn() -> Authenticator {
        Authenticator::new().with_token_file(TokenFile::parse("s3cret,alice,u1,\"a,b\"\n").unwrap())
    }

    #[test]
    fn certificate_first() {
        let id = ClientCertIdentity {
            common_name: "system:admin".into(),
            organizations: vec!["system:masters".into()],
        };
        let u = authn()
            .authenticate(Some(&id), &headers("Bearer wrong"))
            .unwrap();
        assert_eq!(u.name, "system:admin");
        assert_eq!(u.groups, ["system:masters", "system:authenticated"]);
    }

    #[test]
    fn empty_common_name_falls_through_to_token() {
        let id = ClientCertIdentity {
            common_name: String::new(),
            organizations: vec![],
        };
        let u = authn()
            .authenticate(Some(&id), &headers("Bearer s3cret"))
            .unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, ["a", "b", "system:authenticated"]);
    }

    #[test]
    fn token_parsing() {
        let a = authn();
        assert!(a.authenticate(None, &headers("bearer  s3cret")).is_err());
        assert_eq!(
            a.authenticate(None, &headers("  BEARER s3cret "))
                .unwrap()
                .name,
            "alice"
        );
        assert_eq!(
            a.authenticate(None, &headers("Bearer s3cret extra"))
                .unwrap()
                .name,
            "alice"
        );
        assert_eq!(
            a.authenticate(None, &headers("Bearer nope")),
            Err(Rejection::InvalidBearerToken)
        );
        assert_eq!(
            a.authenticate(None, &headers("Basic Zm9vOmJhcg==")),
            Err(Rejection::NoCredentials)
        );
        assert_eq!(
            a.authenticate(None, &HeaderMap::new()),
            Err(Rejection::NoCredentials)
        );
    }

    #[test]
    fn client_certificates_verify_against_the_client_ca() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        crate::pki::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let sans = crate::pki::SanConfig::default();
        let ours = crate::pki::Pki::load_or_create(&dir.path().join("a"), &sans).unwrap();
        let theirs = crate::pki::Pki::load_or_create(&dir.path().join("b"), &sans).unwrap();
        let chain = |pki: &crate::pki::Pki| {
            let der = CertificateDer::from_pem_slice(pki.admin().cert_pem.as_bytes()).unwrap();
            PeerCertificates::new(vec![der].into())
        };
        let a = authn()
            .with_client_ca(ours.client_ca().unwrap())
            .with_anonymous(true);
        let none = HeaderMap::new();
        let admin = a.authenticate_request(Some(&chain(&ours)), &none).unwrap();
        assert_eq!(admin.name, "system:admin");
        // A foreign certificate is a 401 even with anonymous access on, unless a valid
        // token authenticates the request.
        assert_eq!(
            a.authenticate_request(Some(&chain(&theirs)), &none),
            Err(Rejection::UntrustedClientCertificate)
        );
        assert_eq!(
            a.authenticate_request(Some(&chain(&theirs)), &headers("Bearer s3cret"))
                .unwrap()
                .name,
            "alice"
        );
        assert_eq!(
            a.authenticate_request(Some(&chain(&theirs)), &headers("Bearer nope")),
            Err(Rejection::InvalidBearerToken)
        );
        // Without a client CA, certificates are not a credential at all.
        assert_eq!(
            authn().authenticate_request(Some(&chain(&ours)), &none),
            Err(Rejection::NoCredentials)
        );
    }

    #[test]
    fn anonymous() {
        let a = authn().with_anonymous(true);
        let u = a.authenticate(None, &HeaderMap::new()).unwrap();
        assert_eq!(u.name, ANONYMOUS_USER);
        assert_eq!(u.groups, [UNAUTHENTICATED_GROUP]);
        assert_eq!(
            a.authenticate(None, &headers("Bearer nope")),
            Err(Rejection::InvalidBearerToken)
        );
    }
}
