//! The crate's error type: only what stops the server from starting or an upstream exchange.

use std::net::SocketAddr;

/// Why the DNS server could not start (or a helper failed).
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A listen address could not be bound (UDP or TCP).
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The configuration is unusable (no listen address, a bad cluster domain, …).
    #[error("invalid DNS configuration: {0}")]
    Config(String),
    /// `/etc/resolv.conf` (or the file given) could not be read.
    #[error("reading {path}: {source}")]
    ResolvConf {
        /// The file.
        path: String,
        /// The read error.
        source: std::io::Error,
    },
}
