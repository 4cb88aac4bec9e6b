//! The CRI log file format, one entry per line: `<RFC 3339 time> <stdout|stderr> <P|F> <text>`
//! (`P` marks a partial line: the runtime split a long line, or the process wrote no newline
//! yet), and how an entry is written out.

use jiff::Timestamp;

/// One parsed log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// When the runtime read it.
    pub time: Timestamp,
    /// The text as the container wrote it: a full line keeps its newline, a partial one has
    /// none.
    pub text: &'a [u8],
}

/// Why a line is not a CRI log entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A field is missing.
    #[error("{0} is not found")]
    Missing(&'static str),
    /// The time does not parse.
    #[error("unexpected timestamp format")]
    Time,
    /// Neither stdout nor stderr.
    #[error("unexpected stream type")]
    Stream,
}

fn split_field<'a>(s: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), ParseError> {
    let i = s
        .iter()
        .position(|b| *b == b' ')
        .ok_or(ParseError::Missing(what))?;
    Ok((&s[..i], &s[i + 1..]))
}

/// Parses one line of the file, including its trailing newline if it has one.
pub fn parse(line: &[u8]) -> Result<Entry<'_>, ParseError> {
    let (time, rest) = split_field(line, "timestamp")?;
    let time = std::str::from_utf8(time)
        .ok()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .ok_or(ParseError::Time)?;
    let (stream, rest) = split_field(rest, "stream type")?;
    if stream != b"stdout" && stream != b"stderr" {
        return Err(ParseError::Stream);
    }
    let (tags, mut text) = split_field(rest, "log tag")?;
    // Tags are `:`-separated; the first says full or partial.
    let partial = tags.split(|b| *b == b':').next() == Some(b"P");
    if partial && text.last() == Some(&b'\n') {
        text = &text[..text.len() - 1];
    }
    Ok(Entry { time, text })
}

/// `2006-01-02T15:04:05.000000000Z`: RFC 3339 in UTC with exactly nine fraction digits (the
/// kubelet's `--timestamps` format).
pub fn fixed_time(t: Timestamp) -> String {
    format!(
        "{}.{:09}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_nanosecond().max(0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_partial_lines() {
        let e = parse(b"2016-10-06T00:17:09.669794202Z stdout F log content 1\n").unwrap();
        assert_eq!(e.text, b"log content 1\n");
        assert_eq!(fixed_time(e.time), "2016-10-06T00:17:09.669794202Z");
        let e = parse(b"2016-10-06T00:17:09.6Z stderr P part\n").unwrap();
        assert_eq!(e.text, b"part");
        assert_eq!(fixed_time(e.time), "2016-10-06T00:17:09.600000000Z");
        let e = parse(b"2016-10-06T02:17:09+02:00 stdout F:x \n").unwrap();
        assert_eq!(e.text, b"\n");
        assert_eq!(fixed_time(e.time), "2016-10-06T00:17:09.000000000Z");
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse(b"garbage"), Err(ParseError::Missing("timestamp")));
        assert_eq!(parse(b"yesterday stdout F x\n"), Err(ParseError::Time));
        assert_eq!(
            parse(b"2016-10-06T00:17:09Z stdin F x\n"),
            Err(ParseError::Stream)
        );
        assert_eq!(
            parse(b"2016-10-06T00:17:09Z stdout F"),
            Err(ParseError::Missing("log tag"))
        );
    }
}
