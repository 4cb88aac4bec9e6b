//! Client certificates as upstream's serving takes them (Go's `tls.RequestClientCert`): the
//! handshake asks for one, hinting the cluster CA, and accepts whatever chain is sent once the
//! client has proved it holds the certificate's key. Whether the chain leads to the CA is the
//! authenticator's question ([`ClientCa`], upstream's x509 authenticator), so a certificate
//! from another CA gets HTTP 401 — or loses to a valid bearer token sent along — instead of a
//! failed handshake.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use super::PkiError;

/// Checks the certificate chains clients present against the cluster CA.
#[derive(Clone, Debug)]
pub struct ClientCa {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCa {
    /// The checker for certificates issued by `ca`.
    pub fn new(ca: &CertificateDer<'static>) -> Result<ClientCa, PkiError> {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone())?;
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .allow_unauthenticated()
        .build()?;
        Ok(ClientCa { verifier })
    }

    /// Whether `chain` (leaf first, as the client sent it) is a client certificate of the CA,
    /// valid now; the error says why not.
    pub fn verify(&self, chain: &[CertificateDer<'_>]) -> Result<(), rustls::Error> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or(rustls::Error::NoCertificatesPresented)?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map(|_| ())
    }

    /// The handshake side: asks for a certificate, accepts any, checks the key possession
    /// signatures as the CA's verifier does.
    pub(super) fn handshake_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(AnyClientCert {
            inner: Arc::clone(&self.verifier),
        })
    }
}

/// A verifier that defers the chain check (see the module docs).
#[derive(Debug)]
struct AnyClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
