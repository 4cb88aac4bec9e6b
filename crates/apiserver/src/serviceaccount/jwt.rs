//! Compact JSON Web Tokens signed with ES256: `base64url(header).base64url(claims).
//! base64url(signature)`, the header naming the algorithm and the key id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::keys::{KeyError, SigningKey};

/// Signs `claims` into a compact JWT.
pub fn encode(key: &SigningKey, claims: &Value) -> Result<String, KeyError> {
    let header = json!({"alg": "ES256", "kid": key.kid()});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Whether `token` has a JWT's shape (three base64url parts): other bearer tokens are not
/// service-account tokens.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The claims of `token`, if it is an ES256 JWT whose signature `key` verifies; `None`
/// otherwise (any malformation included).
pub fn decode(key: &SigningKey, token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header["alg"] != "ES256" {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    if !key.verify(format!("{h}.{c}").as_bytes(), &sig) {
        return None;
    }
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    claims.is_object().then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::load_or_create(&dir.path().join("k")).unwrap();
        let claims = json!({"sub": "x", "exp": 5});
        let token = encode(&key, &claims).unwrap();
        assert!(looks_like_jwt(&token));
        assert_eq!(decode(&key, &token), Some(claims));
        // Another payload under the same signature.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(json!({"sub": "admin"}).to_string()),
            parts[2]
        );
        assert_eq!(decode(&key, &forged), None);
        // alg "none".
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
            parts[1]
        );
        assert_eq!(decode(&key, &none), None);
        assert_eq!(decode(&key, "a.b"), None);
        assert_eq!(decode(&key, "!!.??.**"), None);
    }
}
