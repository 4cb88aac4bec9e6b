//! The cluster PKI, like k3s: a cluster CA generated on first start and kept under
//! `<data-dir>/tls/`, the apiserver's serving certificate, the admin client certificate,
//! client certificates for other identities, and kubeconfig files.
//!
//! Files (keys 0600, certificates 0644, the directory 0700 when we create it):
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | cluster CA, ECDSA P-256, 10 years, CN `rkube-ca@<unix time>` |
//! | `serving-kube-apiserver.crt/.key` | serving certificate (see [`SanConfig`]), 1 year |
//! | `client-admin.crt/.key` | CN `system:admin`, O `system:masters`, 1 year |
//!
//! Leaf certificates are reissued at start when they expire within
//! [`RENEW_BEFORE_DAYS`], were not issued by the current CA, or (serving) their SAN set
//! differs from the configured one. The CA itself is never replaced automatically.

mod cert;
mod client_ca;
mod error;
mod files;
mod kubeconfig;
mod kubelet_client;
mod san;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{Issuer, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

pub use cert::{CA_VALIDITY_DAYS, CertKeyPem, LEAF_VALIDITY_DAYS, RENEW_BEFORE_DAYS};
pub use client_ca::ClientCa;
pub use error::PkiError;
pub use kubeconfig::{Credentials, kubeconfig_yaml, write_kubeconfig, write_kubeconfig_with};
pub use kubelet_client::{KUBELET_API_ADMIN_GROUP, KUBELET_CLIENT_USER, kubelet_client_config};
pub use san::{DEFAULT_DNS_SANS, DEFAULT_SERVICE_IP, SanConfig, SanSet, host_addresses, hostname};

use cert::{CertInfo, Leaf};
use files::{PUBLIC_MODE, SECRET_MODE, ensure_dir, read_optional, write_atomic};

/// CA certificate file name.
pub const CA_CERT_FILE: &str = "ca.crt";
/// CA private key file name.
pub const CA_KEY_FILE: &str = "ca.key";
/// Serving certificate file name.
pub const SERVING_CERT_FILE: &str = "serving-kube-apiserver.crt";
/// Serving private key file name.
pub const SERVING_KEY_FILE: &str = "serving-kube-apiserver.key";
/// Admin client certificate file name.
pub const ADMIN_CERT_FILE: &str = "client-admin.crt";
/// Admin client private key file name.
pub const ADMIN_KEY_FILE: &str = "client-admin.key";

/// User name of the admin client certificate.
pub const ADMIN_USER: &str = "system:admin";
/// Group of the admin client certificate (bound to cluster-admin by RBAC).
pub const MASTERS_GROUP: &str = "system:masters";
/// Group of node client certificates (CN `system:node:<name>`).
pub const NODES_GROUP: &str = "system:nodes";

/// ALPN protocols the apiserver offers, in preference order.
pub const ALPN_PROTOCOLS: &[&[u8]] = &[b"h2", b"http/1.1"];

/// Writes a secret file (mode 0600) atomically.
pub fn write_secret_file(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    files::write_atomic(path, contents, files::SECRET_MODE)
}

/// Installs ring as the process-wide rustls crypto provider. Idempotent: does nothing if
/// a provider is already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether and how the server asks clients for certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Never ask for a client certificate.
    None,
    /// Ask for one; a client may send none. As upstream, any certificate is accepted in
    /// the handshake (the client must still prove it holds the key) and the authenticator
    /// checks it against the cluster CA ([`ClientCa`], [`crate::authn`]): a certificate
    /// from another CA gets HTTP 401, or loses to a valid bearer token sent with it.
    #[default]
    Optional,
    /// Require a certificate chaining to the cluster CA.
    Required,
}

/// The cluster PKI: the CA (with its key, able to issue certificates), the serving
/// certificate and the admin client certificate.
pub struct Pki {
    dir: PathBuf,
    ca: CertKeyPem,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    serving: CertKeyPem,
    serving_sans: SanSet,
    admin: CertKeyPem,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .field("serving_sans", &self.serving_sans)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI from `dir` (normally `<data-dir>/tls`), creating what is missing:
    /// the CA on first start, and the serving and admin certificates whenever they are
    /// missing, unreadable, about to expire, issued by another CA or (serving) carry a
    /// SAN set other than `sans` resolves to.
    ///
    /// A CA certificate without its key is an error (replacing the CA would silently
    /// invalidate every credential issued so far).
    pub fn load_or_create(dir: &Path, sans: &SanConfig) -> Result<Pki, PkiError> {
        install_crypto_provider();
        ensure_dir(dir)?;
        let desired = sans.resolve()?;

        let (ca, ca_info) = load_or_create_ca(dir)?;
        let ca_key =
            cert::parse_key_for(&ca.key_pem, &ca_info).map_err(|reason| PkiError::Parse {
                path: dir.join(CA_KEY_FILE),
                reason,
            })?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(|e| PkiError::Parse {
                path: dir.join(CA_CERT_FILE),
                reason: e.to_string(),
            })?;
        let ca_der =
            CertificateDer::from(cert::first_cert_der(&ca.cert_pem).map_err(|reason| {
                PkiError::Parse {
                    path: dir.join(CA_CERT_FILE),
                    reason,
                }
            })?);
        if ca_info.expires_within_days(365) {
            tracing::warn!(
                path = %dir.join(CA_CERT_FILE).display(),
                "the cluster CA expires within a year; rotate it"
            );
        }

        let serving = load_or_issue_leaf(
            dir,
            SERVING_CERT_FILE,
            SERVING_KEY_FILE,
            &ca_info,
            &issuer,
            Leaf::Serving(&desired),
            |info| {
                if info.sans == desired {
                    None
                } else {
                    Some(format!(
                        "SANs changed from [{}] to [{}]",
                        cert::describe(&info.sans),
                        cert::describe(&desired)
                    ))
                }
            },
        )?;
        let admin = load_or_issue_leaf(
            dir,
            ADMIN_CERT_FILE,
            ADMIN_KEY_FILE,
            &ca_info,
            &issuer,
            Leaf::Client {
                cn: ADMIN_USER,
                groups: &[MASTERS_GROUP],
            },
            |info| {
                (info.common_name.as_deref() != Some(ADMIN_USER)
                    || info.organizations != [MASTERS_GROUP])
                .then(|| "subject differs".to_string())
            },
        )?;

        Ok(Pki {
            dir: dir.to_path_buf(),
            ca,
            ca_der,
            issuer,
            serving,
            serving_sans: desired,
            admin,
        })
    }

    /// The directory the PKI lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cluster CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// The cluster CA certificate, DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The serving certificate and key.
    pub fn serving(&self) -> &CertKeyPem {
        &self.serving
    }

    /// The SANs of the serving certificate.
    pub fn serving_sans(&self) -> &SanSet {
        &self.serving_sans
    }

    /// The admin client certificate (CN `system:admin`, O `system:masters`) and key.
    pub fn admin(&self) -> &CertKeyPem {
        &self.admin
    }

    /// The admin client certificate, DER (what the in-process loopback presents).
    pub fn admin_certificate_der(&self) -> Result<CertificateDer<'static>, PkiError> {
        cert::first_cert_der(&self.admin.cert_pem)
            .map(CertificateDer::from)
            .map_err(PkiError::InvalidPem)
    }

    /// Issues a new client certificate (fresh ECDSA P-256 key, 1 year) for user `cn`
    /// in `groups` (one O attribute each), e.g. `system:kube-scheduler`, or
    /// `system:node:<name>` in `system:nodes`. Nothing is written to disk.
    pub fn issue_client_cert(&self, cn: &str, groups: &[&str]) -> Result<CertKeyPem, PkiError> {
        cert::issue(&self.issuer, Leaf::Client { cn, groups })
    }

    /// Issues a serving certificate for other names (e.g. a kubelet's serving
    /// certificate), signed by the cluster CA. Nothing is written to disk.
    pub fn issue_serving_cert(&self, sans: &SanSet) -> Result<CertKeyPem, PkiError> {
        cert::issue(&self.issuer, Leaf::Serving(sans))
    }

    /// The rustls server configuration of the apiserver: the serving certificate, client
    /// certificates verified against the cluster CA as `client_auth` says, ALPN `h2`
    /// then `http/1.1`, ring as the crypto provider.
    pub fn server_config(
        &self,
        client_auth: ClientAuth,
    ) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        server_config_for(
            &self.serving.cert_pem,
            &self.serving.key_pem,
            &self.ca_der,
            client_auth,
        )
    }

    /// The checker of client certificates against the cluster CA (for the authenticator).
    pub fn client_ca(&self) -> Result<ClientCa, PkiError> {
        ClientCa::new(&self.ca_der)
    }

    /// Writes a kubeconfig for the admin client certificate, pointing at `server_url`.
    pub fn write_admin_kubeconfig(&self, path: &Path, server_url: &str) -> Result<(), PkiError> {
        write_kubeconfig(
            path,
            server_url,
            &self.ca.cert_pem,
            &self.admin.cert_pem,
            &self.admin.key_pem,
        )
    }
}

/// Builds a rustls server configuration from a PEM certificate chain and key, verifying
/// client certificates against `client_ca` as `client_auth` says. ALPN `h2`, `http/1.1`.
pub fn server_config_for(
    cert_chain_pem: &str,
    key_pem: &str,
    client_ca: &CertificateDer<'static>,
    client_auth: ClientAuth,
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::InvalidPem(e.to_string()))?;
    if chain.is_empty() {
        return Err(PkiError::InvalidPem("no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| PkiError::InvalidPem(e.to_string()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional => {
            builder.with_client_cert_verifier(ClientCa::new(client_ca)?.handshake_verifier())
        }
        ClientAuth::Required => {
            let mut roots = RootCertStore::empty();
            roots.add(client_ca.clone())?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            builder.with_client_cert_verifier(verifier.build()?)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn parse_err(path: PathBuf) -> impl FnOnce(String) -> PkiError {
    move |reason| PkiError::Parse { path, reason }
}

fn load_or_create_ca(dir: &Path) -> Result<(CertKeyPem, CertInfo), PkiError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    match (read_optional(&cert_path)?, read_optional(&key_path)?) {
        (Some(cert_pem), Some(key_pem)) => {
            let info = cert::inspect_pem(&cert_pem).map_err(parse_err(cert_path))?;
            Ok((CertKeyPem { cert_pem, key_pem }, info))
        }
        (Some(_), None) => Err(PkiError::Parse {
            path: key_path,
            reason: "the CA certificate exists but its key is missing; refusing to replace the CA"
                .into(),
        }),
        (None, _) => {
            let ca = cert::new_ca()?;
            // Key first: a crash in between leaves a key without certificate, which
            // the next start simply replaces.
            write_atomic(&key_path, ca.key_pem.as_bytes(), SECRET_MODE)?;
            write_atomic(&cert_path, ca.cert_pem.as_bytes(), PUBLIC_MODE)?;
            let info = cert::inspect_pem(&ca.cert_pem).map_err(parse_err(cert_path))?;
            tracing::info!(dir = %dir.display(), cn = ?info.common_name, "generated the cluster CA");
            Ok((ca, info))
        }
    }
}

/// Loads a leaf certificate and key, keeping them if they parse, match, were issued by
/// the CA, are not near expiry and `outdated` finds nothing; otherwise issues and writes
/// a new pair.
fn load_or_issue_leaf(
    dir: &Path,
    cert_file: &str,
    key_file: &str,
    ca: &CertInfo,
    issuer: &Issuer<'static, KeyPair>,
    leaf: Leaf<'_>,
    outdated: impl Fn(&CertInfo) -> Option<String>,
) -> Result<CertKeyPem, PkiError> {
    let cert_path = dir.join(cert_file);
    let key_path = dir.join(key_file);
    let reason = match (read_optional(&cert_path)?, read_optional(&key_path)?) {
        (Some(cert_pem), Some(key_pem)) => {
            let verdict = cert::inspect_pem(&cert_pem).and_then(|info| {
                cert::parse_key_for(&key_pem, &info)?;
                if !info.issued_by(ca) {
                    return Err("issued by another CA".into());
                }
                if info.expires_within_days(RENEW_BEFORE_DAYS) {
                    return Err(format!("expires within {RENEW_BEFORE_DAYS} days"));
                }
                outdated(&info).map_or(Ok(()), Err)
            });
            match verdict {
                Ok(()) => return Ok(CertKeyPem { cert_pem, key_pem }),
                Err(reason) => reason,
            }
        }
        _ => "missing".to_string(),
    };
    let issued = cert::issue(issuer, leaf)?;
    write_atomic(&key_path, issued.key_pem.as_bytes(), SECRET_MODE)?;
    write_atomic(&cert_path, issued.cert_pem.as_bytes(), PUBLIC_MODE)?;
    tracing::info!(file = %cert_path.display(), %reason, "issued certificate");
    Ok(issued)
}
