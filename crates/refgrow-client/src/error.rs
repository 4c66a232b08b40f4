//! The one error type of the SDK.

use std::time::Duration;

use refgrow_types::ErrorCode;

/// Everything that can go wrong talking to a Refgrow server.
///
/// Match on the variant when you need the detail, or use the helpers: [`Error::code`] for the
/// contract's machine-readable code, [`Error::status`] for the HTTP status,
/// [`Error::request_id`] to quote in a support request, and [`Error::is_retryable`] to decide
/// whether trying again later can help (the client already retried those itself, following its
/// [`RetryPolicy`](crate::RetryPolicy)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error envelope
    /// `{"success": false, "error": {"code", "message", "details"}}` (or with an error status
    /// and a body that is not one, for example from a proxy; the code then follows the status).
    #[error("{} ({status}): {message}{}", code.as_str(), fmt_request_id(request_id.as_deref()))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The contract's error code.
        code: ErrorCode,
        /// A sentence for a human.
        message: String,
        /// Structured details: `field` and `issue` when a field is at fault.
        details: Option<serde_json::Value>,
        /// The `X-Request-Id` of the response, to quote when asking for help.
        request_id: Option<String>,
    },
    /// The request could not be sent or its answer not received (connection refused or reset,
    /// timeout, TLS, an invalid body).
    #[error("HTTP error: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with success, but the body is not what this SDK expects (a server
    /// of another version, or not a Refgrow server at all).
    #[error("could not decode the response ({status}){}: {source}", fmt_request_id(request_id.as_deref()))]
    Decode {
        /// The HTTP status.
        status: u16,
        /// The `X-Request-Id` of the response.
        request_id: Option<String>,
        /// What serde complained about.
        #[source]
        source: serde_json::Error,
        /// The start of the body (at most 1,000 bytes), for debugging.
        body: String,
    },
    /// The client was configured wrongly (no base URL, an unusable API key, ...), or a value
    /// given to a method cannot be sent.
    #[error("configuration error: {0}")]
    Config(String),
}

fn fmt_request_id(id: Option<&str>) -> String {
    match id {
        Some(id) => format!(" [request {id}]"),
        None => String::new(),
    }
}

impl Error {
    /// The contract's error code, for [`Error::Api`].
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::Http(e) => e.status().map(|s| s.as_u16()),
            Error::Config(_) => None,
        }
    }

    /// The human-readable message of an [`Error::Api`].
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The `X-Request-Id` of the response, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } | Error::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// The `details` object of an [`Error::Api`].
    pub fn details(&self) -> Option<&serde_json::Value> {
        match self {
            Error::Api { details, .. } => details.as_ref(),
            _ => None,
        }
    }

    /// `details.field`: the request field at fault (`"email"`, `"limit"`, ...).
    pub fn field(&self) -> Option<&str> {
        self.details()?.get("field")?.as_str()
    }

    /// `details.issue`: what is wrong with [`Error::field`].
    pub fn issue(&self) -> Option<&str> {
        self.details()?.get("issue")?.as_str()
    }

    /// Whether the same request may succeed later: connection failures and timeouts,
    /// `429 rate_limit_exceeded` and server-side errors (5xx). Never a 4xx the caller caused.
    ///
    /// Retrying a POST is safe only with the same `Idempotency-Key`, which this client's own
    /// retries always reuse.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => is_retryable_status(*status),
            Error::Http(e) => is_retryable_transport(e),
            Error::Decode { .. } | Error::Config(_) => false,
        }
    }
}

/// 429 and 5xx, except 501 Not Implemented (which will not change by waiting).
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status) && status != 501
}

/// Connection errors, timeouts and failures mid-request or mid-body; not builder errors
/// (a bad URL or an unserializable body) nor redirect loops.
pub(crate) fn is_retryable_transport(e: &reqwest::Error) -> bool {
    if e.is_builder() || e.is_redirect() || e.is_decode() {
        return false;
    }
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
}

/// An [`Error::Api`] built from a response, plus the server's `Retry-After`.
pub(crate) struct ApiFailure {
    pub error: Error,
    pub retry_after: Option<Duration>,
}

/// The code that goes with a status when the body is not an error envelope.
pub(crate) fn code_for_status(status: u16) -> ErrorCode {
    match status {
        400 | 422 => ErrorCode::InvalidRequest,
        401 => ErrorCode::AuthenticationError,
        403 => ErrorCode::PermissionDenied,
        404 | 405 | 410 => ErrorCode::ResourceNotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::RateLimitExceeded,
        502..=504 => ErrorCode::ServiceUnavailable,
        500..=599 => ErrorCode::ServerError,
        _ => ErrorCode::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 413, 501] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn helpers_read_the_api_error() {
        let e = Error::Api {
            status: 400,
            code: ErrorCode::InvalidRequest,
            message: "Invalid value for 'email'".into(),
            details: Some(
                serde_json::json!({"field": "email", "issue": "must be a valid email address"}),
            ),
            request_id: Some("req_1".into()),
        };
        assert_eq!(e.code(), Some(ErrorCode::InvalidRequest));
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.field(), Some("email"));
        assert_eq!(e.issue(), Some("must be a valid email address"));
        assert_eq!(e.request_id(), Some("req_1"));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "invalid_request (400): Invalid value for 'email' [request req_1]"
        );
        assert!(Error::Config("x".into()).code().is_none());
    }
}
