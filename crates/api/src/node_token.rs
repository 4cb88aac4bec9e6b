//! The node join token, k3s's format: `K10<sha256 of the cluster CA PEM>::server:<secret>`.
//! The server writes it; an agent pins the CA by the hash and presents the secret.

use sha2::{Digest, Sha256};

/// The token's prefix (k3s's "secure" token format version).
const PREFIX: &str = "K10";

/// The token for the cluster whose CA is `ca_pem`, with `secret`.
pub fn token(ca_pem: &str, secret: &str) -> String {
    format!("{PREFIX}{}::server:{secret}", ca_hash(ca_pem.as_bytes()))
}

/// The hex SHA-256 of the CA PEM, as the token carries it.
pub fn ca_hash(ca_pem: &[u8]) -> String {
    Sha256::digest(ca_pem)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Splits a token into (CA hash, secret); `None` when it is not of the `K10…::server:…` form.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.trim().strip_prefix(PREFIX)?;
    let (hash, secret) = rest.split_once("::")?;
    let secret = secret.strip_prefix("server:").unwrap_or(secret);
    (hash.len() == 64 && !secret.is_empty()).then_some((hash, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trip() {
        let ca = "-----BEGIN CERTIFICATE-----\nabc\n";
        let t = token(ca, "s3cret");
        assert!(t.starts_with("K10") && t.ends_with("::server:s3cret"));
        let (hash, secret) = parse_token(&t).unwrap();
        assert_eq!(hash, ca_hash(ca.as_bytes()));
        assert_eq!(secret, "s3cret");
        assert!(parse_token("K10short::server:x").is_none());
        assert!(parse_token("plain-password").is_none());
        assert!(parse_token(&format!("K10{}::server:", "a".repeat(64))).is_none());
    }
}
