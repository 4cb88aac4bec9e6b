//! Input rules shared by every backend, checked before anything is written.

use crate::StoreError;

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest value accepted: etcd's default request limit (1.5 MiB).
pub const MAX_VALUE_LEN: usize = 1536 * 1024;

/// Checks that `key` is a non-empty path of printable ASCII without spaces, starting with `/`.
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidKey {
            key: key.chars().take(64).collect(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("key is empty");
    }
    if key.len() > MAX_KEY_LEN {
        return bad("key is longer than 1024 bytes");
    }
    if !key.starts_with('/') {
        return bad("key must start with '/'");
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("key may only contain printable ASCII characters without spaces");
    }
    Ok(())
}

/// Checks a prefix for range/watch: empty is refused too, `/` lists everything.
pub(crate) fn validate_prefix(prefix: &str) -> Result<(), StoreError> {
    validate_key(prefix)
}

/// Checks a value's size.
pub fn validate_value(key: &str, value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(StoreError::ValueTooLarge {
            key: key.to_string(),
            size: value.len(),
            limit: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

/// Longest TTL accepted, in seconds: etcd's `MaxLeaseTTL` (about 285 years).
pub(crate) const MAX_TTL_SECS: i64 = 9_000_000_000;

/// Checks a time to live and returns it in whole seconds, rounded up (etcd leases count seconds).
pub fn validate_ttl(
    key: &str,
    ttl: Option<std::time::Duration>,
) -> Result<Option<i64>, StoreError> {
    let Some(ttl) = ttl else { return Ok(None) };
    let bad = |reason| StoreError::InvalidTtl {
        key: key.to_string(),
        reason,
    };
    if ttl.is_zero() {
        return Err(bad("ttl must be positive"));
    }
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    if secs > MAX_TTL_SECS as u64 {
        return Err(bad("ttl is too long"));
    }
    Ok(Some(secs as i64))
}

/// The smallest string greater than every string starting with `prefix` (etcd's range end).
/// Keys are printable ASCII, so bumping the last byte never overflows.
pub fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    String::from_utf8(bytes).expect("printable ASCII stays ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_printable_paths() {
        assert!(validate_key("/registry/pods/default/a").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key("registry").is_err());
        assert!(validate_key("/a b").is_err());
        assert!(validate_key("/a\n").is_err());
        assert!(validate_key("/é").is_err());
        assert!(validate_key(&format!("/{}", "a".repeat(MAX_KEY_LEN))).is_err());
    }

    #[test]
    fn values_over_the_limit_are_refused() {
        assert!(validate_value("/k", &vec![0; MAX_VALUE_LEN]).is_ok());
        let err = validate_value("/k", &vec![0; MAX_VALUE_LEN + 1]).unwrap_err();
        assert!(matches!(err, StoreError::ValueTooLarge { size, .. } if size == MAX_VALUE_LEN + 1));
    }

    #[test]
    fn ttls_round_up_to_seconds() {
        use std::time::Duration;
        assert_eq!(validate_ttl("/k", None).unwrap(), None);
        assert_eq!(
            validate_ttl("/k", Some(Duration::from_millis(1500))).unwrap(),
            Some(2)
        );
        assert_eq!(
            validate_ttl("/k", Some(Duration::from_secs(3))).unwrap(),
            Some(3)
        );
        assert!(validate_ttl("/k", Some(Duration::ZERO)).is_err());
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end("/registry/pods/"), "/registry/pods0");
        assert!("/registry/pods/zzz" < prefix_end("/registry/pods/").as_str());
    }
}
