//! Reading a container's log file into the response: from the tail offset, skipping entries
//! older than `since`, prefixing timestamps, stopping at the byte limit or after `tailLines`
//! lines, and with `follow` waiting for more (polling; into the new file when the log is
//! rotated) until the container stops running.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use k8s_cri::v1 as cri;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::format;
use super::options::LogOptions;
use crate::cri::Cri;

/// How often a followed file is checked for new entries.
const POLL: Duration = Duration::from_millis(100);
/// How often a followed container is checked for still running.
const RUNNING_CHECK: Duration = Duration::from_secs(1);
/// Output is sent in pieces of about this size (and whenever the reader waits).
const CHUNK: usize = 32 * 1024;

/// The container a followed log belongs to.
#[derive(Clone, Debug)]
pub struct Followed {
    /// The runtime.
    pub cri: Cri,
    /// The container's runtime ID.
    pub container_id: String,
    /// The log file's path: when rotation replaces the file, following continues in the new
    /// one (after the rest of the old one).
    pub path: std::path::PathBuf,
}

/// Streams `file` (positioned at the first entry to read) as `opts` say into `out`, until
/// done or until `out` is closed. `follow` is set when `opts.follow` is.
pub async fn stream(
    file: tokio::fs::File,
    opts: LogOptions,
    follow: Option<Followed>,
    out: mpsc::Sender<Bytes>,
) {
    let mut inode = file.metadata().await.map(|m| m.ino()).ok();
    let mut reader = BufReader::new(file);
    let mut writer = Writer {
        out,
        buf: BytesMut::new(),
        remain: opts.limit_bytes.unwrap_or(u64::MAX),
        opts: opts.clone(),
    };
    // Without follow, tailLines also bounds how many lines are written.
    let mut lines_left = if follow.is_none() {
        opts.tail_lines
    } else {
        None
    };
    let mut line = Vec::new();
    let mut draining = false;
    let mut last_check: Option<tokio::time::Instant> = None;
    loop {
        if lines_left == Some(0) {
            break;
        }
        let read = match reader.read_until(b'\n', &mut line).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "reading a container log failed");
                break;
            }
        };
        if read > 0 && line.ends_with(b"\n") {
            let done = writer.entry(&line);
            line.clear();
            if let Some(n) = &mut lines_left {
                *n -= 1;
            }
            if done || (writer.buf.len() >= CHUNK && !writer.flush().await) {
                break;
            }
            continue;
        }
        // End of file, maybe inside an unterminated line (kept and completed later).
        let Some(followed) = &follow else {
            if !line.is_empty() {
                writer.entry(&line);
            }
            break;
        };
        if !writer.flush().await || draining {
            break;
        }
        if let Some(file) = rotated(&followed.path, inode).await {
            // Everything of the old file was read: continue with the new one.
            inode = file.metadata().await.map(|m| m.ino()).ok();
            reader = BufReader::new(file);
            line.clear();
            continue;
        }
        if last_check.is_none_or(|t| t.elapsed() >= RUNNING_CHECK) {
            last_check = Some(tokio::time::Instant::now());
            if !running(followed).await {
                // Read what was written before it stopped, then end.
                draining = true;
                continue;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = writer.out.closed() => break,
        }
    }
    writer.flush().await;
}

/// The file now at `path`, if it is not the one open (inode `open`): the log was rotated.
async fn rotated(path: &std::path::Path, open: Option<u64>) -> Option<tokio::fs::File> {
    let now = tokio::fs::metadata(path).await.ok()?.ino();
    if Some(now) == open {
        return None;
    }
    tokio::fs::File::open(path).await.ok()
}

/// Whether the followed container is still running.
async fn running(f: &Followed) -> bool {
    let status = f
        .cri
        .runtime
        .clone()
        .container_status(cri::ContainerStatusRequest {
            container_id: f.container_id.clone(),
            verbose: false,
        })
        .await;
    matches!(
        status.map(|r| r.into_inner().status.map(|s| s.state)),
        Ok(Some(s)) if s == cri::ContainerState::ContainerRunning as i32
    )
}

struct Writer {
    out: mpsc::Sender<Bytes>,
    buf: BytesMut,
    remain: u64,
    opts: LogOptions,
}

impl Writer {
    /// Writes one file line's entry; true when the byte limit is reached.
    fn entry(&mut self, line: &[u8]) -> bool {
        let entry = match format::parse(line) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "skipping a malformed log line");
                return false;
            }
        };
        if self.opts.since.is_some_and(|since| entry.time < since) {
            return false;
        }
        let mut piece = Vec::with_capacity(entry.text.len() + 32);
        if self.opts.timestamps {
            piece.extend_from_slice(format::fixed_time(entry.time).as_bytes());
            piece.push(b' ');
        }
        piece.extend_from_slice(entry.text);
        let take = piece
            .len()
            .min(usize::try_from(self.remain).unwrap_or(usize::MAX));
        self.buf.extend_from_slice(&piece[..take]);
        self.remain -= take as u64;
        self.remain == 0
    }

    /// Sends what is buffered; false when the client is gone.
    async fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return !self.out.is_closed();
        }
        self.out.send(self.buf.split().freeze()).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    async fn read_all(content: &str, opts: LogOptions) -> String {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        let file = tokio::fs::File::open(f.path()).await.unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(stream(file, opts, None, tx));
        let mut got = Vec::new();
        while let Some(b) = rx.recv().await {
            got.extend_from_slice(&b);
        }
        task.await.unwrap();
        String::from_utf8(got).unwrap()
    }

    const LOG: &str = "2024-01-01T00:00:01.5Z stdout F one\n\
                       2024-01-01T00:00:02Z stderr P tw\n\
                       2024-01-01T00:00:02.1Z stderr F o\n\
                       bad line\n\
                       2024-01-01T00:00:03Z stdout F three\n";

    #[tokio::test]
    async fn plain_limits_since_and_timestamps() {
        assert_eq!(
            read_all(LOG, LogOptions::default()).await,
            "one\ntwo\nthree\n"
        );
        let limited = LogOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(read_all(LOG, limited).await, "one\ntw");
        let since = LogOptions {
            since: Some("2024-01-01T00:00:02.05Z".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(read_all(LOG, since).await, "o\nthree\n");
        let stamped = LogOptions {
            timestamps: true,
            tail_lines: Some(1),
            ..Default::default()
        };
        assert_eq!(
            read_all("2024-01-01T00:00:03Z stdout F three\n", stamped).await,
            "2024-01-01T00:00:03.000000000Z three\n"
        );
    }
}
