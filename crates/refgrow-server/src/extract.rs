//! Request extractors that fail in the contract's envelope, naming the field at fault,
//! instead of actix's plain-text defaults.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use bytes::BytesMut;
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use refgrow_types::api::common::{DEFAULT_LIMIT, MAX_LIMIT};
use refgrow_types::error::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// The default body limit when no state is registered (tests of extractors alone).
const FALLBACK_LIMIT: usize = 64 * 1024;

/// A JSON body, read up to the configured limit and deserialized with field paths.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// The raw body with its parsed form, for handlers that hash what they were sent.
#[derive(Debug)]
pub struct RawJson<T> {
    /// The parsed body.
    pub value: T,
    /// The bytes as received.
    pub bytes: web::Bytes,
}

fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.config.max_body_bytes)
        .unwrap_or(FALLBACK_LIMIT)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("The body is larger than the limit of {limit} bytes"),
    )
}

/// Reads a whole body, refusing it once it passes `limit`.
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    let limit = body_limit(req);
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large(limit));
        }
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("The body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The future of a body extractor: reads the whole body ([`read_body`]), then makes the
/// extracted value of it with `make`.
fn with_body<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    make: impl FnOnce(web::Bytes) -> Result<T, ApiError> + 'static,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
    let req = req.clone();
    let mut payload = payload.take();
    Box::pin(async move { make(read_body(&req, &mut payload).await?) })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |bytes| parse_json(&bytes).map(ApiJson))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for RawJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |bytes| {
            let value = parse_json(&bytes)?;
            Ok(RawJson { value, bytes })
        })
    }
}

/// A JSON body that may be absent: an empty body is `None`, anything else must parse.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |bytes| {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            parse_json(&bytes).map(|v| OptionalJson(Some(v)))
        })
    }
}

/// Strips serde_json's " at line L column C" tail.
fn without_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Turns a serde message and path into a field and an issue.
fn field_error(path: &str, message: &str) -> ApiError {
    let message = without_position(message);
    let prefix = if path == "." || path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    };
    let base = if path == "." || path.is_empty() {
        "body".to_string()
    } else {
        path.to_string()
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return ApiError::invalid(format!("{prefix}{name}"), "is required");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if base.ends_with(name) {
            base
        } else {
            format!("{prefix}{name}")
        };
        return ApiError::invalid(field, "is not a known field");
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let mut parts = rest.splitn(2, "`, expected ");
        let value = parts.next().unwrap_or_default().to_string();
        let expected = parts.next().unwrap_or_default();
        return ApiError::invalid(
            base,
            format!(
                "'{value}' is not one of {}",
                expected.trim_start_matches("one of ")
            ),
        );
    }
    ApiError::invalid(base, message)
}

/// Deserializes JSON, naming the field at fault on failure.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("A JSON body is required"));
    }
    // The fast path; only a body that fails is read again to name the field at fault.
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::bad_request(format!(
                    "The body is not valid JSON: {}",
                    inner
                ))
                .with_details(serde_json::json!({"field": "body", "issue": "malformed JSON"})));
            }
            return Err(field_error(&path, &inner.to_string()));
        }
    };
    de.end().map_err(|_| {
        ApiError::bad_request("The body has trailing characters after the JSON value")
    })?;
    Ok(value)
}

/// Query parameters, deserialized with names of the parameter at fault.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

/// Parses a query string.
pub fn parse_query<T: DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(qs.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner().to_string())
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

/// Checks `limit` (1..=100, default 20) and `offset` (default 0).
pub fn page(limit: Option<u32>, offset: Option<u64>) -> Result<(u32, u64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset > i64::MAX as u64 {
        return Err(ApiError::invalid("offset", "is too large"));
    }
    Ok((limit, offset))
}

/// Parses an id from the path, with the contract's message for a wrong prefix.
pub fn path_id<T>(
    raw: &str,
    field: &str,
    parse: fn(&str) -> Result<T, refgrow_types::ids::IdError>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::invalid(field, e.to_string()))
}

pub use crate::validate::check_len;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        cookie_days: Option<u32>,
    }

    fn err_field(r: Result<Body, ApiError>) -> String {
        let e = r.unwrap_err();
        e.details.unwrap()["field"].as_str().unwrap().to_string()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err_field(parse_json(br#"{}"#)), "email");
        assert_eq!(err_field(parse_json(br#"{"email": 1}"#)), "email");
        assert_eq!(
            err_field(parse_json(br#"{"email": "a", "cookieDays": "x"}"#)),
            "cookieDays"
        );
        assert_eq!(
            err_field(parse_json(br#"{"email": "a", "nope": 1}"#)),
            "nope"
        );
        assert_eq!(err_field(parse_json(br#"{"email": "#)), "body");
        assert!(parse_json::<Body>(b"").is_err());
    }

    #[test]
    fn limits_are_checked() {
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(101), None).is_err());
        assert_eq!(page(None, None).unwrap(), (20, 0));
    }
}
