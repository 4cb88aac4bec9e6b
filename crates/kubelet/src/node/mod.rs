//! The Node object: registration with the machine's capacity and facts, periodic status
//! reports, and the heartbeat Lease in `kube-node-lease`.

pub mod heartbeat;
pub mod lease;
pub mod machine;
pub mod register;
pub mod status;

/// Why talking to the apiserver about the Node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The apiserver refused or could not be reached.
    #[error("apiserver: {0}")]
    Api(#[from] kube::Error),
}
