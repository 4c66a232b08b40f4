//! What every handler can reach: the database, the settings, the clock, the click and
//! audit buffers, the rate limiters and the metrics.

use std::sync::{Arc, Mutex};

use crate::audit::AuditBuffer;
use crate::clicks::ClickBuffer;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The pools.
    pub db: Db,
    /// The settings.
    pub config: Config,
    /// Now.
    pub clock: Clock,
    /// Clicks waiting to be written.
    pub clicks: ClickBuffer,
    /// Audit entries waiting to be written.
    pub audit: AuditBuffer,
    /// Keys looked up recently.
    pub key_cache: crate::key_cache::KeyCache,
    /// Buckets per API key.
    pub key_limits: RateLimiter,
    /// Buckets per client IP on the public redirect.
    pub ip_limits: RateLimiter,
    /// Request and state metrics.
    pub metrics: Metrics,
    /// Which keys had their `last_used_at` written in the last minute.
    pub key_touched: crate::key_cache::KeyUses,
    /// Encrypts and decrypts secrets at rest (see [`crate::secrets`]).
    pub secrets: crate::secrets::Sealer,
    /// Peers whose forwarding headers are believed (see [`crate::client_ip`]).
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The webhook outbox depth last counted for `/metrics`, and when (counted at most every
    /// few seconds, however often it is scraped).
    pub outbox_depth: Arc<Mutex<Option<(std::time::Instant, i64)>>>,
}
