//! Turning single probe outcomes into a settled result: `successThreshold` consecutive
//! successes or `failureThreshold` consecutive failures flip it.

/// Consecutive-outcome counter for one probe.
#[derive(Clone, Debug)]
pub struct Threshold {
    success_needed: i32,
    failure_needed: i32,
    successes: i32,
    failures: i32,
    result: Option<bool>,
}

impl Threshold {
    /// Upstream's defaults are 1 and 3; values below 1 count as 1.
    pub fn new(success_threshold: i32, failure_threshold: i32, initial: Option<bool>) -> Self {
        Self {
            success_needed: success_threshold.max(1),
            failure_needed: failure_threshold.max(1),
            successes: 0,
            failures: 0,
            result: initial,
        }
    }

    /// Records one outcome; returns the new settled result when it changed.
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
            if self.successes >= self.success_needed && self.result != Some(true) {
                self.result = Some(true);
                return Some(true);
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            if self.failures >= self.failure_needed && self.result != Some(false) {
                self.result = Some(false);
                return Some(false);
            }
        }
        None
    }

    /// The settled result.
    pub fn result(&self) -> Option<bool> {
        self.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_after_consecutive_outcomes() {
        let mut t = Threshold::new(2, 3, None);
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true));
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(true), None, "a success resets the failure run");
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), None);
        assert_eq!(t.record(false), Some(false));
        assert_eq!(t.record(false), None, "no repeat once settled");
        assert_eq!(t.result(), Some(false));
    }

    #[test]
    fn liveness_starts_out_passing() {
        let mut t = Threshold::new(1, 1, Some(true));
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(false), Some(false));
        let zero = Threshold::new(0, 0, None);
        assert_eq!((zero.success_needed, zero.failure_needed), (1, 1));
    }
}
