//! When and how long the client waits before trying a failed request again.

use std::time::Duration;

/// How the client retries requests that failed for reasons that may pass: connection errors
/// and timeouts, `429 rate_limit_exceeded` and 5xx answers.
///
/// The wait before retry `n` (from 0) is `base_delay * 2^n`, capped at `max_delay`, with
/// "equal jitter": half of it fixed, the other half random, so that many clients failing
/// together do not come back together. A `429` carrying `Retry-After: S` waits at least `S`
/// seconds; when `S` is longer than `max_retry_after` the client gives up at once and returns
/// the `429` instead of sleeping for so long.
///
/// Every attempt of one call sends the same `Idempotency-Key` on POSTs, so a retry can never
/// record a sale or a commission twice.
///
/// ```
/// use std::time::Duration;
/// use refgrow_client::RetryPolicy;
///
/// let patient = RetryPolicy {
///     max_retries: 5,
///     max_delay: Duration::from_secs(30),
///     ..RetryPolicy::default()
/// };
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// # let _ = patient;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`0` disables retrying). Default 3.
    pub max_retries: u32,
    /// The wait before the first retry, before jitter. Default 500 ms.
    pub base_delay: Duration,
    /// The longest computed wait between two attempts. Default 10 s.
    pub max_delay: Duration,
    /// The longest `Retry-After` the client is willing to sleep for. Default 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries, 500 ms doubling up to 10 s, honouring `Retry-After` up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Never retry: every failure is returned as it happens.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The default policy with another number of retries.
    pub fn with_max_retries(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            ..RetryPolicy::default()
        }
    }

    /// The computed backoff before retry number `retry` (0 for the first retry), before
    /// jitter: `base_delay * 2^retry`, at most `max_delay`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait before retry number `retry`, with jitter, and at least `retry_after` when the
    /// server asked for it. `None` when the server asked for longer than `max_retry_after`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let backoff = self.backoff(retry);
        let half = backoff / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rand::random_range(0..=nanos))
        };
        let computed = half + jitter;
        match retry_after {
            Some(ra) if ra > self.max_retry_after => None,
            Some(ra) => Some(computed.max(ra)),
            None => Some(computed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0), Duration::from_millis(500));
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(2), Duration::from_secs(2));
        assert_eq!(p.backoff(10), Duration::from_secs(10));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn delay_is_jittered_within_half_and_whole() {
        let p = RetryPolicy::default();
        for _ in 0..200 {
            let d = p.delay(1, None).unwrap_or_default();
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_secs(1),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_has_a_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(p.delay(0, Some(Duration::from_secs(61))), None);
        assert_eq!(RetryPolicy::none().max_retries, 0);
    }
}
