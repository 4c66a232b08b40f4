//! What the server remembers of API keys between requests: live keys and unknown hashes
//! for a short while, and when each key's last use was written. `crate::auth` reads it;
//! the server's state holds it.

use std::time::Duration;

use crate::cache::TimedCache;
use crate::clock::Clock;
use crate::db::api_keys::ApiKeyRow;

/// Live keys by hash (and unknown hashes), trusted for [`KEY_CACHE_TTL`] on the server's
/// clock, so a request does not wait on the database to learn who it is. Revoking or
/// changing a key through the API clears it at once; a key revoked by the command line
/// (another process) stops working within the TTL.
///
/// Unknown hashes live in a cache of their own: a flood of bogus keys fills (and evicts
/// from) only that one, never evicting the live keys everyone else is served from.
#[derive(Clone)]
pub struct KeyCache {
    live: TimedCache<String, ApiKeyRow>,
    misses: TimedCache<String, ()>,
}

/// The most entries of either cache.
const KEY_CACHE_MAX: u64 = 10_000;

/// How long a looked-up key is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

impl KeyCache {
    /// An empty cache on `clock`.
    pub fn new(clock: Clock) -> Self {
        KeyCache {
            live: TimedCache::new(clock.clone(), KEY_CACHE_TTL, KEY_CACHE_MAX),
            misses: TimedCache::new(clock, KEY_CACHE_TTL, KEY_CACHE_MAX),
        }
    }

    /// A fresh entry for a key hash, if any: `Some(None)` for a hash known to be no key.
    pub fn get(&self, hash: &str) -> Option<Option<ApiKeyRow>> {
        if let Some(row) = self.live.get(hash) {
            return Some(Some(row));
        }
        self.misses.get(hash).map(|()| None)
    }

    /// Remembers what a hash resolved to.
    pub fn put(&self, hash: String, row: Option<ApiKeyRow>) {
        match row {
            Some(row) => self.live.insert(hash, row),
            None => self.misses.insert(hash, ()),
        }
    }

    /// How many live keys are cached (tests watch it survive a flood of bogus keys).
    pub fn live_len(&self) -> usize {
        self.live.len()
    }

    /// Forgets everything (a key was revoked or changed).
    pub fn clear(&self) {
        self.live.clear();
        self.misses.clear();
    }
}

/// When each key's `last_used_at` was last written, to write it at most once a minute (on
/// the server's clock).
#[derive(Clone)]
pub struct KeyUses(TimedCache<String, ()>);

impl KeyUses {
    /// Nothing recorded yet.
    pub fn new(clock: Clock) -> Self {
        KeyUses(TimedCache::new(clock, Duration::from_secs(60), 100_000))
    }

    /// Whether a key's use is due to be written (not written in the last minute); if so,
    /// counts it as written now.
    pub fn due(&self, key_id: &str) -> bool {
        // A read first: nearly every call finds a fresh entry, and a read takes none of the
        // locks and bookkeeping of the atomic insert (about 5% of a click's CPU, perf).
        if self.0.get(key_id).is_some() {
            return false;
        }
        self.0.insert_if_stale(key_id.to_string(), ())
    }
}
