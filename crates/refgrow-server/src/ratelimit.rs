//! Token buckets: per API key (`429 rate_limit_exceeded` with `Retry-After` and the IETF
//! `RateLimit` headers) and per client IP on the public click redirect (over the limit a
//! visitor is still redirected, but no click is recorded, so a flood cannot fill the disk).
//!
//! A bucket holds up to twice its rate (a burst of two seconds' worth) and refills
//! continuously; tokens are counted in millionths in integers. Buckets live in the process:
//! with several replicas each enforces the limit on its own share of the traffic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const MICRO: u64 = 1_000_000;
/// Past this many buckets, idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    micro_tokens: u64,
    at: Instant,
}

/// What a request got from its bucket; also rendered as response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests per second of the bucket.
    pub limit: u32,
    /// Whole requests left right now.
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds to wait before a denied request may succeed.
    pub retry_after_secs: u64,
}

impl Decision {
    /// The `RateLimit-*` and `RateLimit` header pairs (IETF draft
    /// `draft-ietf-httpapi-ratelimit-headers`, in its separate-field and combined forms).
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining.to_string()),
            ("ratelimit-reset", self.reset_secs.to_string()),
            (
                "ratelimit",
                format!(
                    "limit={}, remaining={}, reset={}",
                    self.limit, self.remaining, self.reset_secs
                ),
            ),
        ]
    }
}

/// Buckets by key (an API key id, a client IP).
#[derive(Clone, Default)]
pub struct RateLimiter {
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        RateLimiter::default()
    }

    /// Takes one token from `key`'s bucket of `per_sec` requests per second. A rate of 0 is
    /// unlimited (always allowed, no headers needed).
    pub fn check(&self, key: &str, per_sec: u32) -> Option<Decision> {
        if per_sec == 0 {
            return None;
        }
        let rate = u64::from(per_sec);
        let capacity = rate.saturating_mul(2).saturating_mul(MICRO);
        let now = Instant::now();
        let mut map = match self.buckets.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_BUCKETS && !map.contains_key(key) {
            map.retain(|_, b| now.duration_since(b.at).as_secs() < 10);
            if map.len() >= MAX_BUCKETS {
                map.clear();
            }
        }
        let bucket = map.entry(key.to_string()).or_insert(Bucket {
            micro_tokens: capacity,
            at: now,
        });
        let elapsed_us =
            u64::try_from(now.duration_since(bucket.at).as_micros()).unwrap_or(u64::MAX);
        bucket.micro_tokens = bucket
            .micro_tokens
            .saturating_add(elapsed_us.saturating_mul(rate))
            .min(capacity);
        bucket.at = now;
        let allowed = bucket.micro_tokens >= MICRO;
        if allowed {
            bucket.micro_tokens -= MICRO;
        }
        let missing_to_full = capacity - bucket.micro_tokens;
        let per_sec_micro = rate * MICRO;
        let reset_secs = missing_to_full.div_ceil(per_sec_micro);
        let retry_after_secs = if allowed {
            0
        } else {
            (MICRO - bucket.micro_tokens).div_ceil(per_sec_micro).max(1)
        };
        Some(Decision {
            allowed,
            limit: per_sec,
            remaining: bucket.micro_tokens / MICRO,
            reset_secs,
            retry_after_secs,
        })
    }

    /// Forgets a key's bucket (a key's limit changed or it was revoked).
    pub fn forget(&self, key: &str) {
        if let Ok(mut m) = self.buckets.lock() {
            m.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_twice_the_rate_then_429() {
        let l = RateLimiter::new();
        let allowed = (0..10)
            .filter(|_| l.check("k", 3).map(|d| d.allowed).unwrap_or(true))
            .count();
        assert_eq!(allowed, 6);
        let d = l.check("k", 3).unwrap();
        assert!(!d.allowed);
        assert_eq!(d.retry_after_secs, 1);
        assert_eq!(d.remaining, 0);
        assert!(l.check("other", 3).unwrap().allowed, "buckets are per key");
        assert_eq!(l.check("k", 0), None, "0 is unlimited");
    }
}
