//! The apiserver's client identity towards kubelets (upstream's `--kubelet-client-certificate`,
//! as kubeadm issues it): CN `kube-apiserver-kubelet-client`, O `kubelet-api-admin`, signed by
//! the cluster CA, issued fresh at every start and kept in memory only.
//!
//! The kubelet's serving certificate is not verified: kubelets serve a self-signed
//! certificate, and upstream's apiserver does not verify it either unless given
//! `--kubelet-certificate-authority`. The client still authenticates itself to the kubelet.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::{CertKeyPem, Pki, PkiError};

/// The user name kubelets authorize.
pub const KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
/// Its group.
pub const KUBELET_API_ADMIN_GROUP: &str = "kubelet-api-admin";

impl Pki {
    /// Issues the apiserver's client certificate for kubelets (nothing is written to disk).
    pub fn issue_kubelet_client_cert(&self) -> Result<CertKeyPem, PkiError> {
        self.issue_client_cert(KUBELET_CLIENT_USER, &[KUBELET_API_ADMIN_GROUP])
    }
}

/// The rustls client configuration for talking to kubelets with `identity`: HTTP/1.1 only
/// (exec and attach are HTTP/1.1 upgrades), the kubelet's certificate not verified.
pub fn kubelet_client_config(identity: &CertKeyPem) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(identity.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::InvalidPem(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .map_err(|e| PkiError::InvalidPem(e.to_string()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert { provider }))
        .with_client_auth_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any kubelet serving certificate (see the module docs); still checks that the
/// server holds the certificate's key.
#[derive(Debug)]
struct AnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_the_kubelet_client_identity() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(
            dir.path(),
            &super::super::SanConfig {
                service_ip: [10, 43, 0, 1].into(),
                extra: vec![],
                include_host: false,
            },
        )
        .unwrap();
        let cert = pki.issue_kubelet_client_cert().unwrap();
        let info = super::super::cert::inspect_pem(&cert.cert_pem).unwrap();
        assert_eq!(info.common_name.as_deref(), Some(KUBELET_CLIENT_USER));
        assert_eq!(info.organizations, [KUBELET_API_ADMIN_GROUP]);
        assert!(kubelet_client_config(&cert).is_ok());
    }
}
