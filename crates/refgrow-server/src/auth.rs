//! API-key authentication: `Authorization: Bearer <key>`. Keys are stored as SHA-256 hashes;
//! a request is scoped to its key's program from here on.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use refgrow_types::ErrorCode;

use crate::db::api_keys::{self};
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

pub use crate::key_cache::{KeyCache, KeyUses, KEY_CACHE_TTL};

/// Records a key's use, at most once a minute per key and off the request path.
fn touch_last_used(state: &AppState, key_id: &str) {
    let now = state.clock.now_ms();
    if state.key_touched.due(key_id) {
        let db = state.db.clone();
        let id = key_id.to_string();
        actix_web::rt::spawn(async move {
            if let Err(e) = db.write(move |c| Ok(api_keys::touch(c, &id, now)?)).await {
                log::warn!("could not record a key's last use: {e}");
            }
        });
    }
}
