//! A token bucket: the rate limit of the timestamp authority as a whole,
//! and of each client (`crate::access`).

use std::time::{Duration, Instant};

/// `rate` tokens a second, at most `burst` saved up; it starts full.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(rate_per_second: u32, burst: u32, now: Instant) -> Self {
        Self {
            rate: f64::from(rate_per_second),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    /// Takes a token, or says how long until there is one.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if self.rate > 0.0 {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        } else {
            Err(Duration::MAX)
        }
    }

    /// True when it is full at `now` (a client idle long enough that
    /// forgetting its bucket changes nothing).
    pub(crate) fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_gives_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut b = TokenBucket::new(10, 3, start);
        assert!(b.take(start).is_ok() && b.take(start).is_ok() && b.take(start).is_ok());
        let wait = b.take(start).unwrap_err();
        assert!(
            (wait.as_secs_f64() - 0.1).abs() < 1e-9,
            "the next token is a tenth of a second away at 10/s: {wait:?}"
        );
        let later = start + Duration::from_millis(100);
        assert!(
            b.take(later).is_ok(),
            "a tenth of a second at 10/s is one token"
        );
        assert!(b.take(later).is_err());
        let much_later = start + Duration::from_secs(3600);
        assert!(b.is_full(much_later));
        let taken = (0..10).filter(|_| b.take(much_later).is_ok()).count();
        assert_eq!(taken, 3, "never more than the burst saved up");
    }
}
