//! A token bucket (client-go's `flowcontrol` limiter as the eviction queues use it, burst 1):
//! `qps` tokens a second, on tokio's clock; a rate of 0 accepts nothing.

use tokio::time::Instant;

/// A token bucket with burst 1.
#[derive(Debug)]
pub struct TokenBucket {
    qps: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket refilled at `qps`.
    pub fn new(qps: f64) -> TokenBucket {
        TokenBucket {
            qps,
            tokens: 1.0,
            at: Instant::now(),
        }
    }

    /// Changes the rate (upstream's `SwapLimiter`); the bucket starts full unless the rate is
    /// 0.
    pub fn set_rate(&mut self, qps: f64) {
        if (qps - self.qps).abs() < f64::EPSILON {
            return;
        }
        *self = TokenBucket::new(qps);
        if qps <= 0.0 {
            self.tokens = 0.0;
        }
    }

    /// Takes a token if one is there.
    pub fn try_accept(&mut self) -> bool {
        if self.qps <= 0.0 {
            return false;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.qps).min(1.0);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_token_per_ten_seconds_at_a_tenth() {
        let mut b = TokenBucket::new(0.1);
        assert!(b.try_accept());
        assert!(!b.try_accept());
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!b.try_accept());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.try_accept());
        b.set_rate(0.0);
        assert!(!b.try_accept());
    }
}
