//! Accepting service-account tokens as bearer tokens, as upstream's bound-token
//! authenticator: the token must be a JWT signed by the cluster key, from our issuer, meant
//! for one of the API audiences, within its validity (upstream's one-minute leeway), and
//! every object it is bound to — the ServiceAccount, and the Pod, Secret or Node — must still
//! exist with the same uid and not have been deleted more than a minute ago. The user is
//! `system:serviceaccount:<ns>:<name>` (uid = the ServiceAccount's) in
//! `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.

use std::sync::Arc;

use rkube_api::resources::{ResourceInfo, find};
use serde_json::Value;

use super::Tokens;
use super::claims::{Claims, Ref};
use crate::authn::{AUTHENTICATED_GROUP, UserInfo};
use crate::registry::meta::meta_str;

/// Clock skew tolerated on `exp`, `nbf` and `iat` (go-jose's default, which upstream uses).
pub const LEEWAY_SECONDS: i64 = 60;
/// A bound object being deleted invalidates its tokens this long after its deletion began.
pub const DELETION_GRACE_SECONDS: i64 = 60;

/// Why a token was refused (logged; clients see 401).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not a JWT signed by our key, or not from our issuer.
    #[error("not a service account token of this cluster")]
    NotOurs,
    /// The claims are not a service-account token's.
    #[error("malformed claims")]
    Claims,
    /// Meant for other audiences.
    #[error("token audiences {0:?} do not include the API audiences")]
    Audience(Vec<String>),
    /// Expired.
    #[error("service account token has expired")]
    Expired,
    /// Not valid yet.
    #[error("service account token is not valid yet")]
    NotYetValid,
    /// A bound object is gone, replaced, or being deleted.
    #[error("{0}")]
    Binding(String),
}

/// The service-account token authenticator (cheap to clone).
#[derive(Clone)]
pub struct ServiceAccountAuthenticator {
    tokens: Arc<Tokens>,
}

impl std::fmt::Debug for ServiceAccountAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountAuthenticator")
            .field("issuer", &self.tokens.issuer)
            .finish()
    }
}

fn info(plural: &str) -> &'static ResourceInfo {
    find("", "v1", plural).expect("core resources are built in")
}

impl ServiceAccountAuthenticator {
    /// Accepts tokens `tokens` issues.
    pub fn new(tokens: Arc<Tokens>) -> ServiceAccountAuthenticator {
        ServiceAccountAuthenticator { tokens }
    }

    /// The user a bearer token authenticates as, or why it does not.
    pub async fn authenticate(&self, token: &str) -> Result<UserInfo, Invalid> {
        let t = &self.tokens;
        if !super::jwt::looks_like_jwt(token) {
            return Err(Invalid::NotOurs);
        }
        let raw = super::jwt::decode(&t.key, token).ok_or(Invalid::NotOurs)?;
        if raw["iss"] != t.issuer.as_str() {
            return Err(Invalid::NotOurs);
        }
        let claims = Claims::parse(raw).ok_or(Invalid::Claims)?;
        if !claims.aud.iter().any(|a| t.audiences.contains(a)) {
            return Err(Invalid::Audience(claims.aud));
        }
        let now = (t.clock)().as_second();
        if now > claims.exp + LEEWAY_SECONDS {
            return Err(Invalid::Expired);
        }
        if now + LEEWAY_SECONDS < claims.nbf || now + LEEWAY_SECONDS < claims.iat {
            return Err(Invalid::NotYetValid);
        }
        let k = &claims.kubernetes;
        if k.namespace.is_empty() || k.serviceaccount.name.is_empty() {
            return Err(Invalid::Claims);
        }
        let ns = k.namespace.as_str();
        self.check_bound("serviceaccounts", Some(ns), &k.serviceaccount, now)
            .await?;
        if let Some(pod) = &k.pod {
            self.check_bound("pods", Some(ns), pod, now).await?;
        }
        if let Some(secret) = &k.secret {
            self.check_bound("secrets", Some(ns), secret, now).await?;
        }
        // A pod's node is informational; a token bound to a node directly needs the node.
        if k.pod.is_none()
            && k.secret.is_none()
            && let Some(node) = &k.node
        {
            self.check_bound("nodes", None, node, now).await?;
        }
        let mut groups = super::groups(ns);
        groups.push(AUTHENTICATED_GROUP.to_string());
        Ok(UserInfo {
            name: super::user_name(ns, &k.serviceaccount.name),
            uid: k.serviceaccount.uid.clone(),
            groups,
        })
    }

    /// The object `r` names must exist with its uid and not be long in deletion.
    async fn check_bound(
        &self,
        plural: &str,
        ns: Option<&str>,
        r: &Ref,
        now: i64,
    ) -> Result<(), Invalid> {
        let what = info(plural);
        let obj: Value = self
            .tokens
            .registry
            .get(what, ns, &r.name)
            .await
            .map_err(|e| {
                Invalid::Binding(format!("{} {:?}: {}", what.singular, r.name, e.message))
            })?;
        if meta_str(&obj, "uid") != Some(r.uid.as_str()) {
            return Err(Invalid::Binding(format!(
                "{} {:?} has uid {:?}, the token names {:?}",
                what.singular,
                r.name,
                meta_str(&obj, "uid").unwrap_or_default(),
                r.uid
            )));
        }
        if let Some(deleted) =
            meta_str(&obj, "deletionTimestamp").and_then(|t| t.parse::<jiff::Timestamp>().ok())
            && deleted.as_second() + DELETION_GRACE_SECONDS < now
        {
            return Err(Invalid::Binding(format!(
                "{} {:?} is being deleted",
                what.singular, r.name
            )));
        }
        Ok(())
    }
}
