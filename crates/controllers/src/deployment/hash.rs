//! The `pod-template-hash`: a short, name-safe digest of a Deployment's pod template (and its
//! collision count), naming the ReplicaSet `<deployment>-<hash>` and labelling its pods.
//!
//! Upstream hashes the Go struct's printed form with FNV-32a; we hash the template's JSON (its
//! serialisation is deterministic: fixed field order, sorted maps) with the same FNV-32a and the
//! same encoding of the 32-bit sum, so the hashes look and behave like upstream's (stable for
//! one template, different after a collision bump) without being byte-identical.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The label (and selector key) carrying the hash.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Upstream's alphabet for name-safe strings (no vowels, no confusable characters).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv32a(state: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(state, |h, b| (h ^ u32::from(*b)).wrapping_mul(FNV_PRIME))
}

/// Maps each character to the name-safe alphabet (upstream's `SafeEncodeString`).
fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The hash of `template` with `collision_count` mixed in (when set).
pub fn compute(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serialising a typed template cannot fail (no maps with non-string keys).
    let bytes = serde_json::to_vec(template).unwrap_or_default();
    let mut h = fnv32a(FNV_OFFSET, &bytes);
    if let Some(c) = collision_count {
        h = fnv32a(h, &(c as u32).to_le_bytes());
    }
    safe_encode(&h.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .unwrap()
    }

    #[test]
    fn the_hash_is_stable_name_safe_and_template_sensitive() {
        let a = compute(&template("nginx:1"), None);
        assert_eq!(a, compute(&template("nginx:1"), None));
        assert_ne!(a, compute(&template("nginx:2"), None));
        assert!(!a.is_empty() && a.len() <= 10, "{a}");
        assert!(a.bytes().all(|b| ALPHANUMS.contains(&b)), "{a}");
    }

    #[test]
    fn a_collision_count_changes_the_hash() {
        let t = template("nginx:1");
        let base = compute(&t, None);
        let one = compute(&t, Some(1));
        assert_ne!(base, one);
        assert_ne!(one, compute(&t, Some(2)));
    }

    #[test]
    fn fnv32a_matches_the_reference_vectors() {
        assert_eq!(fnv32a(FNV_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV_OFFSET, b"foobar"), 0xbf9c_f968);
    }
}
