//! Human readable durations, as the AGE column and friends show them.

use jiff::{SignedDuration, Timestamp};

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;

/// Formats a duration with two or three significant figures, the way Kubernetes prints ages:
/// `45s` (up to two minutes), `5m30s` (under ten minutes), `42m` (under three hours), `3h4m`
/// (under eight hours), `20h` (under two days), `3d4h` (under eight days), `120d` (under two
/// years), `3y45d` (under eight years), then whole years.
///
/// Clocks are allowed to disagree a little: anything above two seconds in the future prints
/// `<invalid>`, less than that `0s`. Durations beyond what a signed 64-bit count of nanoseconds
/// holds (about 292 years) are clamped to it.
pub fn human_duration(d: SignedDuration) -> String {
    let nanos =
        i64::try_from(d.as_nanos()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX });
    // Whole seconds, truncated toward zero.
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 2 * 60 {
        return format!("{seconds}s");
    }
    let minutes = nanos / NANOS_PER_MINUTE;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = nanos / NANOS_PER_HOUR;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// `"{major}{major_unit}"`, followed by `"{minor}{minor_unit}"` unless `minor` is zero.
fn with_remainder(major: i64, major_unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// The time elapsed from `then` to `now` as [`human_duration`] prints it, or `<unknown>` when
/// there is no timestamp.
pub(crate) fn since(now: Timestamp, then: Option<Timestamp>) -> String {
    match then {
        Some(then) => human_duration(now.duration_since(then)),
        None => "<unknown>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> SignedDuration {
        SignedDuration::from_secs(s)
    }

    #[test]
    fn human_duration_table() {
        let cases: &[(SignedDuration, &str)] = &[
            (secs(-3), "<invalid>"),
            (secs(-2), "<invalid>"),
            (SignedDuration::from_millis(-1999), "0s"),
            (secs(-1), "0s"),
            (secs(0), "0s"),
            (SignedDuration::from_millis(999), "0s"),
            (secs(45), "45s"),
            (secs(119), "119s"),
            (secs(120), "2m"),
            (secs(121), "2m1s"),
            (secs(5 * 60 + 30), "5m30s"),
            (secs(9 * 60 + 59), "9m59s"),
            (secs(10 * 60 + 59), "10m"),
            (secs(179 * 60 + 59), "179m"),
            (secs(3 * 3600), "3h"),
            (secs(3 * 3600 + 4 * 60 + 5), "3h4m"),
            (secs(7 * 3600 + 59 * 60), "7h59m"),
            (secs(8 * 3600 + 30 * 60), "8h"),
            (secs(47 * 3600 + 59 * 60), "47h"),
            (secs(48 * 3600), "2d"),
            (secs(3 * 86400 + 4 * 3600), "3d4h"),
            (secs(7 * 86400 + 23 * 3600), "7d23h"),
            (secs(8 * 86400), "8d"),
            (secs(729 * 86400), "729d"),
            (secs(730 * 86400), "2y"),
            (secs(3 * 365 * 86400 + 45 * 86400), "3y45d"),
            (secs(8 * 365 * 86400), "8y"),
            (secs(20 * 365 * 86400 + 100 * 86400), "20y"),
            (SignedDuration::MAX, "292y"),
            (SignedDuration::MIN, "<invalid>"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "{d:?}");
        }
    }

    #[test]
    fn since_without_timestamp_is_unknown() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(since(now, None), "<unknown>");
        let then: Timestamp = "2024-05-01T11:55:00Z".parse().unwrap();
        assert_eq!(since(now, Some(then)), "5m");
    }
}
