//! Errors of the PKI.

use std::path::PathBuf;

/// Everything that can go wrong while creating, loading or using the cluster PKI.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading, writing or creating a file or directory failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", "create directory", ...).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A certificate or key file exists but could not be parsed.
    #[error("parse {path}: {reason}")]
    Parse {
        /// The file that could not be parsed.
        path: PathBuf,
        /// Why parsing failed.
        reason: String,
    },
    /// A PEM string handed to us (not read from a file) is not a usable certificate or key.
    #[error("invalid PEM input: {0}")]
    InvalidPem(String),
    /// An extra subject alternative name (`--tls-san`) is neither an IP address nor a
    /// valid DNS name.
    #[error("invalid subject alternative name {0:?}")]
    InvalidSan(String),
    /// A common name or group name cannot be put in a certificate.
    #[error("invalid certificate subject: {0}")]
    InvalidSubject(String),
    /// Certificate or key generation failed.
    #[error("generate certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// The rustls server configuration could not be built from our certificates.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The client certificate verifier could not be built from the CA.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The system clock is outside the range certificates can express.
    #[error("system clock out of range: {0}")]
    Clock(String),
}
