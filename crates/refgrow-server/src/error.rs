//! The one error type of the HTTP layer.
//!
//! Every handler, extractor and storage function returns [`ApiError`], which renders the
//! contract's envelope `{"success": false, "error": {code, message, details}}` with the code's
//! status. Which constructor to use:
//! - a caller's mistake in a field: [`ApiError::invalid`] (names the field and the issue);
//! - a missing resource: [`ApiError::not_found`] (also for other programs' ids);
//! - a duplicate or an illegal move: [`ApiError::conflict`];
//! - a bug or an impossible state: [`ApiError::internal`] (logged; the caller only sees
//!   `server_error`, never the cause);
//! - the database unreachable: [`ApiError::unavailable`] (503).
//!
//! `From<diesel::result::Error>` maps not-found to 404 and unique violations to 409.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use refgrow_types::error::{ApiErrorBody, ErrorCode, ErrorEnvelope};
use serde_json::json;

/// The message of [`ApiError::unavailable`].
const DB_DOWN_MESSAGE: &str = "The database is not reachable right now; retry shortly";

/// The `Retry-After` (seconds) of answers refused while the database is known to be down
/// (the breaker of `db::health` is open) or busy.
pub const RETRY_AFTER_SECS: u64 = 1;

/// An error on its way to the caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The contract's code.
    pub code: ErrorCode,
    /// A sentence for the caller.
    pub message: String,
    /// Structured details.
    pub details: Option<serde_json::Value>,
    /// Seconds to wait before retrying (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// A field the caller got wrong.
    pub fn invalid(field: impl Into<String>, issue: impl Into<String>) -> Self {
        let field = field.into();
        let issue = issue.into();
        ApiError {
            code: ErrorCode::InvalidRequest,
            message: format!("Invalid value for '{field}': {issue}"),
            details: Some(json!({"field": field, "issue": issue})),
            retry_after: None,
        }
    }

    /// A request the caller got wrong as a whole.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// No such `what` in this program.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::ResourceNotFound,
            format!("No such {what} in this program"),
        )
    }

    /// A duplicate or an illegal transition.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// Missing or bad credentials.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AuthenticationError, message)
    }

    /// The key may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    /// A bug: logged with its cause, shown to the caller without it.
    pub fn internal(cause: impl fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::new(ErrorCode::ServerError, "Something went wrong on our side")
    }

    /// The database is not reachable right now (503 with `Retry-After`).
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        log::warn!("database unavailable: {cause}");
        let mut e = Self::new(ErrorCode::ServiceUnavailable, DB_DOWN_MESSAGE);
        e.retry_after = Some(RETRY_AFTER_SECS);
        e
    }

    /// The server is saturated (a full queue or buffer): 503 with `Retry-After`, without
    /// implying that the database is down.
    pub fn busy(what: &str) -> Self {
        let mut e = Self::new(
            ErrorCode::ServiceUnavailable,
            format!("The server is busy ({what}); retry shortly"),
        );
        e.retry_after = Some(1);
        e
    }

    /// Whether this error says the database is unreachable (see [`ApiError::unavailable`]).
    pub fn is_db_down(&self) -> bool {
        self.code == ErrorCode::ServiceUnavailable && self.message == DB_DOWN_MESSAGE
    }

    /// Adds details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            res.insert_header(("Retry-After", secs.to_string()));
        }
        res.json(ErrorEnvelope {
            success: false,
            error: ApiErrorBody {
                code: self.code,
                message: self.message.clone(),
                details: self.details.clone(),
            },
        })
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::not_found("resource"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                log::debug!("unique violation: {}", info.message());
                ApiError::conflict("A resource with this unique value already exists")
            }
            Error::DatabaseError(
                kind @ (DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand),
                info,
            ) => ApiError::unavailable(format!("{kind:?}: {}", info.message())),
            Error::BrokenTransactionManager => {
                ApiError::unavailable("a connection was left broken by a failed transaction")
            }
            Error::DatabaseError(_, info) if sqlite_unusable(info.message()) => {
                ApiError::unavailable(format!("SQLite: {}", info.message()))
            }
            other => ApiError::internal(format!("database: {other}")),
        }
    }
}

/// Whether a SQLite error says the file cannot be used right now (locked by another
/// process past the busy timeout, read-only, gone, or an I/O failure), rather than a bug.
fn sqlite_unusable(message: &str) -> bool {
    [
        "database is locked",
        "readonly database",
        "disk I/O error",
        "unable to open database file",
        "database or disk is full",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Results of the HTTP layer.
pub type ApiResult<T> = Result<T, ApiError>;
