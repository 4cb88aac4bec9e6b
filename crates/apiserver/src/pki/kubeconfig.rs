//! Kubeconfig files (cluster, user and context all named `default`, as k3s writes them).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::PkiError;
use super::files::{SECRET_MODE, ensure_dir, write_atomic};

/// How the kubeconfig's user authenticates.
#[derive(Clone, Copy)]
pub enum Credentials<'a> {
    /// A client certificate and its key, both PEM.
    ClientCert {
        /// The certificate, PEM.
        cert_pem: &'a str,
        /// The private key, PEM.
        key_pem: &'a str,
    },
    /// A bearer token.
    Token(&'a str),
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ClientCert { .. } => f.write_str("ClientCert(<redacted>)"),
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// A YAML string scalar: JSON string syntax is a valid YAML double-quoted scalar.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Renders a kubeconfig: server URL, CA data and the user's credentials, with cluster,
/// user and context all named `default`.
pub fn kubeconfig_yaml(server_url: &str, ca_pem: &str, credentials: Credentials<'_>) -> String {
    let user = match credentials {
        Credentials::ClientCert { cert_pem, key_pem } => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            STANDARD.encode(cert_pem),
            STANDARD.encode(key_pem)
        ),
        Credentials::Token(token) => format!("    token: {}\n", quote(token)),
    };
    format!(
        "apiVersion: v1\n\
         clusters:\n\
         - cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: default\n\
         contexts:\n\
         - context:\n    cluster: default\n    user: default\n  name: default\n\
         current-context: default\n\
         kind: Config\n\
         preferences: {{}}\n\
         users:\n\
         - name: default\n  user:\n{user}",
        ca = STANDARD.encode(ca_pem),
        server = quote(server_url),
    )
}

/// Writes a kubeconfig with client certificate credentials to `path` (mode 0600,
/// atomically; missing parent directories are created).
pub fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), PkiError> {
    write_kubeconfig_with(
        path,
        server_url,
        ca_pem,
        Credentials::ClientCert { cert_pem, key_pem },
    )
}

/// Writes a kubeconfig with any [`Credentials`] to `path` (mode 0600, atomically).
pub fn write_kubeconfig_with(
    path: &Path,
    server_url: &str,
    ca_pem: &str,
    credentials: Credentials<'_>,
) -> Result<(), PkiError> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        ensure_dir(dir)?;
    }
    let yaml = kubeconfig_yaml(server_url, ca_pem, credentials);
    write_atomic(path, yaml.as_bytes(), SECRET_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_kubeconfig_is_valid_yaml() {
        let y = kubeconfig_yaml("https://127.0.0.1:6443", "CA", Credentials::Token("a\"b:c"));
        let v: serde_json::Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(v["users"][0]["user"]["token"], "a\"b:c");
        assert_eq!(
            v["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(v["current-context"], "default");
        assert_eq!(
            v["clusters"][0]["cluster"]["certificate-authority-data"],
            "Q0E="
        );
    }
}
