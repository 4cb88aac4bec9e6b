//! Names of the per-service nftables objects, in upstream's shape:
//! `service-HASH8-ns/name/proto/port`, `endpoint-HASH8-ns/name/proto/port__ip/port`, … where
//! HASH8 is the first 8 base32 characters of the SHA-256 of the rest. Every per-service chain
//! name contains a `/`, which no base chain does; that is how stale ones are recognised.

use sha2::{Digest, Sha256};

use crate::model::{Endpoint, ServicePortName};

/// nft's limit on object names.
const NAME_LENGTH_MAX: usize = 256;
/// Room left for the longest prefix (`external-`, `endpoint-`, …).
const BASE_LENGTH_MAX: usize = NAME_LENGTH_MAX - 16;

/// Prefix of the Cluster traffic policy chain.
pub const SERVICE_PREFIX: &str = "service-";
/// Prefix of the Local traffic policy chain.
pub const LOCAL_PREFIX: &str = "local-";
/// Prefix of the external-traffic chain.
pub const EXTERNAL_PREFIX: &str = "external-";
/// Prefix of the LoadBalancer source-range chain.
pub const FIREWALL_PREFIX: &str = "firewall-";
/// Prefix of the per-endpoint chain.
pub const ENDPOINT_PREFIX: &str = "endpoint-";
/// Prefix of the per-endpoint ClientIP affinity set.
pub const AFFINITY_PREFIX: &str = "affinity-";

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `HASH8-name`, truncated to fit (the hash keeps truncated names unique).
fn hash_and_truncate(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    // 5 bytes = 40 bits = exactly 8 base32 characters.
    let bits = digest[..5]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = String::with_capacity(name.len() + 9);
    for i in (0..8).rev() {
        out.push(BASE32[((bits >> (i * 5)) & 31) as usize] as char);
    }
    out.push('-');
    out.push_str(name);
    if out.len() > BASE_LENGTH_MAX {
        // Names are ASCII (DNS labels, IPs, digits), so byte truncation is safe.
        out.truncate(BASE_LENGTH_MAX - 3);
        out.push_str("...");
    }
    out
}

/// The base of a service port's chain names.
pub fn service_base(spn: &ServicePortName) -> String {
    hash_and_truncate(&format!(
        "{}/{}/{}/{}",
        spn.namespace,
        spn.name,
        spn.protocol.as_str(),
        spn.port
    ))
}

/// The base of an endpoint's chain and affinity set names.
pub fn endpoint_base(spn: &ServicePortName, ep: &Endpoint) -> String {
    hash_and_truncate(&format!(
        "{}/{}/{}/{}__{}/{}",
        spn.namespace,
        spn.name,
        spn.protocol.as_str(),
        spn.port,
        ep.ip,
        ep.port
    ))
}

/// Whether `chain` is a per-service chain (as opposed to one of the fixed chains).
pub fn is_service_chain(chain: &str) -> bool {
    chain.contains('/')
}

/// Whether `set` is a per-endpoint affinity set.
pub fn is_affinity_set(set: &str) -> bool {
    set.starts_with(AFFINITY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Protocol;

    #[test]
    fn names_match_upstreams_shape_and_hash() {
        let spn = ServicePortName {
            namespace: "ns1".into(),
            name: "svc1".into(),
            port: "p80".into(),
            protocol: Protocol::Tcp,
        };
        // The same input upstream hashes in its unit tests gives the same 8 characters.
        assert_eq!(service_base(&spn), "ULMVA6XW-ns1/svc1/tcp/p80");
        let ep = Endpoint {
            ip: [10, 180, 0, 1].into(),
            port: 80,
            ready: true,
            serving: true,
            terminating: false,
            local: false,
        };
        assert_eq!(
            endpoint_base(&spn, &ep),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
        assert!(is_service_chain("service-ULMVA6XW-ns1/svc1/tcp/p80"));
        assert!(!is_service_chain("nat-prerouting"));
    }

    #[test]
    fn long_names_are_truncated_but_stay_unique() {
        let long = "a".repeat(300);
        let a = hash_and_truncate(&format!("{long}x"));
        let b = hash_and_truncate(&format!("{long}y"));
        assert_eq!(a.len(), BASE_LENGTH_MAX);
        assert!(a.ends_with("..."));
        assert_ne!(a, b);
    }
}
