//! The delay before a Job replaces failed pods: 10 s after the first failure since the last
//! success, doubling with each further one, at most 6 minutes; counted from when the last
//! failed pod finished (its containers' latest `finishedAt`, else its `Ready=False` transition,
//! else its deletion time less the grace period, else its creation).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

/// Upstream's `DefaultJobPodFailureBackOff`.
pub const BASE: Duration = Duration::from_secs(10);
/// Upstream's cap on the pod failure backoff (documented as six minutes).
pub const MAX: Duration = Duration::from_secs(360);

/// Failures since the last success, per Job (kept in memory, as upstream).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Failed pods since the last success.
    pub failures_after_last_success: i32,
    /// When the latest of them finished.
    pub last_failure: Option<Timestamp>,
}

impl Record {
    /// The record after seeing pods that newly succeeded and failed.
    pub fn next(self, succeeded: &[&Pod], failed: &[&Pod]) -> Record {
        let mut failed_times: Vec<Timestamp> = failed.iter().map(|p| finished_at(p)).collect();
        failed_times.sort();
        if succeeded.is_empty() {
            let Some(last) = failed_times.last() else {
                return self;
            };
            return Record {
                failures_after_last_success: self.failures_after_last_success
                    + failed_times.len() as i32,
                last_failure: Some(*last),
            };
        }
        let last_success = succeeded.iter().map(|p| finished_at(p)).max();
        let after: Vec<&Timestamp> = failed_times
            .iter()
            .filter(|t| last_success.is_none_or(|s| **t > s))
            .collect();
        Record {
            failures_after_last_success: after.len() as i32,
            last_failure: after.last().map(|t| **t),
        }
    }

    /// How long until replacements may be created (zero when they may now).
    pub fn remaining(&self, now: Timestamp) -> Duration {
        let Some(last) = self.last_failure else {
            return Duration::ZERO;
        };
        if self.failures_after_last_success <= 0 {
            return Duration::ZERO;
        }
        let mut delay = BASE;
        for _ in 1..self.failures_after_last_success {
            delay *= 2;
            if delay >= MAX {
                delay = MAX;
                break;
            }
        }
        let elapsed = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
        delay.saturating_sub(elapsed)
    }
}

/// When `pod` finished, as upstream estimates it.
pub fn finished_at(pod: &Pod) -> Timestamp {
    let status = pod.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let mut latest: Option<Timestamp> = None;
    let mut all_finished = !containers.is_empty();
    for c in containers {
        match c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
        {
            Some(t) => latest = Some(latest.map_or(t.0, |l| l.max(t.0))),
            None => all_finished = false,
        }
    }
    if all_finished && let Some(t) = latest {
        return t;
    }
    let ready_false = status
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "False")
        .and_then(|c| c.last_transition_time.as_ref());
    if let Some(t) = ready_false {
        return t.0;
    }
    if let Some(d) = &pod.metadata.deletion_timestamp {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        return d
            .0
            .checked_sub(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(d.0);
    }
    pod.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(finished: &str) -> Pod {
        serde_json::from_value(
            json!({"status": {"containerStatuses": [{"name": "c", "image": "i",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "finishedAt": finished}}}]}}),
        )
        .unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn delay_doubles_from_ten_seconds_up_to_six_minutes() {
        let t0 = ts("2024-01-01T00:00:00Z");
        let table = [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (5, 160),
            (6, 320),
            (7, 360),
            (20, 360),
        ];
        for (failures, secs) in table {
            let r = Record {
                failures_after_last_success: failures,
                last_failure: Some(t0),
            };
            assert_eq!(
                r.remaining(t0),
                Duration::from_secs(secs),
                "{failures} failures"
            );
        }
        let r = Record {
            failures_after_last_success: 2,
            last_failure: Some(t0),
        };
        assert_eq!(
            r.remaining(ts("2024-01-01T00:00:15Z")),
            Duration::from_secs(5)
        );
        assert_eq!(r.remaining(ts("2024-01-01T00:01:00Z")), Duration::ZERO);
        assert_eq!(Record::default().remaining(t0), Duration::ZERO);
    }

    #[test]
    fn a_success_resets_failures_before_it() {
        let (f1, f2, s, f3) = (
            pod("2024-01-01T00:00:01Z"),
            pod("2024-01-01T00:00:02Z"),
            pod("2024-01-01T00:00:03Z"),
            pod("2024-01-01T00:00:04Z"),
        );
        let r = Record::default().next(&[], &[&f1, &f2]);
        assert_eq!(r.failures_after_last_success, 2);
        assert_eq!(r.last_failure, Some(ts("2024-01-01T00:00:02Z")));
        let r = r.next(&[&s], &[&f3]);
        assert_eq!(r.failures_after_last_success, 1);
        assert_eq!(r.last_failure, Some(ts("2024-01-01T00:00:04Z")));
        let r = r.next(&[&s], &[]);
        assert_eq!(r, Record::default());
    }
}
