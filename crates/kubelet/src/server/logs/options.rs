//! The query of `/containerLogs/…` as upstream's kubelet decodes it (`v1.PodLogOptions`,
//! plus the legacy `tail` parameter) and validates it.

use jiff::{SignedDuration, Timestamp};

/// What to read of a container's log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming what the container writes until it stops.
    pub follow: bool,
    /// Read the previous (last terminated) instance.
    pub previous: bool,
    /// Prefix each line with its RFC 3339 timestamp (nanoseconds, fixed width).
    pub timestamps: bool,
    /// Only the last this many lines.
    pub tail_lines: Option<u64>,
    /// Stop after this many bytes.
    pub limit_bytes: Option<u64>,
    /// Skip lines older than this.
    pub since: Option<Timestamp>,
}

/// Why the query was refused (upstream's kubelet answers with fixed JSON texts).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// A value did not parse (400).
    #[error("{{\"message\": \"Unable to decode query.\"}}")]
    Decode,
    /// The values are invalid together or alone (422).
    #[error("{{\"message\": \"Invalid request.\"}}")]
    Invalid,
}

fn parse_bool(v: &str) -> Result<bool, OptionsError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Ok(false),
        _ => Err(OptionsError::Decode),
    }
}

fn parse_int(v: &str) -> Result<i64, OptionsError> {
    v.parse().map_err(|_| OptionsError::Decode)
}

/// Reads a raw query string at time `now` (the reference of `sinceSeconds`).
pub fn parse(query: Option<&str>, now: Timestamp) -> Result<LogOptions, OptionsError> {
    let mut opts = LogOptions::default();
    let (mut tail, mut limit, mut since_seconds, mut since_time) = (None, None, None, None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "follow" => opts.follow = parse_bool(&value)?,
            "previous" => opts.previous = parse_bool(&value)?,
            "timestamps" => opts.timestamps = parse_bool(&value)?,
            "tailLines" => tail = Some(parse_int(&value)?),
            "limitBytes" => limit = Some(parse_int(&value)?),
            "sinceSeconds" => since_seconds = Some(parse_int(&value)?),
            "sinceTime" => {
                since_time = Some(
                    value
                        .parse::<Timestamp>()
                        .map_err(|_| OptionsError::Decode)?,
                )
            }
            _ => {}
        }
    }
    // The legacy `tail` parameter wins over tailLines; `all` means no limit.
    if let Some((_, t)) = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, v)| k == "tail" && !v.is_empty())
    {
        tail = if t == "all" {
            None
        } else {
            Some(parse_int(&t)?)
        };
    }
    if tail.is_some_and(|t| t < 0)
        || limit.is_some_and(|l| l < 1)
        || since_seconds.is_some_and(|s| s < 1)
        || (since_seconds.is_some() && since_time.is_some())
    {
        return Err(OptionsError::Invalid);
    }
    opts.tail_lines = tail.map(|t| t as u64);
    opts.limit_bytes = limit.map(|l| l as u64);
    opts.since = match (since_seconds, since_time) {
        (Some(s), _) => now.checked_sub(SignedDuration::from_secs(s)).ok(),
        (None, t) => t,
    };
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2025-01-02T03:04:05Z".parse().unwrap()
    }

    #[test]
    fn parses_what_the_apiserver_sends() {
        let o = parse(
            Some("follow=true&timestamps=1&tailLines=3&limitBytes=10&sinceSeconds=5"),
            now(),
        )
        .unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(3), Some(10)));
        assert_eq!(o.since, Some("2025-01-02T03:04:00Z".parse().unwrap()));
        let o = parse(
            Some("sinceTime=2025-01-01T00:00:00Z&tail=all&tailLines=2"),
            now(),
        )
        .unwrap();
        assert_eq!(o.tail_lines, None);
        assert_eq!(o.since, Some("2025-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(parse(None, now()).unwrap(), LogOptions::default());
    }

    #[test]
    fn refuses_what_upstream_refuses() {
        assert_eq!(
            parse(Some("follow=maybe"), now()),
            Err(OptionsError::Decode)
        );
        assert_eq!(parse(Some("tailLines=x"), now()), Err(OptionsError::Decode));
        assert_eq!(
            parse(Some("tailLines=-1"), now()),
            Err(OptionsError::Invalid)
        );
        assert_eq!(
            parse(Some("limitBytes=0"), now()),
            Err(OptionsError::Invalid)
        );
        assert_eq!(
            parse(Some("sinceSeconds=1&sinceTime=2025-01-01T00:00:00Z"), now()),
            Err(OptionsError::Invalid)
        );
        assert_eq!(
            OptionsError::Invalid.to_string(),
            r#"{"message": "Invalid request."}"#
        );
    }
}
