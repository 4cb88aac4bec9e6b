//! The HTTP/1.1 upgrade to SPDY/3.1 against the runtime's stream server: `POST` to the URL CRI
//! handed out, asking for the `v4.channel.k8s.io` remote-command protocol ([`upgrade`]), or for
//! whatever protocols a client offered when the kubelet only splices bytes ([`upgrade_with`]).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::SpdyError;

/// The remote-command protocol spoken inside the SPDY connection.
pub const PROTOCOL: &str = "v4.channel.k8s.io";
/// The longest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// The most of an error body kept for the message.
const MAX_ERROR_BODY: usize = 4 * 1024;

/// Where an `http://host:port/path` URL points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `host:port`.
    pub authority: String,
    /// The path and query.
    pub path: String,
}

/// Splits a stream-server URL; only plain `http://` is supported (containerd's default).
pub fn parse_url(url: &str) -> Result<Target, SpdyError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| SpdyError::Url(url.to_string()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(SpdyError::Url(url.to_string()));
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok(Target {
        authority,
        path: path.to_string(),
    })
}

/// Connects and upgrades; returns the connection and any bytes already read past the
/// response head (the start of the first frames).
pub async fn upgrade(target: &Target) -> Result<(TcpStream, Vec<u8>), SpdyError> {
    let up = upgrade_with(target, &[PROTOCOL]).await?;
    if up.protocol.as_deref() != Some(PROTOCOL) {
        return Err(SpdyError::Handshake(format!(
            "the stream server chose protocol {:?}, not {PROTOCOL}",
            up.protocol
        )));
    }
    Ok((up.tcp, up.leftover))
}

/// A connection the stream server switched to SPDY/3.1.
#[derive(Debug)]
pub struct Upgraded {
    /// The connection.
    pub tcp: TcpStream,
    /// Bytes already read past the response head.
    pub leftover: Vec<u8>,
    /// The `X-Stream-Protocol-Version` the server chose, if any.
    pub protocol: Option<String>,
}

/// Connects and upgrades to SPDY/3.1, offering `protocols` (each an `X-Stream-Protocol-Version`
/// header, in order; header-unsafe values are left out).
pub async fn upgrade_with(target: &Target, protocols: &[&str]) -> Result<Upgraded, SpdyError> {
    let mut tcp = TcpStream::connect(&target.authority)
        .await
        .map_err(|e| SpdyError::Connect(target.authority.clone(), e))?;
    let _ = tcp.set_nodelay(true);
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n",
        target.path, target.authority
    );
    for p in protocols.iter().filter(|p| is_token_list(p)) {
        request.push_str(&format!("X-Stream-Protocol-Version: {p}\r\n"));
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    tcp.write_all(request.as_bytes()).await?;
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(SpdyError::Handshake("response head too large".into()));
        }
        let mut chunk = [0u8; 2048];
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(SpdyError::Handshake(
                "connection closed before the response".into(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let rest = buf[head_end..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SpdyError::Handshake(format!("bad status line in {head:?}")))?;
    if status != 101 {
        let length = header_value(&head, "content-length").and_then(|v| v.parse().ok());
        let body = error_body(&mut tcp, rest, length).await;
        return Err(SpdyError::Refused { status, body });
    }
    Ok(Upgraded {
        tcp,
        leftover: rest,
        protocol: header_value(&head, "x-stream-protocol-version"),
    })
}

/// Whether `v` is safe in a header line (no control characters).
fn is_token_list(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The value of header `name` in a response head.
fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (n, value) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// The start of an error response's body (what the server said), read briefly: `length`
/// bytes when the response says how many, else until the server closes.
async fn error_body(tcp: &mut TcpStream, mut body: Vec<u8>, length: Option<usize>) -> String {
    let want = length.unwrap_or(MAX_ERROR_BODY).min(MAX_ERROR_BODY);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        let mut chunk = [0u8; 1024];
        while body.len() < want {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    body.truncate(MAX_ERROR_BODY);
    String::from_utf8_lossy(&body).trim().to_string()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:39211/exec/AbC").unwrap(),
            Target {
                authority: "127.0.0.1:39211".into(),
                path: "/exec/AbC".into()
            }
        );
        assert_eq!(parse_url("http://h").unwrap().authority, "h:80");
        assert!(parse_url("https://127.0.0.1:1/exec/x").is_err());
        assert!(parse_url("http:///x").is_err());
    }
}
