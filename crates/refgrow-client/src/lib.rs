//! The async Rust SDK of [Refgrow](https://github.com/refgrow/refgrow), a self-hosted
//! affiliate and referral API.
//!
//! Build one [`Client`] with your server's URL and your program's API key, then call the
//! endpoints through its resource handles: [`Client::program`], [`Client::affiliates`],
//! [`Client::referrals`], [`Client::customers`], [`Client::transactions`],
//! [`Client::conversions`], [`Client::commissions`], [`Client::webhook_endpoints`] and
//! [`Client::events`]; receivers of webhooks check each delivery with [`verify_webhook`].
//! Request and response bodies are the very types the server uses ([`api`], re-exported from
//! `refgrow-types`), so the two cannot drift apart; amounts are exact decimals ([`Amount`]),
//! never floats.
//!
//! # The affiliate flow
//!
//! ```no_run
//! use refgrow_client::api::{
//!     CreateAffiliate, CreateConversion, CreateCustomer, CreateTransaction, Email,
//!     ReferralCode, TrackClick,
//! };
//! use refgrow_client::{Amount, Client, ErrorCode, RetryPolicy};
//!
//! # async fn run() -> Result<(), refgrow_client::Error> {
//! let client = Client::builder()
//!     .base_url("https://refgrow.example.com")
//!     .api_key(std::env::var("REFGROW_API_KEY").unwrap_or_default())
//!     .user_agent("my-saas/1.0")
//!     .retry(RetryPolicy::default()) // 3 retries with backoff on 429, 5xx, connection errors
//!     .build()?;
//!
//! // 1. Enrol an affiliate; they share their referral link.
//! let affiliate = client
//!     .affiliates()
//!     .create(CreateAffiliate {
//!         email: Email::parse("jane@example.com").ok_or(refgrow_client::Error::Config("email".into()))?,
//!         name: "Jane Doe".into(),
//!         referral_code: ReferralCode::parse("JANE10"),
//!         custom_fields: None,
//!         parent_affiliate_id: None,
//!         payment_method: Some("paypal".into()),
//!         payment_details: Some("jane@example.com".into()),
//!     })
//!     .await?;
//! println!("share {}", affiliate.referral_link);
//!
//! // 2. A visitor follows the link: record the click and keep its id.
//! let click = client
//!     .referrals()
//!     .track(TrackClick {
//!         referral_code: ReferralCode::parse(&affiliate.referral_code)
//!             .ok_or(refgrow_client::Error::Config("code".into()))?,
//!         source_url: None,
//!         landing_url: Some("https://my-saas.example.com/pricing".into()),
//!         user_agent: None,
//!         ip_address: None,
//!     })
//!     .await?;
//!
//! // 3. The visitor signs up: bind your user to the click.
//! let customer = client
//!     .customers()
//!     .create(CreateCustomer {
//!         key: "user_42".into(),
//!         email: Email::parse("buyer@example.org"),
//!         name: None,
//!         click_id: Some(click.click_id),
//!         referral_code: None,
//!         affiliate_id: None,
//!     })
//!     .await?;
//! assert!(customer.attributed);
//!
//! // 4. Each payment is a transaction; the program's rule prices the commission. The
//! //    payment id makes it idempotent, and every retry reuses one Idempotency-Key.
//! let paid = client
//!     .transactions()
//!     .create(CreateTransaction {
//!         customer_key: "user_42".into(),
//!         key: "in_1001".into(),
//!         amount: "49.00".parse().map_err(|_| refgrow_client::Error::Config("amount".into()))?,
//!         currency: None,
//!         product_id: None,
//!         product_type: None,
//!         action: Some("sale".into()),
//!     })
//!     .await?;
//! if let Some(conversion) = paid.conversion {
//!     println!("{} earned {}", conversion.affiliate_id, conversion.commission);
//! }
//!
//! // Errors carry the contract's code, the HTTP status and the request id.
//! match client.affiliates().get_by_code("NOPE").await {
//!     Err(e) if e.code() == Some(ErrorCode::ResourceNotFound) => {
//!         println!("no such code (request {:?})", e.request_id());
//!     }
//!     other => { other?; }
//! }
//! # let _: Option<CreateConversion> = None; let _: Option<Amount> = None;
//! # Ok(()) }
//! ```
//!
//! # Errors and retries
//!
//! Every method returns [`Error`]: [`Error::Api`] for an error answer of the server (with the
//! contract's [`ErrorCode`], `details.field`/`details.issue`, and the `X-Request-Id`),
//! [`Error::Http`] for transport failures, [`Error::Decode`] for a success body this version
//! does not understand, [`Error::Config`] for a misconfigured client.
//!
//! Connection failures, timeouts, `429` (honouring `Retry-After`) and 5xx answers are retried
//! following the client's [`RetryPolicy`] (exponential backoff with jitter, 3 retries by
//! default, [`RetryPolicy::none`] to disable). Every POST carries an `Idempotency-Key`,
//! random per call and the same across that call's retries, so a retried request can never
//! record a sale or a commission twice. Set your own key with `with_idempotency_key` on a
//! resource handle to make a call safe to repeat across restarts too.
//!
//! # Features
//!
//! - `blocking`: [`blocking::Client`], a synchronous facade for code without an async
//!   runtime.

mod client;
mod error;
mod pagination;
mod resources;
mod retry;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use client::{
    Client, ClientBuilder, RequestOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
    IDEMPOTENCY_KEY_HEADER, REQUEST_ID_HEADER,
};
pub use error::Error;
/// Verifies a webhook delivery in one call: the `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` headers, within 5 minutes of now, against the endpoint's secret (any of
/// the signatures sent during a secret rotation may match). Pass the raw body, before parsing.
///
/// ```
/// use refgrow_client::api::WebhookPayload;
/// use refgrow_client::verify_webhook;
/// # use refgrow_client::types::webhook::sign;
///
/// // In your HTTP handler: the endpoint's secret, the request's headers and raw body.
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = br#"{"type":"affiliate.created","timestamp":"2026-01-01T00:00:00Z","data":{"affiliate":{}}}"#;
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default();
/// # let signature = sign(secret, "evt_1", now, body)?;
/// let headers = vec![
///     ("webhook-id", "evt_1".to_string()),
///     ("webhook-timestamp", now.to_string()),
///     ("webhook-signature", signature),
/// ];
/// // With an `http::HeaderMap`: `headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))`.
/// let verified = verify_webhook(secret, headers, body)?; // Err: answer 400 and stop
/// let event: WebhookPayload = serde_json::from_slice(body).map_err(|_| {
///     refgrow_client::types::webhook::WebhookError::NoMatchingSignature
/// })?;
/// println!("{} {} (deduplicate on {})", event.event_type, event.timestamp, verified.id);
/// # Ok::<(), refgrow_client::types::webhook::WebhookError>(())
/// ```
pub use refgrow_types::webhook::verify_webhook;
pub use resources::{
    AffiliatesApi, CommissionsApi, ConversionsApi, CustomersApi, ListAffiliates, ListCommissions,
    ListConversions, ProgramApi, ReferralsApi, TransactionsApi,
};
pub use resources::{EventsApi, ListDeliveries, ListEvents, WebhookEndpointsApi};
pub use resources::{InvitationsApi, ListInvitations};
pub use resources::{ApiKeysApi, AuditLogApi, ListAuditLog};
pub use resources::{ListPayouts, PayoutsApi, ReportsApi, StatsApi, StatsRange};
pub use retry::RetryPolicy;

/// The shared wire types (`refgrow-types`), for everything not re-exported at the top.
pub use refgrow_types as types;
/// Request and response bodies of every endpoint.
pub use refgrow_types::api;
pub use refgrow_types::commission::CommissionRule;
pub use refgrow_types::{EventId, InvitationId, KeyId, PayoutId, WebhookEndpointId};
pub use refgrow_types::{
    AffiliateId, Amount, ClickId, CommissionId, ConversionId, Currency, CustomerId, ErrorCode,
    ProgramId,
};
