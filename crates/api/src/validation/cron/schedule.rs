//! A parsed cron schedule and its next activation times, as robfig/cron computes them (the
//! library upstream's CronJob controller uses): whole minutes, evaluated in the schedule's time
//! zone, at most five years ahead.

use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::{Parsed, parse_fields};

/// A schedule ready to compute start times.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    tz: TimeZone,
}

#[derive(Clone, Debug)]
enum Kind {
    Fields {
        bits: [u64; 5],
        dom_star: bool,
        dow_star: bool,
    },
    Every(Duration),
}

/// How far ahead a search goes before giving up (robfig's limit: an impossible date such as
/// February 30th never matches).
const SEARCH_YEARS: i16 = 5;

impl Schedule {
    /// Parses `spec` (five fields, a `@descriptor` or `@every`, optionally prefixed by
    /// `TZ=<zone>`/`CRON_TZ=<zone>`); without a zone the schedule runs in UTC (upstream uses the
    /// controller manager's local zone, which is UTC in its usual container).
    pub fn parse(spec: &str) -> Result<Schedule, String> {
        Self::from_parsed(parse_fields(spec)?, TimeZone::UTC)
    }

    fn from_parsed(parsed: Parsed<'_>, tz: TimeZone) -> Result<Schedule, String> {
        match parsed {
            Parsed::Zoned(name, inner) => {
                let tz = TimeZone::get(name).map_err(|_| {
                    format!("provided bad location {name}: unknown time zone {name}")
                })?;
                Self::from_parsed(*inner, tz)
            }
            Parsed::Every(d) => {
                // robfig rounds the delay down to whole seconds, at least one.
                let secs = d.as_secs().max(1);
                Ok(Schedule {
                    kind: Kind::Every(Duration::from_secs(secs)),
                    tz,
                })
            }
            Parsed::Fields(bits, dom_star, dow_star) => Ok(Schedule {
                kind: Kind::Fields {
                    bits,
                    dom_star,
                    dow_star,
                },
                tz,
            }),
        }
    }

    /// The zone the schedule is evaluated in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first activation strictly after `after`; `None` when none comes within five years.
    pub fn next(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(d) => {
                let whole = Timestamp::from_second(after.as_second()).ok()?;
                let delay = i64::try_from(d.as_secs()).ok()?;
                whole.checked_add(delay.seconds()).ok()
            }
            Kind::Fields {
                bits,
                dom_star,
                dow_star,
            } => self.next_fields(after, bits, *dom_star, *dow_star),
        }
    }

    fn next_fields(
        &self,
        after: Timestamp,
        bits: &[u64; 5],
        dom_star: bool,
        dow_star: bool,
    ) -> Option<Timestamp> {
        let has = |field: usize, v: i64| (0..64).contains(&v) && bits[field] & (1 << v) != 0;
        let local = after.to_zoned(self.tz.clone()).datetime();
        let mut dt = local
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = dt.year().saturating_add(SEARCH_YEARS);
        let midnight = |d: Date| d.to_datetime(jiff::civil::time(0, 0, 0, 0));
        while dt.year() <= limit {
            if !has(3, i64::from(dt.month())) {
                dt = midnight(dt.date().first_of_month().checked_add(1.month()).ok()?);
                continue;
            }
            let dom = has(2, i64::from(dt.day()));
            let dow = has(4, i64::from(dt.weekday().to_sunday_zero_offset()));
            let day_ok = if dom_star || dow_star {
                dom && dow
            } else {
                dom || dow
            };
            if !day_ok {
                dt = midnight(dt.date().tomorrow().ok()?);
                continue;
            }
            if !has(1, i64::from(dt.hour())) {
                dt = next_hour(dt)?;
                continue;
            }
            if !has(0, i64::from(dt.minute())) {
                dt = dt.checked_add(1.minute()).ok()?;
                continue;
            }
            // A wall time skipped by a DST change resolves forward, as the zone's clocks do.
            let at = self.tz.to_zoned(dt).ok()?.timestamp();
            if at > after {
                return Some(at);
            }
            dt = dt.checked_add(1.minute()).ok()?;
        }
        None
    }
}

fn next_hour(dt: DateTime) -> Option<DateTime> {
    dt.with().minute(0).build().ok()?.checked_add(1.hour()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn next_times() {
        let table = [
            ("* * * * *", "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"),
            ("* * * * *", "2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z"),
            (
                "*/5 * * * *",
                "2024-01-01T00:03:00Z",
                "2024-01-01T00:05:00Z",
            ),
            ("0 * * * *", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"),
            ("@hourly", "2024-01-01T00:59:59Z", "2024-01-01T01:00:00Z"),
            ("@daily", "2024-01-01T12:00:00Z", "2024-01-02T00:00:00Z"),
            ("@weekly", "2024-01-01T00:00:00Z", "2024-01-07T00:00:00Z"),
            ("@monthly", "2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"),
            ("@yearly", "2024-03-01T00:00:00Z", "2025-01-01T00:00:00Z"),
            (
                "30 9 * * mon-fri",
                "2024-01-05T10:00:00Z",
                "2024-01-08T09:30:00Z",
            ),
            // Both day fields restricted: either matches.
            ("0 0 13 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
            ("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            (
                "@every 90s",
                "2024-01-01T00:00:00.5Z",
                "2024-01-01T00:01:30Z",
            ),
            (
                "TZ=Europe/Paris 0 9 * * *",
                "2024-01-01T00:00:00Z",
                "2024-01-01T08:00:00Z",
            ),
            (
                "CRON_TZ=America/New_York 0 9 * * *",
                "2024-07-01T00:00:00Z",
                "2024-07-01T13:00:00Z",
            ),
        ];
        for (spec, after, want) in table {
            let s = Schedule::parse(spec).unwrap();
            assert_eq!(s.next(ts(after)), Some(ts(want)), "{spec} after {after}");
        }
    }

    #[test]
    fn impossible_dates_never_come() {
        let s = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(s.next(ts("2024-01-01T00:00:00Z")), None);
    }

    #[test]
    fn unknown_zone() {
        assert_eq!(
            Schedule::parse("TZ=Mars/Olympus * * * * *").unwrap_err(),
            "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"
        );
    }
}
