//! Cluster DNS: answers `<svc>.<ns>.svc.<domain>`, headless endpoints, SRV, pod and PTR names
//! as CoreDNS's `kubernetes` plugin does in the configuration k3s ships (`pods insecure`,
//! `fallthrough in-addr.arpa ip6.arpa`, `forward . /etc/resolv.conf`, `cache 30`), from
//! Service, EndpointSlice and Namespace reflectors; everything else goes to the upstreams.
//!
//! The answering logic is a pure function over an immutable [`Snapshot`] ([`answer::resolve`]);
//! [`DnsServer`] wires it to UDP and TCP sockets, the reflectors, a forwarder and a cache.

pub mod answer;
pub mod cache;
pub mod config;
pub mod error;
pub mod forward;
mod handler;
pub mod metrics;
pub mod names;
pub mod records;
pub mod server;
pub mod snapshot;
mod watch;
pub mod wire;

pub use config::{DnsConfig, read_resolv_conf};
pub use error::DnsError;
pub use metrics::DnsMetrics;
pub use server::DnsServer;
pub use snapshot::Snapshot;
