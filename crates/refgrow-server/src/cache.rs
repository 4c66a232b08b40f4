//! The one kind of cache with an expiry: a bounded [`moka`] cache whose entries carry the
//! time they were made on the server's injectable [`Clock`], so a test moves the clock
//! forward to see an entry go stale instead of sleeping.
//!
//! moka bounds the memory (at most `max_entries`, evicting the least useful entries by its
//! TinyLFU policy) and takes concurrent readers and writers without one lock; freshness is
//! decided here against the clock. An expired entry is not removed when read: callers that
//! prefer a stale answer to none (the database is down) can still ask for it
//! ([`TimedCache::get_stale`]), and size-based eviction frees the memory in time.

use std::borrow::Borrow;
use std::hash::Hash;
use std::time::Duration;

use crate::clock::Clock;

/// A bounded cache whose entries are fresh for `ttl` on a [`Clock`]. Clones share it.
#[derive(Clone)]
pub struct TimedCache<K, V> {
    map: moka::sync::Cache<K, (i64, V)>,
    clock: Clock,
    ttl_ms: i64,
}

impl<K, V> TimedCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An empty cache of at most `max_entries`, whose entries are fresh for `ttl`.
    pub fn new(clock: Clock, ttl: Duration, max_entries: u64) -> Self {
        TimedCache {
            map: moka::sync::Cache::new(max_entries),
            clock,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// A fresh entry.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (at, v) = self.map.get(key)?;
        (self.clock.now_ms().saturating_sub(at) < self.ttl_ms).then_some(v)
    }

    /// An entry however old.
    pub fn get_stale<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).map(|(_, v)| v)
    }

    /// Remembers a value, fresh from now.
    pub fn insert(&self, key: K, value: V) {
        self.map.insert(key, (self.clock.now_ms(), value));
    }

    /// Remembers a value unless a fresh entry is there, atomically for the key (concurrent
    /// callers for one key take turns): whether it did.
    pub fn insert_if_stale(&self, key: K, value: V) -> bool {
        use moka::ops::compute::{CompResult, Op};
        let now = self.clock.now_ms();
        let ttl_ms = self.ttl_ms;
        let outcome = self
            .map
            .entry(key)
            .and_compute_with(|current| match current {
                Some(e) if now.saturating_sub(e.value().0) < ttl_ms => Op::Nop,
                _ => Op::Put((now, value)),
            });
        matches!(
            outcome,
            CompResult::Inserted(_) | CompResult::ReplacedWith(_)
        )
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.map.invalidate_all();
    }

    /// How many entries are held (fresh or not), once moka's pending evictions are done.
    pub fn len(&self) -> usize {
        self.map.run_pending_tasks();
        usize::try_from(self.map.entry_count()).unwrap_or(usize::MAX)
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_stale_when_the_clock_moves_not_when_time_passes() {
        let clock = Clock::frozen();
        let c: TimedCache<String, u32> = TimedCache::new(clock.clone(), Duration::from_secs(2), 10);
        c.insert("a".into(), 1);
        assert_eq!(c.get("a"), Some(1));
        clock.advance(chrono::Duration::milliseconds(1999));
        assert_eq!(c.get("a"), Some(1));
        clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(c.get("a"), None, "stale");
        assert_eq!(c.get_stale("a"), Some(1), "still there for a fallback");
        c.insert("a".into(), 2);
        assert_eq!(c.get("a"), Some(2));
        assert_eq!(c.len(), 1);
        assert!(!c.insert_if_stale("a".into(), 3), "fresh: kept");
        clock.advance(chrono::Duration::seconds(2));
        assert!(c.insert_if_stale("a".into(), 3), "stale: replaced");
        assert!(c.insert_if_stale("b".into(), 4), "absent: inserted");
        assert_eq!((c.get("a"), c.get("b")), (Some(3), Some(4)));
        c.clear();
        assert_eq!((c.get_stale("a"), c.len()), (None, 0));
    }

    #[test]
    fn it_is_bounded() {
        let c: TimedCache<u32, ()> = TimedCache::new(Clock::frozen(), Duration::from_secs(60), 100);
        for i in 0..10_000 {
            c.insert(i, ());
        }
        assert!(c.len() <= 100, "{}", c.len());
    }
}
