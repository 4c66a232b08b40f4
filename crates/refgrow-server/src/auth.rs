//! API-key authentication: `Authorization: Bearer <key>`. Keys are stored as SHA-256 hashes;
//! a request is scoped to its key's program from here on.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use refgrow_types::ErrorCode;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::api_keys::{self, ApiKeyRow};
use crate::error::ApiError;
use crate::idgen::hash_secret;
use crate::state::AppState;

/// The caller: a live key and the program it belongs to.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The program every query of this request is scoped to.
    pub program_id: String,
    /// The key's public id.
    pub key_id: String,
    /// Whether the key may write.
    pub can_write: bool,
}

impl Auth {
    /// Refuses read-only keys.
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.can_write {
            Ok(())
        } else {
            Err(ApiError::forbidden("This API key is read-only"))
        }
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthenticated("Missing API key: send 'Authorization: Bearer <key>'")
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthenticated("The Authorization header is not valid text"))?;
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let key = parts.next().unwrap_or_default().trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(ApiError::unauthenticated(
            "The Authorization header must be 'Bearer <key>'",
        ));
    }
    Ok(key.to_string())
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = bearer(req);
        let req = req.clone();
        Box::pin(async move {
            let key = key?;
            let state = state.ok_or_else(|| ApiError::internal("no application state"))?;
            if key.len() > 200 {
                return Err(ApiError::unauthenticated("Invalid API key"));
            }
            let hash = hash_secret(&key);
            let row = match state.key_cache.get(&hash) {
                Some(hit) => hit,
                None => {
                    let h = hash.clone();
                    let row = state
                        .db
                        .read(move |c| Ok(api_keys::find_live_by_hash(c, &h)?))
                        .await?;
                    state.key_cache.put(hash, row.clone());
                    row
                }
            };
            let Some(k) = row else {
                return Err(ApiError::unauthenticated("Invalid or revoked API key"));
            };
            if let Some(at) = k.expires_at.filter(|at| *at <= state.clock.now_ms()) {
                return Err(ApiError::unauthenticated(format!(
                    "This API key expired at {}; create a new one",
                    crate::clock::ms_to_datetime(at)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )));
            }
            let limit = k
                .rate_limit_per_sec
                .map(|l| l.max(0) as u32)
                .unwrap_or(state.config.rate_limit_per_sec);
            if let Some(decision) = state.key_limits.check(&k.id, limit) {
                req.extensions_mut().insert(decision);
                if !decision.allowed {
                    let mut e = ApiError::new(
                        ErrorCode::RateLimitExceeded,
                        format!(
                            "This API key is over its limit of {limit} requests per second; retry in {} s",
                            decision.retry_after_secs
                        ),
                    );
                    e.retry_after = Some(decision.retry_after_secs);
                    return Err(e);
                }
            }
            touch_last_used(&state, &k.id);
            let auth = Auth {
                can_write: k.scopes.split(',').any(|s| s.trim() == "write"),
                program_id: k.program_id,
                key_id: k.id,
            };
            req.extensions_mut().insert(auth.clone());
            Ok(auth)
        })
    }
}

/// Live keys by hash (and unknown hashes), trusted for [`KEY_CACHE_TTL`], so a request
/// does not wait on the database to learn who it is. Revoking or changing a key through the
/// API clears it at once; a key revoked by the command line (another process) stops working
/// within the TTL.
///
/// Unknown hashes live in a map of their own: a flood of bogus keys fills (and clears) only
/// that one, never evicting the live keys everyone else is served from.
#[derive(Clone, Default)]
pub struct KeyCache {
    map: Arc<Mutex<HashMap<String, CachedKey>>>,
    misses: Arc<Mutex<HashMap<String, Instant>>>,
}

/// The most entries of either map before it is emptied.
const KEY_CACHE_MAX: usize = 10_000;

/// When a hash was looked up, and what it was.
type CachedKey = (Instant, Option<ApiKeyRow>);

/// How long a looked-up key is trusted.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

impl KeyCache {
    /// A fresh entry for a key hash, if any.
    pub fn get(&self, hash: &str) -> Option<Option<ApiKeyRow>> {
        let hit = self.map.lock().ok().and_then(|map| {
            map.get(hash)
                .filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL)
                .map(|(_, row)| row.clone())
        });
        if hit.is_some() {
            return hit;
        }
        let misses = self.misses.lock().ok()?;
        misses
            .get(hash)
            .filter(|at| at.elapsed() < KEY_CACHE_TTL)
            .map(|_| None)
    }

    /// Remembers what a hash resolved to.
    pub fn put(&self, hash: String, row: Option<ApiKeyRow>) {
        match row {
            Some(row) => {
                if let Ok(mut map) = self.map.lock() {
                    if map.len() >= KEY_CACHE_MAX {
                        map.retain(|_, (at, _)| at.elapsed() < KEY_CACHE_TTL);
                    }
                    if map.len() < KEY_CACHE_MAX || map.contains_key(&hash) {
                        map.insert(hash, (Instant::now(), Some(row)));
                    }
                }
            }
            None => {
                if let Ok(mut misses) = self.misses.lock() {
                    if misses.len() >= KEY_CACHE_MAX {
                        misses.clear();
                    }
                    misses.insert(hash, Instant::now());
                }
            }
        }
    }

    /// How many live keys are cached (tests watch it survive a flood of bogus keys).
    pub fn live_len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Forgets everything (a key was revoked or changed).
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
        if let Ok(mut misses) = self.misses.lock() {
            misses.clear();
        }
    }
}

/// Records a key's use, at most once a minute per key and off the request path.
fn touch_last_used(state: &AppState, key_id: &str) {
    let now = state.clock.now_ms();
    let due = match state.key_touched.lock() {
        Ok(mut m) => {
            let last = m.get(key_id).copied().unwrap_or(i64::MIN);
            if now.saturating_sub(last) >= 60_000 {
                m.insert(key_id.to_string(), now);
                true
            } else {
                false
            }
        }
        Err(_) => false,
    };
    if due {
        let db = state.db.clone();
        let id = key_id.to_string();
        actix_web::rt::spawn(async move {
            if let Err(e) = db.write(move |c| Ok(api_keys::touch(c, &id, now)?)).await {
                log::warn!("could not record a key's last use: {e}");
            }
        });
    }
}
