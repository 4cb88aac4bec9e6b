//! The proxy's error type.

/// What can go wrong starting or running the proxy.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The configuration is invalid (a CIDR that doesn't parse, a bad table name, …).
    #[error("invalid proxy configuration: {0}")]
    Config(String),
    /// A helper binary (nft, conntrack, nsenter, ip) could not be started.
    #[error("running {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why it failed to start.
        source: std::io::Error,
    },
    /// nft rejected a transaction; nothing of it was applied.
    #[error("nft failed: {message}{}", line.as_ref().map(|l| format!(" (script line: {l})")).unwrap_or_default())]
    Nft {
        /// nft's error output.
        message: String,
        /// The script line nft pointed at, when it did.
        line: Option<String>,
    },
    /// A helper command exited unsuccessfully.
    #[error("{program} failed: {message}")]
    Command {
        /// The program.
        program: String,
        /// Its error output.
        message: String,
    },
}
