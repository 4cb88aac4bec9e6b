//! Wall-clock time for controllers whose logic depends on it (Job deadlines and backoff,
//! CronJob schedules, TTL after finished), injectable for tests.
//!
//! Delays are still slept on tokio's clock; the wall time they aim at comes from here.
//! - [`Clock::system`]: the system's wall clock (production).
//! - [`Clock::tokio`]: wall time anchored once, then following tokio's clock, so a paused
//!   runtime's `advance` moves it.
//! - [`Clock::advance`] jumps either forward and notifies [`Clock::jumps`] subscribers, so a
//!   controller re-examines everything at once instead of sleeping through the jump (in-process
//!   cluster tests cannot pause tokio: their apiserver needs real time).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

enum Base {
    System,
    Tokio {
        wall: Timestamp,
        at: tokio::time::Instant,
    },
}

struct Inner {
    base: Base,
    offset_nanos: AtomicI64,
    jumps: watch::Sender<u64>,
}

/// A source of wall-clock time (cheap to clone; clones share jumps).
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Clock {
    fn with_base(base: Base) -> Clock {
        Clock {
            inner: Arc::new(Inner {
                base,
                offset_nanos: AtomicI64::new(0),
                jumps: watch::channel(0).0,
            }),
        }
    }

    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock::with_base(Base::System)
    }

    /// The wall time now, then advancing with tokio's clock (pausable in tests).
    pub fn tokio() -> Clock {
        Clock::with_base(Base::Tokio {
            wall: Timestamp::now(),
            at: tokio::time::Instant::now(),
        })
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        let base = match &self.inner.base {
            Base::System => Timestamp::now(),
            Base::Tokio { wall, at } => {
                let elapsed = SignedDuration::try_from(at.elapsed()).unwrap_or(SignedDuration::MAX);
                wall.saturating_add(elapsed).unwrap_or(*wall)
            }
        };
        let offset = SignedDuration::from_nanos(self.inner.offset_nanos.load(Ordering::SeqCst));
        base.saturating_add(offset).unwrap_or(base)
    }

    /// Jumps forward by `by` and tells every [`Clock::jumps`] subscriber.
    pub fn advance(&self, by: Duration) {
        let nanos = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.inner.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
        self.inner.jumps.send_modify(|n| *n += 1);
    }

    /// Changes whenever the clock jumps.
    pub fn jumps(&self) -> watch::Receiver<u64> {
        self.inner.jumps.subscribe()
    }

    /// Calls `f` after every jump until the returned task is dropped.
    pub fn on_jump(&self, f: impl Fn() + Send + 'static) -> JumpTask {
        let mut jumps = self.jumps();
        JumpTask(tokio::spawn(async move {
            while jumps.changed().await.is_ok() {
                f();
            }
        }))
    }

    /// How long from now until `at` (zero if it has passed).
    pub fn until(&self, at: Timestamp) -> Duration {
        let d = at.duration_since(self.now());
        Duration::try_from(d).unwrap_or(Duration::ZERO)
    }
}

/// A task reacting to clock jumps; stops when dropped.
pub struct JumpTask(tokio::task::JoinHandle<()>);

impl Drop for JumpTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_paused_clock_and_jumps() {
        let c = Clock::tokio();
        let t0 = c.now();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(c.now().duration_since(t0), SignedDuration::from_secs(10));
        let jumps = c.jumps();
        c.advance(Duration::from_secs(50));
        assert!(jumps.has_changed().unwrap());
        assert_eq!(c.now().duration_since(t0), SignedDuration::from_secs(60));
        assert_eq!(c.until(t0), Duration::ZERO);
    }
}
