//! The service-account signing key: an ECDSA P-256 key (ES256) in PKCS#8 PEM at
//! `<data-dir>/tls/service.key`, made on first start and reused after (like the cluster CA),
//! so tokens issued before a restart stay valid. Its key id is upstream's: the unpadded
//! base64url SHA-256 of the public key's DER SubjectPublicKeyInfo.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The key file's name inside the PKI directory (k3s's name).
pub const KEY_FILE: &str = "service.key";

/// Why the key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The file holds no usable P-256 private key.
    #[error("{path}: not an ECDSA P-256 private key: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Signing failed (the system's random source failed).
    #[error("signing failed")]
    Sign,
}

/// The signing key with its public half and key id.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl SigningKey {
    /// Loads the key at `path`, or generates one there (mode 0600) if there is none.
    pub fn load_or_create(path: &Path) -> Result<SigningKey, KeyError> {
        let io = |op: &'static str| {
            move |source| KeyError::Io {
                op,
                path: path.to_path_buf(),
                source,
            }
        };
        let pem = match std::fs::read_to_string(path) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| {
                    KeyError::BadKey {
                        path: path.to_path_buf(),
                        reason: e.to_string(),
                    }
                })?;
                let pem = pair.serialize_pem();
                write_private(path, pem.as_bytes()).map_err(io("write"))?;
                pem
            }
            Err(e) => return Err(io("read")(e)),
        };
        SigningKey::from_pem(&pem).map_err(|reason| KeyError::BadKey {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// A key from PKCS#8 PEM.
    pub fn from_pem(pem: &str) -> Result<SigningKey, String> {
        let pair = KeyPair::from_pem(pem).map_err(|e| e.to_string())?;
        let spki = pair.subject_public_key_info();
        let rng = SystemRandom::new();
        let ring_pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &pair.serialize_der(),
            &rng,
        )
        .map_err(|e| e.to_string())?;
        Ok(SigningKey {
            pair: ring_pair,
            rng,
            kid: URL_SAFE_NO_PAD.encode(Sha256::digest(&spki)),
        })
    }

    /// The key id (`kid` of tokens and of the JWK).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The ES256 signature of `message` (r‖s, 64 bytes).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| KeyError::Sign)
    }

    /// Whether `signature` is this key's ES256 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(message, signature)
            .is_ok()
    }

    /// The public key as a JWK (`/openid/v1/jwks` serves a set of these).
    pub fn jwk(&self) -> Value {
        // An uncompressed P-256 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
        // ring always gives a P-256 public key in this 65-byte form.
        let point = self.pair.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        json!({"use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
    }
}

/// Writes a private file atomically (temporary file created 0600, fsync, rename).
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let a = SigningKey::load_or_create(&path).unwrap();
        let b = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(a.kid(), b.kid());
        let sig = a.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        assert!(b.verify(b"hello", &sig));
        assert!(!b.verify(b"hellO", &sig));
        let other = SigningKey::load_or_create(&dir.path().join("other.key")).unwrap();
        assert_ne!(other.kid(), a.kid());
        assert!(!other.verify(b"hello", &sig));
        let jwk = a.jwk();
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["x"].as_str().unwrap().len(), 43);
        assert_eq!(jwk["y"].as_str().unwrap().len(), 43);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            SigningKey::load_or_create(&path),
            Err(KeyError::BadKey { .. })
        ));
    }
}
