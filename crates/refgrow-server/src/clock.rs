//! The server's notion of now. Production reads the system clock; tests move it forward to
//! see hold periods expire, caches go stale and rate-limit buckets refill, without sleeping
//! and without touching stored data.
//!
//! Everything that measures time on the request path reads this clock: timestamps, the
//! expiry of cached keys and codes ([`crate::cache`]) and the rate limiters
//! ([`crate::ratelimit`], through governor's [`governor::clock::Clock`], implemented here).
//! A [`Clock::frozen`] clock stands still until a test moves it, so what a test asserts
//! about time does not depend on how fast the machine runs it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};

/// A clock: the system time plus an offset that only tests change, or (for tests) a clock
/// that stands still until it is moved. Clones share it.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Added to every reading, in ms (only [`Clock::advance`] changes it).
    offset_ms: AtomicI64,
    /// The wall time (ms) a frozen clock stands at before its offset; None: the system clock.
    frozen_at_ms: Option<i64>,
    /// The origin of the monotonic reading of a running clock.
    origin: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::with(None)
    }

    /// A clock standing at the current system time, moved only by [`Clock::advance`]: for
    /// tests that must not depend on how much real time passes between two requests (rate
    /// limits, cache expiry).
    pub fn frozen() -> Self {
        Clock::with(Some(Utc::now().timestamp_millis()))
    }

    fn with(frozen_at_ms: Option<i64>) -> Self {
        Clock {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                frozen_at_ms,
                origin: Instant::now(),
            }),
        }
    }

    /// Whether this clock stands still unless moved.
    pub fn is_frozen(&self) -> bool {
        self.inner.frozen_at_ms.is_some()
    }

    fn offset_ms(&self) -> i64 {
        self.inner.offset_ms.load(Ordering::Relaxed)
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let base = self
            .inner
            .frozen_at_ms
            .unwrap_or_else(|| Utc::now().timestamp_millis());
        base.saturating_add(self.offset_ms())
    }

    /// Now as a timestamp.
    pub fn now(&self) -> DateTime<Utc> {
        ms_to_datetime(self.now_ms())
    }

    /// A monotonic reading in nanoseconds from an arbitrary origin (never goes back, unlike
    /// the wall time): what intervals are measured with. A frozen clock moves only with
    /// [`Clock::advance`]; a running one with real time too.
    pub fn monotonic_nanos(&self) -> u64 {
        let real = match self.inner.frozen_at_ms {
            Some(_) => 0,
            None => u64::try_from(self.inner.origin.elapsed().as_nanos()).unwrap_or(u64::MAX),
        };
        let offset = u64::try_from(self.offset_ms().max(0))
            .unwrap_or(0)
            .saturating_mul(1_000_000);
        real.saturating_add(offset)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.inner
            .offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

/// Lets governor's rate limiters read this clock (see [`crate::ratelimit`]).
impl governor::clock::Clock for Clock {
    type Instant = governor::nanos::Nanos;

    fn now(&self) -> Self::Instant {
        governor::nanos::Nanos::new(self.monotonic_nanos())
    }
}

/// Milliseconds since the epoch to a timestamp (saturating to the epoch on nonsense).
pub fn ms_to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// An optional stored timestamp to a timestamp.
pub fn opt_ms(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(ms_to_datetime)
}

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let c = Clock::frozen();
        let (ms, mono) = (c.now_ms(), c.monotonic_nanos());
        std::thread::yield_now();
        assert_eq!((c.now_ms(), c.monotonic_nanos()), (ms, mono));
        c.clone().advance(chrono::Duration::milliseconds(1500));
        assert_eq!(c.now_ms(), ms + 1500);
        assert_eq!(c.monotonic_nanos(), mono + 1_500_000_000);
        assert!(c.is_frozen() && !Clock::system().is_frozen());
    }
}
