//! Rate limits: per API key (`429 rate_limit_exceeded` with `Retry-After` and the IETF
//! `RateLimit` headers) and per client IP on the public click redirect (over the limit a
//! visitor is still redirected, but no click is recorded, so a flood cannot fill the disk).
//!
//! A bucket of `rate` requests per second holds up to twice its rate (a burst of two
//! seconds' worth) and refills continuously: governor's GCRA limiter, with
//! `Quota::per_second(rate).allow_burst(2 * rate)`, reading the server's injectable
//! [`Clock`] (so tests move time instead of sleeping). Buckets live in a bounded [`moka`]
//! cache, one per key, each with its own rate (a key's own `rateLimit` wins). They live in the
//! process: with several replicas each enforces the limit on its own share of the traffic.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::Clock as GovernorClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;

use crate::clock::Clock;

/// Past this many buckets, the least used ones are dropped (a dropped bucket starts full).
const MAX_BUCKETS: u64 = 100_000;
/// The highest rate a bucket enforces (the API refuses a key's `rateLimit` above it).
const MAX_RATE: u32 = 1_000_000;
const NANOS_PER_SEC: u64 = 1_000_000_000;

type Gcra = governor::RateLimiter<NotKeyed, InMemoryState, Clock, StateInformationMiddleware>;

/// One key's bucket, and the rate it was made for.
struct Bucket {
    rate: u32,
    gcra: Gcra,
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

/// Buckets by key (an API key id, a client IP); clones share them.
#[derive(Clone)]
pub struct RateLimiter {
    buckets: moka::sync::Cache<String, Arc<Bucket>>,
    clock: Clock,
}

impl RateLimiter {
    /// An empty limiter on `clock`.
    pub fn new(clock: Clock) -> Self {
        RateLimiter {
            buckets: moka::sync::Cache::new(MAX_BUCKETS),
            clock,
        }
    }

    fn bucket(&self, key: &str, rate: u32) -> Arc<Bucket> {
        let make = || {
            let per_sec = NonZeroU32::new(rate.min(MAX_RATE)).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(per_sec.get().saturating_mul(2)).unwrap_or(per_sec);
            let quota = Quota::per_second(per_sec).allow_burst(burst);
            Arc::new(Bucket {
                rate,
                gcra: governor::RateLimiter::direct_with_clock(quota, self.clock.clone())
                    .with_middleware::<StateInformationMiddleware>(),
            })
        };
        let bucket = self.buckets.get_with_by_ref(key, make);
        if bucket.rate == rate {
            return bucket;
        }
        // The key's rate changed: a new bucket for the new rate.
        let fresh = make();
        self.buckets.insert(key.to_string(), fresh.clone());
        fresh
    }

    /// Takes one token from `key`'s bucket of `per_sec` requests per second. A rate of 0 is
    /// unlimited (always allowed, no headers needed).
    pub fn check(&self, key: &str, per_sec: u32) -> Option<Decision> {
        if per_sec == 0 {
            return None;
        }
        let bucket = self.bucket(key, per_sec);
        let outcome = bucket.gcra.check();
        Some(match outcome {
            Ok(state) => {
                let q = state.quota();
                let remaining = state.remaining_burst_capacity();
                // Until full again: the missing cells, one per replenish interval (rounded
                // up to whole cells).
                let missing = u64::from(q.burst_size().get().saturating_sub(remaining));
                let reset_ns = missing.saturating_mul(interval_ns(&q));
                Decision {
                    allowed: true,
                    limit: per_sec,
                    remaining: u64::from(remaining),
                    reset_secs: reset_ns.div_ceil(NANOS_PER_SEC),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let q = not_until.quota();
                let wait_ns = u64::try_from(
                    not_until
                        .wait_time_from(GovernorClock::now(bucket.gcra.clock()))
                        .as_nanos(),
                )
                .unwrap_or(u64::MAX);
                // Until full again: the wait for the next cell, then the rest of the burst.
                let rest = u64::from(q.burst_size().get().saturating_sub(1));
                let reset_ns = wait_ns.saturating_add(rest.saturating_mul(interval_ns(&q)));
                Decision {
                    allowed: false,
                    limit: per_sec,
                    remaining: 0,
                    reset_secs: reset_ns.div_ceil(NANOS_PER_SEC),
                    retry_after_secs: wait_ns.div_ceil(NANOS_PER_SEC).max(1),
                }
            }
        })
    }

    /// Forgets a key's bucket (a key's limit changed or it was revoked).
    pub fn forget(&self, key: &str) {
        self.buckets.invalidate(key);
    }
}

fn interval_ns(q: &Quota) -> u64 {
    u64::try_from(q.replenish_interval().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_twice_the_rate_then_429() {
        let clock = Clock::frozen();
        let l = RateLimiter::new(clock.clone());
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

    #[test]
    fn buckets_refill_as_the_clock_moves() {
        let clock = Clock::frozen();
        let l = RateLimiter::new(clock.clone());
        let first = l.check("k", 2).unwrap();
        assert_eq!((first.remaining, first.reset_secs), (3, 1));
        for _ in 0..3 {
            assert!(l.check("k", 2).unwrap().allowed);
        }
        let d = l.check("k", 2).unwrap();
        assert!(!d.allowed);
        assert_eq!((d.retry_after_secs, d.reset_secs), (1, 2));
        // Half a second is one token at 2/s; nothing refills without the clock moving.
        clock.advance(chrono::Duration::milliseconds(499));
        assert!(!l.check("k", 2).unwrap().allowed);
        clock.advance(chrono::Duration::milliseconds(1));
        let d = l.check("k", 2).unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(!l.check("k", 2).unwrap().allowed);
        // Two seconds fill it again.
        clock.advance(chrono::Duration::seconds(2));
        assert_eq!(l.check("k", 2).unwrap().remaining, 3);
        // A new rate is a new bucket; forgetting one starts it full.
        assert_eq!(l.check("k", 5).unwrap().remaining, 9);
        l.check("k", 5);
        l.forget("k");
        assert_eq!(l.check("k", 5).unwrap().remaining, 9);
    }
}
