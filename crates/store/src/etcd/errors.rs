//! What an etcd-client error means for the store: retry it, map it, or give up.

use std::error::Error as StdError;

/// gRPC status codes we look at (`tonic::Code` values, without depending on tonic).
const CANCELLED: i32 = 1;
const UNKNOWN: i32 = 2;
const DEADLINE_EXCEEDED: i32 = 4;
const ABORTED: i32 = 10;
const OUT_OF_RANGE: i32 = 11;
const UNAVAILABLE: i32 = 14;

/// The kinds of failure the store treats differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// No connection could be made: the request never reached etcd. Always safe to retry.
    NotSent,
    /// The connection or the cluster failed while the request was in flight (broken
    /// connection, leader change, timeout): a write may or may not have been applied.
    MaybeSent,
    /// etcd: "required revision has been compacted".
    Compacted,
    /// etcd: "required revision is a future revision".
    FutureRevision,
    /// etcd: "requested lease not found" (the lease expired or was revoked).
    LeaseNotFound,
    /// Anything else: retrying will not help.
    Fatal,
}

/// Sorts an etcd-client error into a [`Class`].
pub(super) fn classify(err: &etcd_client::Error) -> Class {
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            let code = status.code() as i32;
            let msg = status.message();
            if code == OUT_OF_RANGE && msg.contains("required revision has been compacted") {
                Class::Compacted
            } else if code == OUT_OF_RANGE && msg.contains("required revision is a future revision")
            {
                Class::FutureRevision
            } else if msg.contains("requested lease not found") {
                Class::LeaseNotFound
            } else if code == UNAVAILABLE && is_connect_failure(status) {
                Class::NotSent
            } else if matches!(code, UNAVAILABLE | DEADLINE_EXCEEDED | CANCELLED | ABORTED)
                // Client-side transport failures (broken pipe, reset) come as Unknown with a
                // source; Unknown statuses sent by the server have none.
                || (code == UNKNOWN && StdError::source(status).is_some())
            {
                Class::MaybeSent
            } else {
                Class::Fatal
            }
        }
        etcd_client::Error::IoError(_) | etcd_client::Error::WatchError(_) => Class::MaybeSent,
        _ => Class::Fatal,
    }
}

/// Whether a client-side Unavailable status comes from failing to connect (tonic wraps those in
/// `ConnectError`; hyper-util's says "tcp connect error"), as opposed to a connection that broke.
fn is_connect_failure(status: &(dyn StdError + 'static)) -> bool {
    let mut source = status.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            )
        {
            return true;
        }
        if e.to_string().contains("tcp connect error") || format!("{e:?}").contains("ConnectError(")
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// A one-line description of an etcd-client error, with its innermost cause.
pub(super) fn describe(err: &etcd_client::Error) -> String {
    match err {
        etcd_client::Error::GRpcStatus(status) => {
            let mut text = status.message().to_string();
            if text.is_empty() {
                text = format!("{:?}", status.code());
            }
            let mut root = None;
            let mut source = StdError::source(status);
            while let Some(e) = source {
                root = Some(e);
                source = e.source();
            }
            if let Some(root) = root {
                let root = root.to_string();
                if !text.contains(&root) {
                    text = format!("{text}: {root}");
                }
            }
            text
        }
        other => other.to_string(),
    }
}
