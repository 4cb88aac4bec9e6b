//! How a client asked to switch protocols for a stream (exec, attach, port-forward), and the
//! transparent relays to the runtime's stream server that do not parse what they carry:
//!
//! - a plain SPDY/3.1 upgrade ([`ClientUpgrade::Spdy`]) is answered with `101` and the protocol
//!   the stream server agreed to, then the two connections are spliced byte for byte;
//! - SPDY tunneled in WebSocket binary messages (kubectl's port-forward, subprotocol
//!   `SPDY/3.1+portforward.k8s.io`) is unwrapped into the stream server's connection, and what
//!   the server sends is wrapped into binary messages ([`tunnel`]).

use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::spdy::upgrade::Upgraded;

/// The header carrying the stream protocols of a SPDY upgrade.
pub const STREAM_PROTOCOL: &str = "x-stream-protocol-version";
/// What a read from the stream server may return at most per WebSocket message.
const CHUNK: usize = 32 * 1024;

/// What the client asked for.
pub enum ClientUpgrade {
    /// A WebSocket handshake.
    WebSocket(WebSocketUpgrade),
    /// `Upgrade: SPDY/3.1`, with the offered `X-Stream-Protocol-Version` values in order.
    Spdy {
        /// The client's connection once the `101` is sent.
        on_upgrade: OnUpgrade,
        /// The protocols offered.
        protocols: Vec<String>,
    },
    /// No (usable) upgrade.
    None,
}

/// Reads the request's upgrade.
pub async fn classify(req: Request) -> ClientUpgrade {
    let (mut parts, _) = req.into_parts();
    let upgrade = tokens(&parts.headers, header::UPGRADE);
    if upgrade.iter().any(|t| t.eq_ignore_ascii_case("websocket")) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(ws) => ClientUpgrade::WebSocket(ws),
            Err(_) => ClientUpgrade::None,
        };
    }
    let connection = tokens(&parts.headers, header::CONNECTION);
    let spdy = upgrade.iter().any(|t| t.eq_ignore_ascii_case("SPDY/3.1"))
        && connection.iter().any(|t| t.eq_ignore_ascii_case("upgrade"));
    match parts.extensions.remove::<OnUpgrade>() {
        Some(on_upgrade) if spdy => ClientUpgrade::Spdy {
            on_upgrade,
            protocols: tokens(&parts.headers, STREAM_PROTOCOL),
        },
        _ => ClientUpgrade::None,
    }
}

/// The comma-separated values of every `name` header.
fn tokens(headers: &HeaderMap, name: impl header::AsHeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Answers a SPDY upgrade with `101` (and the protocol the stream server chose) and splices
/// the client's connection with the stream server's until either side ends.
pub fn splice(on_upgrade: OnUpgrade, backend: Upgraded) -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    if let Some(v) = backend
        .protocol
        .as_deref()
        .and_then(|p| HeaderValue::from_str(p).ok())
    {
        headers.insert(STREAM_PROTOCOL, v);
    }
    tokio::spawn(async move {
        let Ok(client) = on_upgrade.await else {
            tracing::debug!("a SPDY client upgrade did not complete");
            return;
        };
        let mut client = TokioIo::new(client);
        let Upgraded {
            mut tcp, leftover, ..
        } = backend;
        if !leftover.is_empty() && client.write_all(&leftover).await.is_err() {
            return;
        }
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut tcp).await {
            tracing::debug!(error = %e, "spliced stream connection ended");
        }
    });
    resp
}

/// Relays SPDY tunneled in the client's WebSocket binary messages to the stream server's
/// connection and back, until either side ends; then closes both.
pub async fn tunnel(socket: WebSocket, backend: Upgraded) {
    let (mut sink, mut incoming) = socket.split();
    let Upgraded { tcp, leftover, .. } = backend;
    let (mut from_server, mut to_server) = tcp.into_split();
    if !leftover.is_empty() && sink.send(Message::Binary(leftover.into())).await.is_err() {
        return;
    }
    let mut upstream = tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            match msg {
                Message::Binary(b) if to_server.write_all(&b).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = to_server.shutdown().await;
    });
    let mut buf = vec![0u8; CHUNK];
    loop {
        tokio::select! {
            read = from_server.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let msg = Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n]));
                    if sink.send(msg).await.is_err() {
                        upstream.abort();
                        return;
                    }
                }
            },
            _ = &mut upstream => return, // the client went away: dropping the reader closes
        }
    }
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: close_code::NORMAL,
            reason: "".into(),
        })))
        .await;
    if tokio::time::timeout(std::time::Duration::from_secs(10), &mut upstream)
        .await
        .is_err()
    {
        upstream.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn offered_protocols_and_missing_upgrades() {
        let mut h = HeaderMap::new();
        h.append(
            STREAM_PROTOCOL,
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        h.append(
            STREAM_PROTOCOL,
            HeaderValue::from_static("v3.channel.k8s.io, channel.k8s.io"),
        );
        assert_eq!(
            tokens(&h, STREAM_PROTOCOL),
            ["v4.channel.k8s.io", "v3.channel.k8s.io", "channel.k8s.io"]
        );
        // Without a connection to take over (as off a real socket), no upgrade is usable.
        let req = http::Request::get("/portForward/ns/p")
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "SPDY/3.1")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(matches!(classify(req).await, ClientUpgrade::None));
    }
}
