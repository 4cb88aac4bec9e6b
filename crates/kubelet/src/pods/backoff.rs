//! Restart back-off for crashing containers and failing image pulls (upstream's flowcontrol
//! Backoff): the first restart is immediate, then 10 s doubling to 5 min; an entry older than
//! twice the maximum (10 min without a failure) starts over. Times are passed in, so the logic
//! is tested without waiting.

use std::collections::HashMap;
use std::time::Duration;

/// Upstream's initial container back-off.
pub const INITIAL: Duration = Duration::from_secs(10);
/// Upstream's maximum container back-off.
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Entry {
    delay: Duration,
    last_update: Duration,
}

/// Back-off state per key; times are durations since the Unix epoch.
#[derive(Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Backoff {
    /// Back-off from `initial` doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            entries: HashMap::new(),
        }
    }

    fn expired(&self, e: &Entry, at: Duration) -> bool {
        at.saturating_sub(e.last_update) > self.max * 2
    }

    /// How much longer `key` must wait after an event (a container finishing) at `event`,
    /// seen at `now`; `None` when it may go ahead.
    pub fn remaining(&self, key: &str, event: Duration, now: Duration) -> Option<Duration> {
        let e = self.entries.get(key)?;
        if self.expired(e, event) {
            return None;
        }
        let since = now.saturating_sub(event);
        (since < e.delay).then(|| e.delay - since)
    }

    /// The current delay for `key` (for messages such as `back-off 20s restarting …`).
    pub fn delay(&self, key: &str) -> Duration {
        self.entries.get(key).map_or(self.initial, |e| e.delay)
    }

    /// Records a retry of `key` for an event at `event`: the next wait doubles.
    pub fn next(&mut self, key: &str, event: Duration) {
        let expired = self.entries.get(key).is_none_or(|e| self.expired(e, event));
        let delay = if expired {
            self.initial
        } else {
            (self.entries[key].delay * 2).min(self.max)
        };
        self.entries.insert(
            key.into(),
            Entry {
                delay,
                last_update: event,
            },
        );
    }

    /// Forgets keys starting with `prefix` (a deleted pod's containers).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.entries.retain(|k, _| !k.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn crash_loop_schedule() {
        let mut b = Backoff::new(INITIAL, MAX);
        // First crash at t=100: restart at once.
        assert_eq!(b.remaining("c", s(100), s(100)), None);
        b.next("c", s(100));
        // Second crash at t=101: wait 10 s from the crash.
        assert_eq!(b.remaining("c", s(101), s(101)), Some(s(10)));
        assert_eq!(b.remaining("c", s(101), s(108)), Some(s(3)));
        assert_eq!(b.remaining("c", s(101), s(111)), None);
        b.next("c", s(101));
        assert_eq!(b.delay("c"), s(20));
        let mut t = 101;
        let mut waits = vec![];
        for _ in 0..6 {
            t += 1;
            waits.push(b.remaining("c", s(t), s(t)).unwrap().as_secs());
            b.next("c", s(t));
        }
        assert_eq!(waits, [20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn resets_after_ten_quiet_minutes() {
        let mut b = Backoff::new(INITIAL, MAX);
        b.next("c", s(0));
        b.next("c", s(1));
        assert_eq!(b.delay("c"), s(20));
        // Ran 11 minutes, then crashed: no wait, and the delay starts over.
        assert_eq!(b.remaining("c", s(661), s(661)), None);
        b.next("c", s(661));
        assert_eq!(b.delay("c"), INITIAL);
        b.forget_prefix("c");
        assert_eq!(b.remaining("c", s(662), s(662)), None);
    }
}
