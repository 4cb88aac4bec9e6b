//! SPDY/3 framing, as far as a remote-command client needs it: encoding SYN_STREAM, DATA and
//! PING frames, and reading any frame off the wire (payloads of the frames a client ignores
//! are skipped, not interpreted).
//!
//! Header blocks are zlib streams that persist across the frames of a connection. The
//! encoder writes its blocks as *stored* (uncompressed) deflate blocks without a preset
//! dictionary, each header block ending with a sync flush (an empty stored block) as real
//! compressors do, so the peer's decoder stops at the frame's end; the SYN_REPLY headers the
//! server sends back are not needed and never decompressed.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The protocol version in every control frame.
const VERSION: u16 = 3;
/// Control frame types.
pub const SYN_STREAM: u16 = 1;
/// Reply to a SYN_STREAM.
pub const SYN_REPLY: u16 = 2;
/// Abnormal end of a stream.
pub const RST_STREAM: u16 = 3;
/// Liveness check; the peer echoes it.
pub const PING: u16 = 6;
/// The connection is going away.
pub const GOAWAY: u16 = 7;
/// Flag: the sender's side of the stream ends with this frame.
pub const FLAG_FIN: u8 = 0x01;
/// The largest payload a frame can carry (24-bit length).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;

/// A frame as read from the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Stream data.
    Data {
        /// The stream.
        stream: u32,
        /// Whether the sender finished the stream.
        fin: bool,
        /// The bytes.
        payload: Vec<u8>,
    },
    /// A control frame.
    Control {
        /// Its type (`SYN_REPLY`, `RST_STREAM`, `PING`…).
        kind: u16,
        /// Its flags.
        flags: u8,
        /// The first 32-bit word of the payload: the stream ID of stream frames, the ID of a
        /// PING (0 when the payload is shorter).
        id: u32,
        /// The whole payload (for PING echoes).
        payload: Vec<u8>,
    },
}

fn header(control: bool, first: u32, flags: u8, len: usize) -> [u8; 8] {
    let first = if control {
        0x8000_0000 | (u32::from(VERSION) << 16) | first
    } else {
        first & 0x7fff_ffff
    };
    let len = (len as u32) & 0x00ff_ffff;
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(&first.to_be_bytes());
    h[4..].copy_from_slice(&((u32::from(flags) << 24) | len).to_be_bytes());
    h
}

/// A DATA frame (`payload` at most [`MAX_PAYLOAD`] bytes; callers split larger writes).
pub fn data(stream: u32, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&header(
        false,
        stream,
        if fin { FLAG_FIN } else { 0 },
        payload.len(),
    ));
    out.extend_from_slice(payload);
    out
}

/// A PING frame echoing `payload` (the 4-byte ID the peer sent).
pub fn ping(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&header(true, u32::from(PING), 0, payload.len()));
    out.extend_from_slice(payload);
    out
}

/// The connection's header-block encoder (one zlib stream per connection and direction).
#[derive(Debug, Default)]
pub struct HeaderEncoder {
    started: bool,
}

impl HeaderEncoder {
    /// The next piece of the zlib stream carrying `headers` (names must be lower case).
    fn block(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            raw.extend_from_slice(&(name.len() as u32).to_be_bytes());
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(&(value.len() as u32).to_be_bytes());
            raw.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(raw.len() + 16);
        if !self.started {
            // zlib header: deflate, 32 KiB window, no preset dictionary, check bits.
            out.extend_from_slice(&[0x78, 0x01]);
            self.started = true;
        }
        for chunk in raw.chunks(u16::MAX as usize) {
            stored_block(&mut out, chunk);
        }
        // An empty stored block: the sync-flush marker, after which the decoder hands out
        // what it has without reading further (past the end of this frame).
        stored_block(&mut out, &[]);
        out
    }

    /// A SYN_STREAM frame opening `stream` with `headers`.
    pub fn syn_stream(&mut self, stream: u32, headers: &[(&str, &str)]) -> Vec<u8> {
        let block = self.block(headers);
        let mut payload = Vec::with_capacity(10 + block.len());
        payload.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        payload.extend_from_slice(&0u32.to_be_bytes()); // associated stream
        payload.extend_from_slice(&[0, 0]); // priority 0 (highest), slot 0
        payload.extend_from_slice(&block);
        let mut out = Vec::with_capacity(8 + payload.len());
        out.extend_from_slice(&header(true, u32::from(SYN_STREAM), 0, payload.len()));
        out.extend_from_slice(&payload);
        out
    }
}

/// Appends a non-final stored deflate block (byte aligned: every block is stored).
fn stored_block(out: &mut Vec<u8>, data: &[u8]) {
    let len = data.len() as u16;
    out.push(0x00);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or ended inside a frame.
    #[error("reading a SPDY frame: {0}")]
    Io(#[from] std::io::Error),
    /// A control frame of another protocol version.
    #[error("SPDY version {0} is not supported (only 3)")]
    Version(u16),
}

/// Reads the next frame; `Ok(None)` at a clean end of the connection (between frames).
pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Frame>, FrameError> {
    let mut h = [0u8; 8];
    let mut got = 0;
    while got < h.len() {
        let n = r.read(&mut h[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        got += n;
    }
    let first = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    let flags = h[4];
    let len = (u32::from_be_bytes([0, h[5], h[6], h[7]])) as usize;
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    if first & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream: first,
            fin: flags & FLAG_FIN != 0,
            payload,
        }));
    }
    let version = ((first >> 16) & 0x7fff) as u16;
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let id = payload.get(..4).map_or(0, |b| {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff
    });
    Ok(Some(Frame::Control {
        kind: (first & 0xffff) as u16,
        flags,
        id,
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_frames_round_trip() {
        let bytes = [data(3, false, b"hello"), data(5, true, b"")].concat();
        let mut r = &bytes[..];
        assert_eq!(
            read(&mut r).await.unwrap(),
            Some(Frame::Data {
                stream: 3,
                fin: false,
                payload: b"hello".to_vec()
            })
        );
        assert_eq!(
            read(&mut r).await.unwrap(),
            Some(Frame::Data {
                stream: 5,
                fin: true,
                payload: vec![]
            })
        );
        assert_eq!(read(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn ping_echo_and_truncation() {
        let frame = ping(&7u32.to_be_bytes());
        assert_eq!(&frame[..4], &[0x80, 0x03, 0x00, 0x06]);
        let mut r = &frame[..];
        match read(&mut r).await.unwrap() {
            Some(Frame::Control { kind, id, .. }) => assert_eq!((kind, id), (PING, 7)),
            other => panic!("{other:?}"),
        }
        let mut cut = &frame[..6];
        assert!(read(&mut cut).await.is_err());
    }

    #[test]
    fn syn_stream_carries_a_stored_zlib_header_block() {
        let mut enc = HeaderEncoder::default();
        let first = enc.syn_stream(1, &[("streamtype", "error")]);
        // Control bit, version 3, type 1; length = 10 + block.
        assert_eq!(&first[..4], &[0x80, 0x03, 0x00, 0x01]);
        let len = u32::from_be_bytes([0, first[5], first[6], first[7]]) as usize;
        assert_eq!(len, first.len() - 8);
        assert_eq!(&first[8..12], &1u32.to_be_bytes());
        let block = &first[18..];
        assert_eq!(&block[..2], &[0x78, 0x01]);
        assert_eq!((0x78u32 * 256 + 0x01) % 31, 0, "zlib header check bits");
        let raw_len = u16::from_le_bytes([block[3], block[4]]) as usize;
        assert_eq!(block[2], 0, "non-final stored block");
        assert_eq!(u16::from_le_bytes([block[5], block[6]]), !(raw_len as u16));
        let raw = &block[7..7 + raw_len];
        assert_eq!(&block[7 + raw_len..], &[0, 0, 0, 0xff, 0xff], "sync flush");
        assert_eq!(&raw[..4], &1u32.to_be_bytes());
        assert_eq!(&raw[4..8], &10u32.to_be_bytes());
        assert_eq!(&raw[8..18], b"streamtype");
        // The zlib header is written once per connection.
        let second = enc.syn_stream(3, &[("streamtype", "stdout")]);
        assert_eq!(second[18], 0x00);
    }
}
