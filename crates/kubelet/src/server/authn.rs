//! Who may use the kubelet API. Authentication: a client certificate issued by the cluster CA
//! (upstream's `--client-ca-file`; anonymous requests are refused with 401, as with
//! `--anonymous-auth=false`). Authorization: upstream asks the apiserver (webhook mode, RBAC's
//! `system:kubelet-api-admin`); until RBAC exists the kubelet itself allows exactly the
//! apiserver's kubelet-client identity and answers everyone else with upstream's 403 text.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

/// The user name of the apiserver's client certificate for kubelets.
pub const APISERVER_KUBELET_CLIENT: &str = "kube-apiserver-kubelet-client";
/// The group of identities allowed to use the whole kubelet API.
pub const KUBELET_API_ADMIN_GROUP: &str = "kubelet-api-admin";

/// An authenticated client: the certificate's CN and O values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// User name (subject CN).
    pub user: String,
    /// Groups (subject O values).
    pub groups: Vec<String>,
}

/// What a connection's client presented, as each of its requests sees it.
#[derive(Clone, Debug)]
pub struct Peer(pub Option<Identity>);

/// Why the client CA could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The PEM held no usable certificate.
    #[error("client CA: {0}")]
    Pem(String),
    /// rustls refused the CA.
    #[error("client CA: {0}")]
    Rustls(String),
}

/// Checks client certificate chains against the cluster CA.
#[derive(Clone, Debug)]
pub struct ClientCa {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCa {
    /// The checker for certificates issued by the CA(s) in `pem`.
    pub fn from_pem(pem: &str) -> Result<ClientCa, CaError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| CaError::Pem(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| CaError::Rustls(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(CaError::Pem("no certificate in PEM".into()));
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| CaError::Rustls(e.to_string()))?;
        Ok(ClientCa { verifier })
    }

    /// The identity of a chain (leaf first) issued by the CA and valid now; `None` otherwise.
    pub fn authenticate(&self, chain: &[CertificateDer<'_>]) -> Option<Identity> {
        let (leaf, intermediates) = chain.split_first()?;
        if let Err(e) = self
            .verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
        {
            tracing::debug!(error = %e, "client certificate rejected");
            return None;
        }
        identity_of(leaf)
    }
}

/// The subject of a DER certificate as a Kubernetes identity.
fn identity_of(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(Identity { user, groups })
}

/// The authorization attributes of a request (upstream's kubelet maps every request onto the
/// Node resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `create`, `update`, `patch`, `delete`.
    pub verb: &'static str,
    /// Always `nodes`.
    pub resource: &'static str,
    /// `stats`, `metrics`, `log`, `spec`, or `proxy` for everything else.
    pub subresource: &'static str,
}

/// The attributes of `method` on `path`.
pub fn attributes(method: &http::Method, path: &str) -> Attributes {
    let verb = match *method {
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "get",
    };
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    let subresource = if under("/stats") {
        "stats"
    } else if under("/metrics") {
        "metrics"
    } else if under("/logs") {
        "log"
    } else if under("/spec") {
        "spec"
    } else {
        "proxy"
    };
    Attributes {
        verb,
        resource: "nodes",
        subresource,
    }
}

/// Whether `who` may make a request with `attrs`; the 403 text when not.
pub fn authorize(who: &Identity, attrs: &Attributes) -> Result<(), String> {
    if who.user == APISERVER_KUBELET_CLIENT
        || who.groups.iter().any(|g| g == KUBELET_API_ADMIN_GROUP)
    {
        return Ok(());
    }
    Err(format!(
        "Forbidden (user={}, verb={}, resource={}, subresource={})",
        who.user, attrs.verb, attrs.resource, attrs.subresource
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_follow_the_path() {
        let a = attributes(&http::Method::GET, "/containerLogs/ns/p/c");
        assert_eq!((a.verb, a.subresource), ("get", "proxy"));
        let a = attributes(&http::Method::POST, "/exec/ns/p/c");
        assert_eq!((a.verb, a.subresource), ("create", "proxy"));
        assert_eq!(
            attributes(&http::Method::GET, "/stats/summary").subresource,
            "stats"
        );
        assert_eq!(
            attributes(&http::Method::GET, "/metrics").subresource,
            "metrics"
        );
        assert_eq!(
            attributes(&http::Method::GET, "/statsx").subresource,
            "proxy"
        );
    }

    #[test]
    fn only_the_apiserver_identity_is_allowed() {
        let attrs = attributes(&http::Method::GET, "/healthz");
        let apiserver = Identity {
            user: APISERVER_KUBELET_CLIENT.into(),
            groups: vec![KUBELET_API_ADMIN_GROUP.into()],
        };
        assert!(authorize(&apiserver, &attrs).is_ok());
        let admin = Identity {
            user: "system:admin".into(),
            groups: vec!["system:masters".into()],
        };
        assert_eq!(
            authorize(&admin, &attrs).unwrap_err(),
            "Forbidden (user=system:admin, verb=get, resource=nodes, subresource=proxy)"
        );
    }

    #[test]
    fn a_bad_ca_is_an_error() {
        assert!(ClientCa::from_pem("not a pem").is_err());
    }
}
