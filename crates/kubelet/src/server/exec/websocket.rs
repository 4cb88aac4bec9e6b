//! The client side of exec and attach: the WebSocket channel protocols `v5.channel.k8s.io`
//! (preferred; what kubectl speaks) and `v4.channel.k8s.io`. Every binary message starts with
//! its channel: 0 stdin, 1 stdout, 2 stderr, 3 error (the final `metav1.Status`), 4 resize;
//! v5 adds 255, whose payload names a channel the client closes (stdin's end).
//!
//! The bridge relays between the client's WebSocket and the runtime's SPDY session
//! ([`crate::server::spdy`]): it first sends an empty message on the lowest writable channel
//! (the session is ready), then client input to the session and the command's output to the
//! client in order; when the runtime ends the session it closes the WebSocket normally and
//! waits for the client to close its side, so that no output still in flight is lost.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};

use super::options::StreamOptions;
use crate::server::spdy::{Input, Output, Session};

/// The protocol with stdin half-close.
pub const V5: &str = "v5.channel.k8s.io";
/// The protocol before it.
pub const V4: &str = "v4.channel.k8s.io";
/// Served protocols, preferred first.
pub const PROTOCOLS: [&str; 2] = [V5, V4];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// How long the client gets to close its side once the command is done.
const FINISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Relays until the command ends or the client goes away; then closes both.
pub async fn bridge(socket: WebSocket, v5: bool, opts: StreamOptions, session: Session) {
    let (mut sink, mut incoming) = socket.split();
    let (input, mut output, session) = session.into_parts();
    let ready = if opts.stdout {
        STDOUT
    } else if opts.stderr {
        STDERR
    } else {
        ERROR
    };
    if sink.send(message(ready, Bytes::new())).await.is_err() {
        return;
    }
    let mut client = tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            match msg {
                Message::Binary(b) => from_client(&input, &b, v5).await,
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    loop {
        tokio::select! {
            out = output.recv() => {
                let Some(out) = out else { break };
                let (channel, bytes) = match out {
                    Output::Stdout(b) => (STDOUT, b),
                    Output::Stderr(b) => (STDERR, b),
                    Output::Error(b) => (ERROR, b),
                };
                if sink.send(message(channel, bytes)).await.is_err() {
                    client.abort();
                    return;
                }
            }
            _ = &mut client => return, // the client went away: dropping the session ends it
        }
    }
    drop(session);
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: close_code::NORMAL,
            reason: "".into(),
        })))
        .await;
    if tokio::time::timeout(FINISH_TIMEOUT, &mut client)
        .await
        .is_err()
    {
        client.abort();
    }
}

fn message(channel: u8, payload: Bytes) -> Message {
    let mut framed = Vec::with_capacity(payload.len() + 1);
    framed.push(channel);
    framed.extend_from_slice(&payload);
    Message::Binary(framed.into())
}

async fn from_client(input: &Input, msg: &[u8], v5: bool) {
    let Some((&channel, payload)) = msg.split_first() else {
        return;
    };
    match channel {
        STDIN if !payload.is_empty() => {
            input.stdin(payload).await;
        }
        RESIZE => {
            input.resize(payload).await;
        }
        CLOSE if v5 && payload.first() == Some(&STDIN) => {
            input.close_stdin().await;
        }
        _ => {}
    }
}
