//! A client of the container runtime's stream server (containerd's CRI streaming, which the
//! kubelet once served itself): SPDY/3.1 with the `v4.channel.k8s.io` remote-command protocol.
//!
//! SPDY rather than the stream server's WebSocket endpoint, because only SPDY streams can be
//! half-closed: WebSocket protocols before `v5.channel.k8s.io` (containerd 1.6 speaks up to
//! v4) cannot tell the process that its stdin ended, so `kubectl exec -i … -- cat` would never
//! finish. The session opens one stream per channel (error, then stdin, stdout, stderr,
//! resize), waits for the server to accept them all, then relays: the caller sends stdin,
//! its end and resize events; stdout, stderr and the error stream (a `metav1.Status` JSON
//! carrying the exit code) come back in order until the server closes the connection.

pub mod frame;
pub mod upgrade;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use frame::Frame;

/// How long the stream server gets to accept the streams.
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest DATA frame this client sends.
const MAX_CHUNK: usize = 32 * 1024;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    /// The URL is not a plain `http://host:port/path`.
    #[error("unsupported stream server URL {0:?}")]
    Url(String),
    /// The stream server could not be reached.
    #[error("connecting to the stream server at {0}: {1}")]
    Connect(String, std::io::Error),
    /// The connection failed.
    #[error("stream server connection: {0}")]
    Io(#[from] std::io::Error),
    /// The upgrade response was not what the protocol requires.
    #[error("stream server handshake: {0}")]
    Handshake(String),
    /// The stream server answered with an error instead of upgrading.
    #[error("stream server refused the session ({status}): {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What it said.
        body: String,
    },
    /// A frame could not be read.
    #[error("{0}")]
    Frame(#[from] frame::FrameError),
}

/// Which channels the session carries (the error stream always).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streams {
    /// Standard input.
    pub stdin: bool,
    /// Standard output.
    pub stdout: bool,
    /// Standard error.
    pub stderr: bool,
    /// Terminal resize events (with a TTY).
    pub resize: bool,
}

/// What the remote command sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output bytes.
    Stdout(Bytes),
    /// Standard error bytes.
    Stderr(Bytes),
    /// Error-stream bytes (the final `metav1.Status`).
    Error(Bytes),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Error,
    Stdin,
    Stdout,
    Stderr,
    Resize,
}

/// The sending side of a session (cheap to clone).
#[derive(Clone, Debug)]
pub struct Input {
    frames: mpsc::Sender<Vec<u8>>,
    stdin: Option<u32>,
    resize: Option<u32>,
}

impl Input {
    async fn send(&self, stream: Option<u32>, data: &[u8]) -> bool {
        let Some(id) = stream else { return false };
        for chunk in data.chunks(MAX_CHUNK) {
            if self
                .frames
                .send(frame::data(id, false, chunk))
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }

    /// Writes to the command's stdin; false when the session is gone or has no stdin.
    pub async fn stdin(&self, data: &[u8]) -> bool {
        self.send(self.stdin, data).await
    }

    /// Ends the command's stdin (a FIN on its stream).
    pub async fn close_stdin(&self) -> bool {
        match self.stdin {
            Some(id) => self.frames.send(frame::data(id, true, &[])).await.is_ok(),
            None => false,
        }
    }

    /// Sends a terminal size event (`{"Width":…,"Height":…}` JSON, passed through).
    pub async fn resize(&self, data: &[u8]) -> bool {
        self.send(self.resize, data).await
    }
}

/// An open remote-command session; dropping it closes the connection.
#[derive(Debug)]
pub struct Session {
    input: Input,
    output: mpsc::Receiver<Output>,
    tasks: Relay,
}

/// The session's relay tasks; dropping it closes the connection.
#[derive(Debug)]
pub struct Relay {
    _tasks: tokio::task::JoinSet<()>,
}

impl Session {
    /// The sending side, everything the command sends (in order, ending when the server
    /// closes the connection), and the relay to keep alive meanwhile.
    pub fn into_parts(self) -> (Input, mpsc::Receiver<Output>, Relay) {
        (self.input, self.output, self.tasks)
    }
}

/// Connects to `url` (from CRI Exec or Attach), upgrades and opens `streams`.
pub async fn open(url: &str, streams: Streams) -> Result<Session, SpdyError> {
    let target = upgrade::parse_url(url)?;
    let (tcp, leftover) = upgrade::upgrade(&target).await?;
    let (read_half, mut write_half) = tcp.into_split();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::chain(
        std::io::Cursor::new(leftover),
        read_half,
    ));

    let mut wanted = vec![Kind::Error];
    for (on, kind) in [
        (streams.stdin, Kind::Stdin),
        (streams.stdout, Kind::Stdout),
        (streams.stderr, Kind::Stderr),
        (streams.resize, Kind::Resize),
    ] {
        if on {
            wanted.push(kind);
        }
    }
    let mut encoder = frame::HeaderEncoder::default();
    let mut kinds = HashMap::new();
    let mut opening = Vec::new();
    for (i, kind) in wanted.iter().enumerate() {
        let id = 2 * i as u32 + 1;
        kinds.insert(id, *kind);
        opening.extend(encoder.syn_stream(id, &[("streamtype", stream_type(*kind))]));
    }
    write_half.write_all(&opening).await?;
    let early = tokio::time::timeout(
        STREAM_CREATION_TIMEOUT,
        await_replies(&mut reader, &mut write_half, &kinds),
    )
    .await
    .map_err(|_| SpdyError::Handshake("the stream server did not accept the streams".into()))??;

    let (frames, mut outgoing) = mpsc::channel::<Vec<u8>>(16);
    let (out_tx, output) = mpsc::channel(16);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move {
        while let Some(bytes) = outgoing.recv().await {
            if write_half.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = write_half.shutdown().await;
    });
    let pings = frames.clone();
    tasks.spawn(async move {
        for o in early {
            if out_tx.send(o).await.is_err() {
                return;
            }
        }
        relay_output(&mut reader, &kinds, &out_tx, &pings).await;
    });
    let id_of = |k: Kind| kinds_id(&wanted, k);
    Ok(Session {
        input: Input {
            frames,
            stdin: id_of(Kind::Stdin),
            resize: id_of(Kind::Resize),
        },
        output,
        tasks: Relay { _tasks: tasks },
    })
}

fn kinds_id(wanted: &[Kind], kind: Kind) -> Option<u32> {
    wanted
        .iter()
        .position(|k| *k == kind)
        .map(|i| 2 * i as u32 + 1)
}

fn stream_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Error => "error",
        Kind::Stdin => "stdin",
        Kind::Stdout => "stdout",
        Kind::Stderr => "stderr",
        Kind::Resize => "resize",
    }
}

fn output_of(kind: Kind, payload: Vec<u8>) -> Option<Output> {
    let bytes = Bytes::from(payload);
    match kind {
        Kind::Stdout => Some(Output::Stdout(bytes)),
        Kind::Stderr => Some(Output::Stderr(bytes)),
        Kind::Error => Some(Output::Error(bytes)),
        Kind::Stdin | Kind::Resize => None,
    }
}

/// Reads until every stream has its SYN_REPLY; returns the data that came meanwhile.
async fn await_replies<R, W>(
    reader: &mut R,
    writer: &mut W,
    kinds: &HashMap<u32, Kind>,
) -> Result<Vec<Output>, SpdyError>
where
    R: AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut pending: Vec<u32> = kinds.keys().copied().collect();
    let mut early = Vec::new();
    while !pending.is_empty() {
        match frame::read(reader).await? {
            None => {
                return Err(SpdyError::Handshake(
                    "the stream server closed the connection".into(),
                ));
            }
            Some(Frame::Control { kind, id, .. }) if kind == frame::SYN_REPLY => {
                pending.retain(|p| *p != id);
            }
            Some(Frame::Control { kind, id, .. })
                if kind == frame::RST_STREAM && pending.contains(&id) =>
            {
                return Err(SpdyError::Handshake(format!(
                    "the stream server reset stream {id}"
                )));
            }
            Some(Frame::Control { kind, payload, .. }) if kind == frame::PING => {
                writer.write_all(&frame::ping(&payload)).await?;
            }
            Some(Frame::Data {
                stream, payload, ..
            }) if !payload.is_empty() => {
                early.extend(kinds.get(&stream).and_then(|k| output_of(*k, payload)));
            }
            Some(_) => {}
        }
    }
    Ok(early)
}

/// Relays the server's frames to `out` until the connection ends (or `out` is dropped).
async fn relay_output<R: AsyncRead + Unpin>(
    reader: &mut R,
    kinds: &HashMap<u32, Kind>,
    out: &mpsc::Sender<Output>,
    frames: &mpsc::Sender<Vec<u8>>,
) {
    loop {
        match frame::read(reader).await {
            Ok(Some(Frame::Data {
                stream, payload, ..
            })) => {
                if payload.is_empty() {
                    continue;
                }
                let Some(o) = kinds.get(&stream).and_then(|k| output_of(*k, payload)) else {
                    continue;
                };
                if out.send(o).await.is_err() {
                    return;
                }
            }
            Ok(Some(Frame::Control { kind, payload, .. })) if kind == frame::PING => {
                let _ = frames.send(frame::ping(&payload)).await;
            }
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "stream server connection ended");
                return;
            }
        }
    }
}
