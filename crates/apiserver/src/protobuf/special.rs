//! JSON forms of the apimachinery types whose Go JSON marshalling is custom: times, durations.

use super::ProtobufError;

/// Go's zero `time.Time` (January 1, year 1, UTC) in Unix seconds: it marshals as `null`.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// `meta/v1.Time`: Go keeps only the seconds (its protobuf decoding drops the nanoseconds) and
/// marshals RFC 3339 in UTC, or `null` for the zero time.
pub(super) fn time(seconds: i64) -> Result<serde_json::Value, ProtobufError> {
    if seconds == GO_ZERO_TIME_SECONDS {
        return Ok(serde_json::Value::Null);
    }
    let ts = timestamp(jiff::Timestamp::from_second(seconds))?;
    Ok(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string().into())
}

/// `meta/v1.MicroTime`: RFC 3339 with exactly six fractional digits, in UTC, or `null` for the
/// zero time.
pub(super) fn micro_time(seconds: i64, nanos: i32) -> Result<serde_json::Value, ProtobufError> {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let micros = total.div_euclid(1000);
    if micros == i128::from(GO_ZERO_TIME_SECONDS) * 1_000_000 {
        return Ok(serde_json::Value::Null);
    }
    let micros = i64::try_from(micros).map_err(|_| out_of_range())?;
    let ts = timestamp(jiff::Timestamp::from_microsecond(micros))?;
    let frac = micros.rem_euclid(1_000_000);
    Ok(format!("{}.{frac:06}Z", ts.strftime("%Y-%m-%dT%H:%M:%S")).into())
}

fn timestamp(ts: Result<jiff::Timestamp, jiff::Error>) -> Result<jiff::Timestamp, ProtobufError> {
    let ts = ts.map_err(|_| out_of_range())?;
    // RFC 3339 has four-digit years.
    let year = ts.to_zoned(jiff::tz::TimeZone::UTC).year();
    if !(0..=9999).contains(&year) {
        return Err(out_of_range());
    }
    Ok(ts)
}

fn out_of_range() -> ProtobufError {
    ProtobufError::InvalidValue {
        what: "time".into(),
        reason: "out of range".into(),
    }
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `300ms`, `2µs`, `1h0m0s`, `-5m30s`.
pub(super) fn go_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let body = if u == 0 {
        return "0s".to_string();
    } else if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = split_fraction(u, prec);
        format!("{int}{frac}{unit}")
    } else {
        let (secs, frac) = split_fraction(u, 9);
        let (mins, secs) = (secs / 60, secs % 60);
        let (hours, mins) = (mins / 60, mins % 60);
        if hours > 0 {
            format!("{hours}h{mins}m{secs}{frac}s")
        } else if mins > 0 {
            format!("{mins}m{secs}{frac}s")
        } else {
            format!("{secs}{frac}s")
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// `v / 10^prec` and its fraction as `.ddd` without trailing zeros (empty when zero).
fn split_fraction(v: u64, prec: u32) -> (u64, String) {
    let p = 10u64.pow(prec);
    let (int, frac) = (v / p, v % p);
    if frac == 0 {
        return (int, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (int, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_match_go() {
        for (nanos, s) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (5_430_000_000_000, "1h30m30s"),
            (-330_000_000_000, "-5m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (i64::MAX, "2562047h47m16.854775807s"),
        ] {
            assert_eq!(go_duration(nanos), s, "{nanos}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(time(1_700_000_000).unwrap(), json!("2023-11-14T22:13:20Z"));
        assert_eq!(time(0).unwrap(), json!("1970-01-01T00:00:00Z"));
        assert_eq!(time(GO_ZERO_TIME_SECONDS).unwrap(), json!(null));
        assert!(time(i64::MAX).is_err());
        assert!(time(-100_000_000_000).is_err());
        assert_eq!(
            micro_time(1_700_000_000, 123_456_789).unwrap(),
            json!("2023-11-14T22:13:20.123456Z")
        );
        assert_eq!(
            micro_time(0, 0).unwrap(),
            json!("1970-01-01T00:00:00.000000Z")
        );
        assert_eq!(micro_time(GO_ZERO_TIME_SECONDS, 0).unwrap(), json!(null));
        assert!(micro_time(i64::MIN, i32::MIN).is_err());
    }
}
