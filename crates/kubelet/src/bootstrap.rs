//! Joining a cluster with a node token (k3s's flow): fetch the cluster CA from `/cacerts`
//! without trusting anything yet, check it against the token's SHA-256, then trade the token's
//! secret for this node's client certificate over a connection that now verifies the server.
//! The result is written as the agent's kubeconfig.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rkube_api::node_token::{ca_hash, parse_token};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why joining failed; each message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The token is not `K10<hash>::server:<secret>`.
    #[error(
        "the node token is not in the K10<ca-hash>::server:<secret> form; copy it from <data-dir>/node-token on the server"
    )]
    TokenFormat,
    /// The server URL is not `https://host:port`.
    #[error("server URL {0:?} must look like https://host:6443")]
    Url(String),
    /// The server could not be reached.
    #[error("cannot reach the server at {url}: {source}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA the server presented does not match the token: a different cluster, or someone
    /// in between.
    #[error(
        "the server's CA does not match the node token (hash {got}); is this the right server and token?"
    )]
    CaMismatch {
        /// The hash of what the server sent.
        got: String,
    },
    /// The server refused the token or answered oddly.
    #[error("the server answered {code}: {message}")]
    Refused {
        /// HTTP status.
        code: u16,
        /// Its message.
        message: String,
    },
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The kubeconfig could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn host_port(url: &str) -> Result<(String, u16), JoinError> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| JoinError::Url(url.into()))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse().map_err(|_| JoinError::Url(url.into()))?)
        }
        _ => (authority, 6443),
    };
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// Trust-on-first-use verifier for `/cacerts`: the CA it returns is checked against the token.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// One HTTP/1.1 request over TLS; returns (status, body).
async fn request(
    url: &str,
    config: rustls::ClientConfig,
    head: String,
    body: &[u8],
) -> Result<(u16, Vec<u8>), JoinError> {
    let (host, port) = host_port(url)?;
    let connect = |source| JoinError::Connect {
        url: url.into(),
        source,
    };
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(connect)?;
    let name = ServerName::try_from(host.clone()).map_err(|e| JoinError::Tls(e.to_string()))?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(connect)?;
    tls.write_all(head.as_bytes()).await.map_err(connect)?;
    tls.write_all(body).await.map_err(connect)?;
    let mut response = Vec::new();
    // The server closes after answering (Connection: close); a TLS close without
    // close_notify still leaves us the whole response.
    let _ = tls.read_to_end(&mut response).await;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(JoinError::Refused {
            code: 0,
            message: "malformed HTTP response".into(),
        })?;
    let head = String::from_utf8_lossy(&response[..split]);
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, response[split + 4..].to_vec()))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Joins the cluster at `server` as `node_name`; writes the agent's kubeconfig to `kubeconfig`
/// and returns it.
pub async fn join(
    server: &str,
    token: &str,
    node_name: &str,
    kubeconfig: &Path,
) -> Result<PathBuf, JoinError> {
    let (hash, secret) = parse_token(token).ok_or(JoinError::TokenFormat)?;
    let (host, port) = host_port(server)?;
    let tls_err = |e: rustls::Error| JoinError::Tls(e.to_string());

    let insecure = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider())))
        .with_no_client_auth();
    let head = format!("GET /cacerts HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    let (code, ca) = request(server, insecure, head, b"").await?;
    if code != 200 {
        return Err(JoinError::Refused {
            code,
            message: String::from_utf8_lossy(&ca).into_owned(),
        });
    }
    let got = ca_hash(&ca);
    if got != hash {
        return Err(JoinError::CaMismatch { got });
    }
    let ca_pem = String::from_utf8_lossy(&ca).into_owned();

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        roots
            .add(cert.map_err(|e| JoinError::Tls(e.to_string()))?)
            .map_err(tls_err)?;
    }
    let verified = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let body = serde_json::json!({ "nodeName": node_name }).to_string();
    let head = format!(
        "POST /v1-rkube/node-credentials HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {secret}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (code, answer) = request(server, verified, head, body.as_bytes()).await?;
    let doc: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    if code != 200 {
        let message = doc["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&answer).into_owned(),
            str::to_string,
        );
        return Err(JoinError::Refused { code, message });
    }
    let field = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\n\
         users:\n- name: default\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
         contexts:\n- name: default\n  context:\n    cluster: default\n    user: default\ncurrent-context: default\n",
        b64(&ca_pem),
        b64(&field("certificate")),
        b64(&field("key")),
    );
    let write = |source| JoinError::Write {
        path: kubeconfig.to_path_buf(),
        source,
    };
    if let Some(dir) = kubeconfig.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    std::fs::write(kubeconfig, yaml).map_err(write)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(kubeconfig, std::fs::Permissions::from_mode(0o600)).map_err(write)?;
    Ok(kubeconfig.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_tokens() {
        assert_eq!(
            host_port("https://10.0.0.1:6443").unwrap(),
            ("10.0.0.1".into(), 6443)
        );
        assert_eq!(
            host_port("https://server.example").unwrap(),
            ("server.example".into(), 6443)
        );
        assert_eq!(
            host_port("https://[::1]:7443/").unwrap(),
            ("::1".into(), 7443)
        );
        assert!(host_port("http://x:1").is_err());
        let hash = "a".repeat(64);
        assert_eq!(
            parse_token(&format!("K10{hash}::server:pw")),
            Some((hash.as_str(), "pw"))
        );
        assert!(parse_token("pw").is_none());
    }
}
