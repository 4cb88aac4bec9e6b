//! Deletes keys whose time to live has run out, as etcd's lease expiry does.

use super::readers::Readers;
use super::writer::Job;
use crate::Revision;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most expired keys handled per sweep.
const SWEEP_LIMIT: i64 = 1000;

/// Wall-clock milliseconds that follow tokio's clock: anchored to the system clock when the
/// store opens, then advanced by tokio's monotonic time. Expiry times survive restarts (they
/// are wall-clock), and a test with a paused tokio clock drives expiry without sleeping.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    wall_ms: i64,
    start: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Clock {
            wall_ms,
            start: tokio::time::Instant::now(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.wall_ms + self.start.elapsed().as_millis() as i64
    }
}

/// Every `interval`, finds live keys past their expiry and asks the writer to delete them
/// (only if they were not rewritten meanwhile).
pub(crate) async fn sweep_forever(
    readers: Arc<Readers>,
    jobs: Sender<Job>,
    clock: Clock,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now_ms = clock.now_ms();
        let expired = readers
            .with(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT l.key, l.rev FROM log l
                     WHERE l.expires_at IS NOT NULL AND l.expires_at <= ?1 AND l.deleted = 0
                       AND NOT EXISTS (SELECT 1 FROM log n WHERE n.key = l.key AND n.rev > l.rev)
                     LIMIT ?2",
                )?;
                let rows = stmt.query_map(rusqlite::params![now_ms, SWEEP_LIMIT], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Revision>(1)?))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await;
        match expired {
            Ok(keys) => {
                for (key, revision) in keys {
                    let job = Job::Expire {
                        key,
                        revision,
                        now_ms,
                    };
                    if jobs.send(job).is_err() {
                        return; // store closed
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed; will retry"),
        }
    }
}
