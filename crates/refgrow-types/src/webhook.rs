//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), pure and without I/O, so
//! the server signs and receivers verify with the very same code.
//!
//! A delivery carries three headers:
//! - `webhook-id`: the event id (`evt_…`), the same for every attempt: deduplicate on it;
//! - `webhook-timestamp`: Unix seconds of this attempt;
//! - `webhook-signature`: one or more space-separated `v1,<base64 HMAC-SHA256>` signatures of
//!   `"{id}.{timestamp}.{body}"`, keyed with the base64-decoded bytes after the secret's
//!   `whsec_` prefix. During a secret rotation there are two, one per live secret.
//!
//! Receivers call [`verify_webhook`] with the endpoint's secret, the request headers and the
//! raw body, before parsing the body.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every webhook endpoint secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The header carrying the event id.
pub const HEADER_ID: &str = "webhook-id";
/// The header carrying the Unix seconds of the attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// The header carrying the signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far (seconds) a delivery's timestamp may be from the receiver's clock: 5 minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook could not be signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The secret is not `whsec_` followed by base64.
    #[error("the webhook secret must be 'whsec_' followed by base64")]
    BadSecret,
    /// A required header is absent or empty.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a number of seconds.
    #[error("the webhook-timestamp header is not a Unix timestamp")]
    BadTimestamp,
    /// The timestamp is further than the tolerance from now (a replay or a skewed clock).
    #[error("the webhook timestamp is outside the tolerance of the receiver's clock")]
    TimestampOutOfTolerance,
    /// No `v1,` signature matched the body with this secret.
    #[error("no webhook signature matches")]
    NoMatchingSignature,
}

/// What a verified delivery says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWebhook {
    /// The `webhook-id` (the event id): the same across retries, so deduplicate on it.
    pub id: String,
    /// The `webhook-timestamp` of this attempt, Unix seconds.
    pub timestamp: i64,
}

/// The key bytes of a secret: the base64 after `whsec_` (the prefix is optional, as in the
/// reference libraries).
pub fn secret_key(secret: &str) -> Result<Vec<u8>, WebhookError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let key = BASE64
        .decode(encoded.trim())
        .map_err(|_| WebhookError::BadSecret)?;
    if key.is_empty() {
        return Err(WebhookError::BadSecret);
    }
    Ok(key)
}

/// A new secret from random bytes (`whsec_` + base64); use at least 24 bytes.
pub fn secret_from_bytes(bytes: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Result<HmacSha256, WebhookError> {
    // HMAC takes keys of any length; an error here would mean an unusable secret.
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| WebhookError::BadSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// Signs a delivery: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`. Fails only when
/// the secret is not `whsec_` + base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, WebhookError> {
    let key = secret_key(secret)?;
    let tag = mac(&key, id, timestamp, body)?.finalize().into_bytes();
    Ok(format!("v1,{}", BASE64.encode(tag)))
}

/// Verifies a delivery against the receiver's clock (see [`verify_webhook_at`]).
///
/// `headers` are the request's headers as name/value pairs (names in any case). Pass the raw
/// body exactly as received, before any JSON parsing.
///
/// ```
/// use refgrow_types::webhook::{sign, verify_webhook};
///
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"type":"affiliate.created","timestamp":"2026-01-01T00:00:00Z","data":{}}"#;
/// let now = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH)
///     .map(|d| d.as_secs() as i64)
///     .unwrap_or_default();
/// let signature = sign(secret, "evt_1", now, body)?;
/// let headers = [
///     ("webhook-id", "evt_1".to_string()),
///     ("webhook-timestamp", now.to_string()),
///     ("webhook-signature", signature),
/// ];
/// let verified = verify_webhook(secret, headers, body)?;
/// assert_eq!(verified.id, "evt_1");
/// # Ok::<(), refgrow_types::webhook::WebhookError>(())
/// ```
pub fn verify_webhook<I, K, V>(
    secret: &str,
    headers: I,
    body: &[u8],
) -> Result<VerifiedWebhook, WebhookError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    verify_webhook_at(secret, headers, body, now, DEFAULT_TOLERANCE_SECS)
}

/// Verifies a delivery as of `now` (Unix seconds): the three headers are present, the
/// timestamp is within `tolerance_secs` of `now`, and at least one of the space-separated
/// `v1,` signatures matches (compared in constant time). Other signature versions are
/// ignored.
pub fn verify_webhook_at<I, K, V>(
    secret: &str,
    headers: I,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<VerifiedWebhook, WebhookError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let key = secret_key(secret)?;
    let (mut id, mut timestamp, mut signatures) = (None, None, None);
    for (name, value) in headers {
        let name = name.as_ref();
        let value = value.as_ref().trim().to_string();
        if name.eq_ignore_ascii_case(HEADER_ID) {
            id = Some(value);
        } else if name.eq_ignore_ascii_case(HEADER_TIMESTAMP) {
            timestamp = Some(value);
        } else if name.eq_ignore_ascii_case(HEADER_SIGNATURE) {
            signatures = Some(value);
        }
    }
    let id = id
        .filter(|v| !v.is_empty())
        .ok_or(WebhookError::MissingHeader(HEADER_ID))?;
    let timestamp = timestamp
        .filter(|v| !v.is_empty())
        .ok_or(WebhookError::MissingHeader(HEADER_TIMESTAMP))?;
    let signatures = signatures
        .filter(|v| !v.is_empty())
        .ok_or(WebhookError::MissingHeader(HEADER_SIGNATURE))?;
    let timestamp: i64 = timestamp.parse().map_err(|_| WebhookError::BadTimestamp)?;
    if now.saturating_sub(timestamp).saturating_abs() > tolerance_secs {
        return Err(WebhookError::TimestampOutOfTolerance);
    }
    let expected = mac(&key, &id, timestamp, body)?;
    for candidate in signatures.split(' ') {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = BASE64.decode(encoded) else {
            continue;
        };
        // `verify_slice` compares in constant time.
        if expected.clone().verify_slice(&tag).is_ok() {
            return Ok(VerifiedWebhook { id, timestamp });
        }
    }
    Err(WebhookError::NoMatchingSignature)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // The example of the Standard Webhooks specification's reference test suite.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, ts: i64, sig: &str) -> Vec<(String, String)> {
        vec![
            ("Webhook-Id".into(), id.into()),
            ("webhook-timestamp".into(), ts.to_string()),
            ("WEBHOOK-SIGNATURE".into(), sig.into()),
        ]
    }

    #[test]
    fn signs_like_the_specification() {
        assert_eq!(
            sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY).unwrap(),
            SPEC_SIG
        );
        let v = verify_webhook_at(
            SPEC_SECRET,
            headers(SPEC_ID, SPEC_TS, SPEC_SIG),
            SPEC_BODY,
            SPEC_TS + 10,
            DEFAULT_TOLERANCE_SECS,
        )
        .unwrap();
        assert_eq!(v.id, SPEC_ID);
        assert_eq!(v.timestamp, SPEC_TS);
    }

    #[test]
    fn any_of_several_signatures_verifies() {
        let other = secret_from_bytes(&[7u8; 32]);
        let theirs = sign(&other, SPEC_ID, SPEC_TS, SPEC_BODY).unwrap();
        let both = format!("v2,abc {theirs} {SPEC_SIG}");
        let h = headers(SPEC_ID, SPEC_TS, &both);
        assert!(verify_webhook_at(SPEC_SECRET, h.clone(), SPEC_BODY, SPEC_TS, 300).is_ok());
        assert!(verify_webhook_at(&other, h, SPEC_BODY, SPEC_TS, 300).is_ok());
    }

    #[test]
    fn tampering_and_staleness_are_refused() {
        let h = headers(SPEC_ID, SPEC_TS, SPEC_SIG);
        assert_eq!(
            verify_webhook_at(SPEC_SECRET, h.clone(), b"{}", SPEC_TS, 300),
            Err(WebhookError::NoMatchingSignature)
        );
        assert_eq!(
            verify_webhook_at(SPEC_SECRET, h.clone(), SPEC_BODY, SPEC_TS + 301, 300),
            Err(WebhookError::TimestampOutOfTolerance)
        );
        assert_eq!(
            verify_webhook_at(SPEC_SECRET, h.clone(), SPEC_BODY, SPEC_TS - 301, 300),
            Err(WebhookError::TimestampOutOfTolerance)
        );
        let wrong_id = headers("msg_other", SPEC_TS, SPEC_SIG);
        assert!(verify_webhook_at(SPEC_SECRET, wrong_id, SPEC_BODY, SPEC_TS, 300).is_err());
        let other = secret_from_bytes(&[1u8; 24]);
        assert!(verify_webhook_at(&other, h.clone(), SPEC_BODY, SPEC_TS, 300).is_err());
        assert_eq!(
            verify_webhook_at("whsec_!!", h, SPEC_BODY, SPEC_TS, 300),
            Err(WebhookError::BadSecret)
        );
        let missing = vec![("webhook-id", SPEC_ID), ("webhook-signature", SPEC_SIG)];
        assert_eq!(
            verify_webhook_at(SPEC_SECRET, missing, SPEC_BODY, SPEC_TS, 300),
            Err(WebhookError::MissingHeader(HEADER_TIMESTAMP))
        );
        let bad_ts = headers(SPEC_ID, 0, SPEC_SIG).into_iter().map(|(k, v)| {
            if k == "webhook-timestamp" {
                (k, "soon".to_string())
            } else {
                (k, v)
            }
        });
        assert_eq!(
            verify_webhook_at(SPEC_SECRET, bad_ts, SPEC_BODY, SPEC_TS, 300),
            Err(WebhookError::BadTimestamp)
        );
    }

    #[test]
    fn secrets_round_trip() {
        let s = secret_from_bytes(&[9u8; 24]);
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_key(&s).unwrap(), vec![9u8; 24]);
        assert_eq!(secret_key("whsec_"), Err(WebhookError::BadSecret));
    }
}
