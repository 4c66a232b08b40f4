//! `Idempotency-Key` on POSTs: the first request with a key does the work and its answer is
//! saved in the same transaction; a retry with the same key and body gets that answer back
//! (200, same ids, header `Idempotent-Replayed: true`); the same key with another body is a
//! `conflict`. A request that failed saved nothing, so its retry runs afresh.
//!
//! An answer that holds a secret (a new API key) is never saved: the handler saves a
//! stand-in instead ([`Answer::save_instead`]), so the table holds no secret and a replay
//! cannot hand one out twice. Records are pruned after [`RETENTION_MS`] (24 hours, like
//! Stripe) by the background jobs; a key reused after that is a new request.
//!
//! The key's row is inserted before the work (see [`crate::db::idempotency`]), so two
//! concurrent requests with one key cannot both do the work: on PostgreSQL the second waits
//! on the primary key and then reads the first one's answer; SQLite has one writer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use refgrow_types::error::Envelope;
use serde::Serialize;

use crate::db::idempotency::{claim, save, Claim};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a saved answer is kept: 24 hours.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// The request header.
pub const HEADER: &str = "idempotency-key";

/// The caller's `Idempotency-Key`, checked: 1 to 255 visible ASCII characters.
pub fn key_of(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(s.to_string()))
}

/// A fingerprint of a request: its method, path and canonical body.
pub fn fingerprint<T: Serialize>(req: &HttpRequest, body: &T) -> Result<String, ApiError> {
    let json = serde_json::to_string(body).map_err(ApiError::internal)?;
    Ok(crate::idgen::hash_secret(&format!(
        "{} {}\n{}",
        req.method(),
        req.path(),
        json
    )))
}

/// A handler's answer, ready to be saved and replayed.
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The serialized success envelope.
    pub body: String,
    /// Whether it is a replay of an earlier answer.
    pub replayed: bool,
    /// What is saved for replays instead of this answer (status, body), when the answer
    /// holds a secret.
    pub saved: Option<(StatusCode, String)>,
}

impl Answer {
    /// Wraps `data` in the success envelope.
    pub fn new<T: Serialize>(status: StatusCode, data: &T) -> Result<Answer, ApiError> {
        Ok(Answer {
            status,
            body: serde_json::to_string(&Envelope::ok(data)).map_err(ApiError::internal)?,
            replayed: false,
            saved: None,
        })
    }

    /// Saves `error` for replays instead of this answer (which holds a secret).
    pub fn save_instead(mut self, error: &ApiError) -> Result<Answer, ApiError> {
        let envelope = refgrow_types::error::ErrorEnvelope {
            success: false,
            error: refgrow_types::error::ApiErrorBody {
                code: error.code,
                message: error.message.clone(),
                details: error.details.clone(),
            },
        };
        let body = serde_json::to_string(&envelope).map_err(ApiError::internal)?;
        let status = actix_web::ResponseError::status_code(error);
        self.saved = Some((status, body));
        Ok(self)
    }

    /// The same answer as a replay (201 becomes 200).
    pub fn replay<T: Serialize>(data: &T) -> Result<Answer, ApiError> {
        let mut a = Answer::new(StatusCode::OK, data)?;
        a.replayed = true;
        Ok(a)
    }

    /// The HTTP response.
    pub fn into_response(self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type("application/json");
        if self.replayed {
            res.insert_header(("Idempotent-Replayed", "true"));
        }
        res.body(self.body)
    }
}

/// Runs a write use case in one transaction, at most once per `Idempotency-Key`.
pub async fn write_once<F>(
    state: &AppState,
    req: &HttpRequest,
    program_id: &str,
    fingerprint: String,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(&mut DbConn) -> Result<Answer, ApiError> + Send + 'static,
{
    let key = key_of(req)?;
    let program_id = program_id.to_string();
    let now = state.clock.now_ms();
    let answer = state
        .db
        .write(move |c| {
            // `Db::write` runs this in a transaction (a savepoint of a group commit on SQLite).
            if let Some(k) = &key {
                match claim(c, &program_id, k, &fingerprint, now)? {
                    Claim::Fresh => {}
                    Claim::Replay(status, body) => {
                        let status = if status == 201 { 200 } else { status };
                        return Ok(Answer {
                            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                            body,
                            replayed: true,
                            saved: None,
                        });
                    }
                    Claim::Mismatch => {
                        return Err(ApiError::conflict(
                            "This Idempotency-Key was already used with a different request",
                        )
                        .with_details(serde_json::json!({"field": "Idempotency-Key", "issue": "reused with another body"})));
                    }
                }
            }
            let answer = work(c)?;
            if let Some(k) = &key {
                let (status, body) = match &answer.saved {
                    Some((status, body)) => (*status, body.as_str()),
                    None => (answer.status, answer.body.as_str()),
                };
                save(c, &program_id, k, status.as_u16(), body)?;
            }
            Ok(answer)
        })
        .await?;
    Ok(answer.into_response())
}
