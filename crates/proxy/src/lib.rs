//! rkube's Service dataplane: kube-proxy's nftables mode rebuilt in Rust. It list-watches
//! Services and discovery.k8s.io/v1 EndpointSlices through kube-rs and programs one nftables
//! table (`kube-proxy` by default) with upstream's layout: verdict maps keyed by
//! `ip . proto . port`, per-service and per-endpoint chains, `numgen random mod N` balancing,
//! reject for Services without endpoints, masquerade marks, affinity sets with timeouts.
//!
//! Rule generation is pure ([`model`] → [`chains`] → [`state`] → [`script`]); [`proxier`]
//! runs the loop, [`nft`] the binaries, [`conntrack`] computes stale UDP flows and
//! [`metrics`] carries upstream's metric names and healthz rule. kube-proxy adds no routes;
//! neither does this crate.

pub mod chains;
pub mod cidr;
pub mod config;
pub mod conntrack;
pub mod error;
pub mod metrics;
pub mod model;
pub mod names;
pub mod nft;
pub mod proxier;
pub mod script;
pub mod state;
pub mod watch;

pub use config::{DEFAULT_TABLE, ProxyConfig};
pub use error::ProxyError;
pub use metrics::Metrics;
pub use proxier::{Proxy, SyncStats, cleanup};
