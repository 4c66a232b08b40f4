//! API-key authentication: `Authorization: Bearer <key>`. Keys are stored as SHA-256 hashes;
//! a request is scoped to its key's program from here on.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::db::api_keys;
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
        Box::pin(async move {
            let key = key?;
            let state = state.ok_or_else(|| ApiError::internal("no application state"))?;
            if key.len() > 200 {
                return Err(ApiError::unauthenticated("Invalid API key"));
            }
            let hash = hash_secret(&key);
            let row = state
                .db
                .read(move |c| Ok(api_keys::find_live_by_hash(c, &hash)?))
                .await?;
            match row {
                Some(k) => Ok(Auth {
                    can_write: k.scopes.split(',').any(|s| s.trim() == "write"),
                    program_id: k.program_id,
                    key_id: k.id,
                }),
                None => Err(ApiError::unauthenticated("Invalid or revoked API key")),
            }
        })
    }
}
