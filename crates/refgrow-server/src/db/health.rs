//! The database circuit breaker.
//!
//! When a call finds the database unreachable (no connection can be made, a connection
//! closed under a query, SQLite's file locked or unwritable), the breaker opens: from then
//! on every call that needs the database fails at once with 503 and `Retry-After` instead
//! of waiting for a pool timeout, and `/readyz` answers unready. A prober (see
//! [`spawn_prober`]) tries a fresh connection every [`PROBE_EVERY`]; the first success
//! closes the breaker again, so the server recovers by itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{ConnectionManager, DbConn};

/// How often the prober tries the database while the breaker is open.
pub const PROBE_EVERY: Duration = Duration::from_millis(500);
pub use crate::error::RETRY_AFTER_SECS;

/// Whether the database is known to be down; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    open: AtomicBool,
    trips: AtomicU64,
}

impl Health {
    /// Whether the breaker is open (the database is known to be down).
    pub fn is_down(&self) -> bool {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// Opens the breaker (logged once per outage).
    pub fn trip(&self, why: &str) {
        if !self.inner.open.swap(true, Ordering::AcqRel) {
            self.inner.trips.fetch_add(1, Ordering::Relaxed);
            log::error!(
                "database unreachable ({why}): answering 503 at once until it is back; \
                 probing every {} ms",
                PROBE_EVERY.as_millis()
            );
        }
    }

    /// Closes the breaker (logged).
    pub fn recover(&self) {
        if self.inner.open.swap(false, Ordering::AcqRel) {
            log::warn!("database reachable again: serving normally");
        }
    }

    /// How many times the breaker opened since the start.
    pub fn trips(&self) -> u64 {
        self.inner.trips.load(Ordering::Relaxed)
    }
}

/// Whether a fresh connection can be made and can write: PostgreSQL answers `SELECT 1`,
/// SQLite can take its write lock within a short wait.
pub fn probe(manager: &ConnectionManager) -> bool {
    let Ok(mut c) = manager.open() else {
        return false;
    };
    let sql = match &c {
        DbConn::Pg(_) => "SELECT 1",
        DbConn::Sqlite(_) => "PRAGMA busy_timeout = 200; BEGIN IMMEDIATE; ROLLBACK;",
    };
    c.batch_execute(sql).is_ok()
}

/// Whether the database answers on a pooled connection: `SELECT 1` (`/readyz`).
pub fn ping(c: &mut DbConn) -> diesel::QueryResult<()> {
    c.batch_execute("SELECT 1")
}

/// Probes the database while the breaker is open and closes it when the database answers.
pub fn spawn_prober(health: Health, manager: ConnectionManager) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !health.is_down() {
                continue;
            }
            let m = manager.clone();
            let ok = tokio::task::spawn_blocking(move || probe(&m))
                .await
                .unwrap_or(false);
            if ok {
                health.recover();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_once_and_recovers() {
        let h = Health::default();
        assert!(!h.is_down());
        h.trip("test");
        h.trip("test again");
        assert!(h.is_down());
        assert_eq!(h.trips(), 1);
        h.recover();
        assert!(!h.is_down());
    }
}
