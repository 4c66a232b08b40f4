//! The error half of the wire contract: the codes, their HTTP statuses and the envelope
//! `{"success": false, "error": {"code", "message", "details"}}`.

use serde::{Deserialize, Serialize};

/// A machine-readable error code. Each has exactly one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, wrong types, bad ids, out-of-range or unknown values.
    InvalidRequest,
    /// 401: no key, unknown key, revoked key.
    AuthenticationError,
    /// 403: the key may not do this.
    PermissionDenied,
    /// 404: no such resource in this program.
    ResourceNotFound,
    /// 409: duplicate unique value, idempotent replay with another body, illegal transition.
    Conflict,
    /// 413: body over the configured limit.
    PayloadTooLarge,
    /// 429: over the key's rate.
    RateLimitExceeded,
    /// 500: a bug.
    ServerError,
    /// 503: the database or another dependency is not reachable right now.
    ServiceUnavailable,
    /// A code this version does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::AuthenticationError => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::ResourceNotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimitExceeded => 429,
            ErrorCode::ServerError | ErrorCode::Unknown => 500,
            ErrorCode::ServiceUnavailable => 503,
        }
    }

    /// The snake_case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::AuthenticationError => "authentication_error",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::ResourceNotFound => "resource_not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::RateLimitExceeded => "rate_limit_exceeded",
            ErrorCode::ServerError => "server_error",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// The `error` object of a failed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    /// The code.
    pub code: ErrorCode,
    /// A sentence for a human.
    pub message: String,
    /// Structured details: `field` and `issue` where a field is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// `{"success": false, "error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    /// Always false.
    pub success: bool,
    /// The error.
    pub error: ApiErrorBody,
}

/// `{"success": true, "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Always true.
    pub success: bool,
    /// The payload.
    pub data: T,
}

impl<T> Envelope<T> {
    /// Wraps a payload.
    pub fn ok(data: T) -> Self {
        Envelope {
            success: true,
            data,
        }
    }
}
