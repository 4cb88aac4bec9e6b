//! Cron schedules as CronJobs accept them (robfig/cron's standard parser: five fields or a
//! `@descriptor`), with the parser's error messages, which upstream returns verbatim; and
//! [`Schedule`], the parsed form the CronJob controller computes start times with.

mod schedule;

pub use schedule::Schedule;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];
const DAYS: &[(&str, u32)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];
const FIELDS: [Bounds; 5] = [
    Bounds {
        min: 0,
        max: 59,
        names: &[],
    },
    Bounds {
        min: 0,
        max: 23,
        names: &[],
    },
    Bounds {
        min: 1,
        max: 31,
        names: &[],
    },
    Bounds {
        min: 1,
        max: 12,
        names: MONTHS,
    },
    Bounds {
        min: 0,
        max: 6,
        names: DAYS,
    },
];

/// Go's `strconv.Atoi` followed by the parser's non-negative check.
fn parse_int(expr: &str) -> Result<u32, String> {
    let digits = expr.strip_prefix(['+', '-']).unwrap_or(expr);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: invalid syntax"
        ));
    }
    let n: i64 = expr.parse().map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
        )
    })?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {expr}"));
    }
    u32::try_from(n).map_err(|_| {
        format!(
            "failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: value out of range"
        )
    })
}

fn parse_int_or_name(expr: &str, b: &Bounds) -> Result<u32, String> {
    let lower = expr.to_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    parse_int(expr)
}

/// One `range[/step]` expression as a bit set over the field's values.
fn range(expr: &str, b: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        (b.min, b.max)
    } else {
        let start = parse_int_or_name(low_high[0], b)?;
        let end = match low_high.len() {
            1 => start,
            2 => parse_int_or_name(low_high[1], b)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_int(range_and_step[1])?;
            if single {
                end = b.max;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok((start..=end)
        .step_by(step as usize)
        .fold(0, |bits, v| bits | 1 << v))
}

/// A Go duration such as `1h30m` or `90s` (validity only; [`go_duration`] gives its value).
fn parse_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if i == start {
            return false;
        }
        let ustart = i;
        while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        if !["ns", "us", "µs", "μs", "ms", "s", "m", "h"].contains(&&s[ustart..i]) {
            return false;
        }
    }
    true
}

/// Checks a schedule; the error is the parser's message (upstream reports it as the detail of
/// `spec.schedule: Invalid value`). A `TZ=` prefix is checked for shape only: the API validates
/// `timeZone` separately and the controller resolves zones when it computes times.
pub fn parse_standard(spec: &str) -> Result<(), String> {
    parse_fields(spec).map(|_| ())
}

/// The parts of a schedule before its zone is resolved.
pub(crate) enum Parsed<'a> {
    /// Minute, hour, day-of-month, month, day-of-week bit sets, and whether day-of-month and
    /// day-of-week are stars.
    Fields([u64; 5], bool, bool),
    /// `@every <duration>`.
    Every(std::time::Duration),
    /// A `TZ=`/`CRON_TZ=` prefix with the rest parsed.
    Zoned(&'a str, Box<Parsed<'a>>),
}

pub(crate) fn parse_fields(spec: &str) -> Result<Parsed<'_>, String> {
    if spec.is_empty() {
        return Err("empty spec string".to_string());
    }
    if let Some(rest) = spec
        .strip_prefix("TZ=")
        .or_else(|| spec.strip_prefix("CRON_TZ="))
    {
        let Some(i) = rest.find(' ') else {
            return Err(format!(
                "provided bad location {rest}: unknown time zone {rest}"
            ));
        };
        let inner = parse_fields(rest[i..].trim())?;
        return Ok(Parsed::Zoned(&rest[..i], Box::new(inner)));
    }
    if spec.starts_with('@') {
        let fields = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ => {
                return match spec.strip_prefix("@every ") {
                    Some(d) => match go_duration(d) {
                        Some(d) => Ok(Parsed::Every(d)),
                        None => Err(format!(
                            "failed to parse duration {spec}: time: invalid duration {d:?}"
                        )),
                    },
                    None => Err(format!("unrecognized descriptor: {spec}")),
                };
            }
        };
        return parse_fields(fields);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let mut bits = [0u64; 5];
    for ((field, bounds), out) in fields.iter().zip(FIELDS.iter()).zip(bits.iter_mut()) {
        for expr in field.split(',').filter(|e| !e.is_empty()) {
            *out |= range(expr, bounds)?;
        }
    }
    // robfig/cron: a day-of-month or day-of-week field holding `*` or `?` (without a step
    // above 1) is a "star": when either is, both must match; otherwise either may.
    let star = |f: &str| {
        f.split(',').any(|e| {
            let mut parts = e.split('/');
            matches!(parts.next(), Some("*" | "?")) && parts.next().is_none_or(|s| s == "1")
        })
    };
    Ok(Parsed::Fields(bits, star(fields[2]), star(fields[4])))
}

/// The value of a Go duration (`1h30m`, `90s`, `1.5h`), `None` when malformed.
fn go_duration(s: &str) -> Option<std::time::Duration> {
    if !parse_go_duration(s) {
        return None;
    }
    let negative = s.starts_with('-');
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let b = s.as_bytes();
    let mut total = 0f64;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let n: f64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && !(b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let unit = match &s[ustart..i] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => 0.0,
        };
        total += n * unit;
    }
    if negative {
        total = -total;
    }
    Some(std::time::Duration::from_secs_f64(total.max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_schedules() {
        for s in [
            "* * * * *",
            "*/5 * * * *",
            "0 0 1 1 *",
            "0 9-17/2 * * mon-fri",
            "15,45 * * JAN,dec SUN",
            "@hourly",
            "@every 1h30m",
            "5 4 * * 6",
            "0 0 ? * *",
        ] {
            assert_eq!(parse_standard(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(parse_standard(""), Err("empty spec string".into()));
        assert_eq!(
            parse_standard("foo"),
            Err("expected exactly 5 fields, found 1: [foo]".into())
        );
        assert_eq!(
            parse_standard("* * * * * *"),
            Err("expected exactly 5 fields, found 6: [* * * * * *]".into())
        );
        assert_eq!(
            parse_standard("60 * * * *"),
            Err("end of range (60) above maximum (59): 60".into())
        );
        assert_eq!(
            parse_standard("* * 0 * *"),
            Err("beginning of range (0) below minimum (1): 0".into())
        );
        assert_eq!(
            parse_standard("5-1 * * * *"),
            Err("beginning of range (5) beyond end of range (1): 5-1".into())
        );
        assert_eq!(
            parse_standard("x * * * *"),
            Err("failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax".into())
        );
        assert_eq!(
            parse_standard("*/0 * * * *"),
            Err("step of range should be a positive number: */0".into())
        );
        assert_eq!(
            parse_standard("@often"),
            Err("unrecognized descriptor: @often".into())
        );
        assert_eq!(
            parse_standard("@every soon"),
            Err("failed to parse duration @every soon: time: invalid duration \"soon\"".into())
        );
    }
}
