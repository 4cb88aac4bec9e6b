//! The CronJob controller's time arithmetic, as upstream's: which scheduled time (if any) is
//! due, how many were missed, when to look again, and the name and timestamp annotation of the
//! Job for a scheduled time.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::CronJob;
use rkube_api::validation::cron::Schedule;

/// Upstream's slack added to requeue delays so the next sync lands after the scheduled time.
pub const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);
/// More missed start times than this are not enumerated (a clock or config problem).
pub const MANY_MISSED: i64 = 100;

/// How many start times were missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missed {
    /// None is due.
    None,
    /// A few (at most [`MANY_MISSED`]).
    Few,
    /// More than [`MANY_MISSED`].
    Many,
}

/// Why no time can be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    /// Two consecutive start times less than a second apart (e.g. February 31st).
    #[error("time difference between two schedules is less than 1 second")]
    TooClose,
}

/// The earliest time considered, the most recent start time due at `now` (if any) and how many
/// were missed. Counting from the last schedule time (else creation), or from
/// `now - startingDeadlineSeconds` when that is later and `with_deadline`.
pub fn most_recent(
    cj: &CronJob,
    now: Timestamp,
    schedule: &Schedule,
    with_deadline: bool,
) -> Result<(Timestamp, Option<Timestamp>, Missed), TimeError> {
    let status = cj.status.as_ref();
    let mut earliest = status
        .and_then(|s| s.last_schedule_time.as_ref())
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
        .unwrap_or(now);
    if with_deadline && let Some(secs) = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds)
    {
        let deadline = now
            .checked_sub(jiff::SignedDuration::from_secs(secs))
            .unwrap_or(now);
        if deadline > earliest {
            earliest = deadline;
        }
    }
    let Some(t1) = schedule.next(earliest) else {
        return Ok((earliest, None, Missed::None));
    };
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let Some(t2) = schedule.next(t1) else {
        return Ok((earliest, Some(t1), Missed::Few));
    };
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::Few));
    }
    let between = t2.duration_since(t1).as_secs();
    if between < 1 {
        return Err(TimeError::TooClose);
    }
    // Estimate from the interval of the first two times, as upstream, start a little before
    // the estimate and let the schedule find the real times up to now; irregular schedules
    // whose estimate overshoots are walked from the first missed time.
    let elapsed = now.duration_since(t1).as_secs();
    let count = elapsed / between + 1;
    let second = jiff::SignedDuration::from_secs(1);
    let begin = t1
        .checked_add(jiff::SignedDuration::from_secs(
            (count - 3).max(0) * between,
        ))
        .and_then(|t| t.checked_sub(second))
        .unwrap_or(t1);
    let walk = |from: Timestamp| {
        let mut recent = None;
        let mut t = schedule.next(from);
        while let Some(x) = t.filter(|x| *x <= now) {
            recent = Some(x);
            t = schedule.next(x);
        }
        recent
    };
    let recent = walk(begin).or_else(|| walk(earliest)).unwrap_or(t1);
    let missed = if count > MANY_MISSED {
        Missed::Many
    } else {
        Missed::Few
    };
    Ok((earliest, Some(recent), missed))
}

/// How long until the next start time after what is due now (plus [`NEXT_SCHEDULE_DELTA`]).
pub fn next_schedule_in(cj: &CronJob, now: Timestamp, schedule: &Schedule) -> Option<Duration> {
    let (earliest, recent, missed) = most_recent(cj, now, schedule, false).ok()?;
    let next = match (recent, missed) {
        (Some(r), _) => schedule.next(r)?,
        (None, _) => schedule.next(earliest)?,
    };
    let d = next.duration_since(now);
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO) + NEXT_SCHEDULE_DELTA)
}

/// The name of the Job for `scheduled`: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// `scheduled` as RFC 3339 in `tz` (Go's format: `Z` for UTC, else the offset).
pub fn scheduled_timestamp(scheduled: Timestamp, tz: &TimeZone) -> String {
    let z = scheduled.to_zoned(tz.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// `t` as Go's RFC 1123 with a numeric zone, in UTC (upstream's MissSchedule message).
pub fn rfc1123z(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn cj(created: &str, last: Option<&str>, deadline: Option<i64>) -> CronJob {
        serde_json::from_value(
            json!({"metadata": {"name": "c", "creationTimestamp": created},
            "spec": {"schedule": "x", "startingDeadlineSeconds": deadline,
                "jobTemplate": {"spec": {"template": {}}}},
            "status": {"lastScheduleTime": last}}),
        )
        .unwrap()
    }

    #[test]
    fn most_recent_times() {
        let hourly = Schedule::parse("0 * * * *").unwrap();
        let every_minute = Schedule::parse("* * * * *").unwrap();
        let weekdays = Schedule::parse("0 9 * * 1,5").unwrap();
        let table = [
            // (schedule, created, last, deadline, now, most recent, missed)
            (
                &hourly,
                "2024-01-01T00:30:00Z",
                None,
                None,
                "2024-01-01T00:45:00Z",
                None,
                Missed::None,
            ),
            (
                &hourly,
                "2024-01-01T00:30:00Z",
                None,
                None,
                "2024-01-01T01:00:05Z",
                Some("2024-01-01T01:00:00Z"),
                Missed::Few,
            ),
            (
                &hourly,
                "2024-01-01T00:30:00Z",
                None,
                None,
                "2024-01-01T05:10:00Z",
                Some("2024-01-01T05:00:00Z"),
                Missed::Few,
            ),
            (
                &hourly,
                "2024-01-01T00:30:00Z",
                Some("2024-01-01T05:00:00Z"),
                None,
                "2024-01-01T05:10:00Z",
                None,
                Missed::None,
            ),
            (
                &every_minute,
                "2024-01-01T00:00:00Z",
                None,
                None,
                "2024-01-01T03:00:30Z",
                Some("2024-01-01T03:00:00Z"),
                Missed::Many,
            ),
            // A deadline limits how far back the controller looks.
            (
                &every_minute,
                "2024-01-01T00:00:00Z",
                None,
                Some(200),
                "2024-01-01T03:00:30Z",
                Some("2024-01-01T03:00:00Z"),
                Missed::Few,
            ),
            // Irregular: Monday and Friday; from Monday, now the next Thursday.
            (
                &weekdays,
                "2024-01-01T10:00:00Z",
                None,
                None,
                "2024-01-11T10:00:00Z",
                Some("2024-01-08T09:00:00Z"),
                Missed::Few,
            ),
        ];
        for (s, created, last, deadline, now, want, missed) in table {
            let c = cj(created, last, deadline);
            let (_, got, m) = most_recent(&c, ts(now), s, true).unwrap();
            assert_eq!(got, want.map(ts), "{created} {last:?} {now}");
            assert_eq!(m, missed, "{created} {last:?} {now}");
        }
    }

    #[test]
    fn requeue_delay_and_names() {
        let hourly = Schedule::parse("@hourly").unwrap();
        let c = cj("2024-01-01T00:30:00Z", None, None);
        assert_eq!(
            next_schedule_in(&c, ts("2024-01-01T00:45:00Z"), &hourly),
            Some(Duration::from_secs(15 * 60) + NEXT_SCHEDULE_DELTA)
        );
        assert_eq!(
            job_name("hello", ts("2024-01-01T01:00:00Z")),
            "hello-28401180"
        );
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            scheduled_timestamp(ts("2024-01-01T08:00:00Z"), &paris),
            "2024-01-01T09:00:00+01:00"
        );
        assert_eq!(
            scheduled_timestamp(ts("2024-01-01T08:00:00Z"), &TimeZone::UTC),
            "2024-01-01T08:00:00Z"
        );
        assert_eq!(
            rfc1123z(ts("2024-01-01T08:00:00Z")),
            "Mon, 01 Jan 2024 08:00:00 +0000"
        );
    }
}
