//! The server's notion of now. Production reads the system clock; tests move it forward to
//! see hold periods expire, without sleeping and without touching stored data.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

/// A clock: the system time plus an offset that only tests change.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now as a timestamp.
    pub fn now(&self) -> DateTime<Utc> {
        ms_to_datetime(self.now_ms())
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
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
