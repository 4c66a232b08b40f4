//! The async Rust SDK of [Refgrow](https://github.com/refgrow/refgrow), a self-hosted
//! affiliate and referral API.
//!
//! Build one [`Client`] with your server's URL and your program's API key, then call the
//! endpoints through its resource handles: [`Client::program`], [`Client::affiliates`],
//! [`Client::invitations`], [`Client::referrals`], [`Client::customers`],
//! [`Client::transactions`], [`Client::conversions`], [`Client::commissions`],
//! [`Client::payouts`], [`Client::stats`], [`Client::reports`],
//! [`Client::webhook_endpoints`], [`Client::events`], [`Client::api_keys`] and
//! [`Client::audit_log`]. Receivers of webhooks check each delivery with [`verify_webhook`].
//!
//! Request and response bodies, and the list parameters, are the very types the server uses
//! ([`api`], re-exported from `refgrow-types`), so the two cannot drift apart; amounts are
//! exact decimals ([`Amount`]), never floats.
//!
//! ```no_run
//! use refgrow_client::{Client, RetryPolicy};
//!
//! # async fn run() -> Result<(), refgrow_client::Error> {
//! let client = Client::builder()
//!     .base_url("https://refgrow.example.com") // without /v1
//!     .api_key(std::env::var("REFGROW_KEY").unwrap_or_default())
//!     .user_agent("my-saas/1.0") // sent before the SDK's own `refgrow-rust/x.y`
//!     .retry(RetryPolicy::default()) // 3 retries with backoff: the default
//!     .build()?;
//! let program = client.program().get().await?;
//! println!("{} pays {:?} {:?}", program.name, program.commission.kind, program.commission.rate);
//! # Ok(()) }
//! ```
//!
//! A [`Client`] is cheap to clone (the connection pool is shared): build it once, at startup.
//!
//! # The affiliate flow
//!
//! An affiliate shares a link; a visitor clicks it; the visitor signs up and pays; the
//! affiliate earns a commission, which shrinks if the sale is refunded, and is paid out once
//! approved.
//!
//! ```no_run
//! use refgrow_client::api::{
//!     CreateAffiliate, CreateConversion, CreateCustomer, CreatePayoutRun, CreateRefund, Email,
//!     PayoutExportFormat, ReferralCode, TrackClick,
//! };
//! use refgrow_client::{Amount, Client, ListCommissions};
//!
//! # async fn run(client: Client) -> Result<(), Box<dyn std::error::Error>> {
//! // 1. Enrol an affiliate; a referral code is generated when none is given.
//! let affiliate = client
//!     .affiliates()
//!     .create(CreateAffiliate {
//!         email: Email::parse("jane@example.com").ok_or("bad email")?,
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
//! // 2. A visitor follows the link (or lands with `?ref=JANE10`): record the click and keep
//! //    its id, in a cookie or a hidden form field.
//! let click = client
//!     .referrals()
//!     .track(TrackClick {
//!         referral_code: ReferralCode::parse(&affiliate.referral_code).ok_or("bad code")?,
//!         source_url: None,
//!         landing_url: Some("https://my-saas.example.com/pricing".into()),
//!         user_agent: None,
//!         ip_address: None,
//!     })
//!     .await?;
//!
//! // 3. The visitor signs up: bind your user id to the click (within the cookie window).
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
//! // 4. The customer pays: record the sale. The program's rule prices the commission.
//! //    The order id, and the Idempotency-Key that every retry reuses, make it safe to send
//! //    again: a replay returns the original conversion. (Renewals of a subscription go to
//! //    `client.transactions().create(..)`, one per payment, keyed by your invoice id.)
//! let conversion = client
//!     .referrals()
//!     .with_idempotency_key("order-1001")
//!     .convert(CreateConversion {
//!         click_id: None,
//!         referral_code: None,
//!         customer_key: Some("user_42".into()),
//!         amount: "49.00".parse::<Amount>()?,
//!         currency: None,
//!         order_id: Some("order-1001".into()),
//!         customer: None,
//!         products: None,
//!     })
//!     .await?;
//! println!("{} earned {}", conversion.affiliate_id, conversion.commission);
//!
//! // 5. A partial refund: the commission shrinks in proportion. (Once paid out, the
//! //    difference becomes a clawback taken from the affiliate's next payout.)
//! let refund = client
//!     .conversions()
//!     .refund(
//!         &conversion.conversion_id,
//!         CreateRefund { amount: Some("19.00".parse()?), reason: Some("downgrade".into()) },
//!     )
//!     .await?;
//! println!("commission now {}", refund.commissions[0].amount);
//!
//! // 6. What the affiliate earned.
//! let earned = client
//!     .commissions()
//!     .list(ListCommissions { affiliate_id: Some(affiliate.id.clone()), ..Default::default() })
//!     .await?;
//! println!("{} commission(s)", earned.total);
//!
//! // 7. Payouts: commissions become `approved` after the program's hold period. A payout run
//! //    groups each affiliate's approved commissions (net of clawbacks) that reach the
//! //    minimum payout; pay them with the PayPal or Wise file, then mark them paid.
//! let payouts = client.payouts().create_run(CreatePayoutRun::default()).await?;
//! let csv = client.payouts().export_csv(None, None, PayoutExportFormat::Paypal).await?;
//! std::fs::write("payouts.csv", csv)?;
//! for payout in &payouts {
//!     client.payouts().mark_paid(&payout.id, Some("PAYPAL-BATCH-1")).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! The crate's `examples/affiliate_flow.rs` runs this flow against a server
//! (`REFGROW_URL=… REFGROW_KEY=… cargo run -p refgrow-client --example affiliate_flow`).
//!
//! # Errors
//!
//! Every method returns [`Error`]:
//!
//! - [`Error::Api`]: the server answered with an error: the contract's [`ErrorCode`]
//!   ([`Error::code`]), the HTTP status ([`Error::status`]), `details.field` and
//!   `details.issue` when a field is at fault ([`Error::field`], [`Error::issue`]), and the
//!   `X-Request-Id` to quote when asking for help ([`Error::request_id`]);
//! - [`Error::Http`]: the request could not be sent or its answer not received (connection
//!   refused or reset, timeout, TLS);
//! - [`Error::Decode`]: a success body this version of the SDK does not understand;
//! - [`Error::Config`]: a misconfigured client or a value that cannot be sent.
//!
//! ```no_run
//! use refgrow_client::{Client, Error, ErrorCode};
//!
//! # async fn run(client: Client) -> Result<(), Error> {
//! match client.affiliates().get_by_code("NOPE").await {
//!     Ok(affiliate) => println!("{}", affiliate.name),
//!     Err(e) if e.code() == Some(ErrorCode::ResourceNotFound) => println!("no such code"),
//!     Err(e) if e.code() == Some(ErrorCode::InvalidRequest) => {
//!         println!("bad {:?}: {:?}", e.field(), e.issue());
//!     }
//!     Err(e) => {
//!         eprintln!("failed (request {:?}): {e}", e.request_id());
//!         return Err(e);
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Retries and idempotency
//!
//! Connection failures, timeouts, `429 rate_limit_exceeded` (honouring `Retry-After`) and 5xx
//! answers are retried following the client's [`RetryPolicy`]: exponential backoff with
//! jitter, 3 retries by default, [`RetryPolicy::none`] to disable. A 4xx is never retried.
//!
//! Every POST carries an `Idempotency-Key`, random per call and **the same across that
//! call's retries**. If the server recorded a sale but its answer was lost (a dropped
//! connection, a restart), the retry is answered with the original result: nothing is ever
//! recorded or earned twice. To make a call safe to repeat across restarts of *your*
//! process too, give your own key (an order or payment id) with `with_idempotency_key` on the
//! resource handle, or all options at once with [`RequestOptions`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use refgrow_client::{Client, RequestOptions, RetryPolicy};
//!
//! # async fn run(order: refgrow_client::api::CreateConversion) -> Result<(), refgrow_client::Error> {
//! let client = Client::builder()
//!     .base_url("https://refgrow.example.com")
//!     .api_key("rg_live_…")
//!     .timeout(Duration::from_secs(10)) // per attempt
//!     .retry(RetryPolicy { max_retries: 5, ..RetryPolicy::default() })
//!     .build()?;
//! let conversion = client
//!     .referrals()
//!     .with_options(RequestOptions {
//!         idempotency_key: Some("order-1001".into()),
//!         request_id: Some("checkout-7f3a".into()), // in the server's log
//!         timeout: None,
//!     })
//!     .convert(order)
//!     .await?;
//! # let _ = conversion; Ok(()) }
//! ```
//!
//! The same key with a *different* body is refused with `conflict`. Turn on `debug` logging
//! of the `log` crate to see each retry.
//!
//! # Pagination
//!
//! `list` returns one page with `total`, `limit` (default 20, at most 100) and `offset`;
//! the filters are the shared parameter structs ([`ListAffiliates`], [`ListCommissions`],
//! [`ListConversions`], [`ListInvitations`], [`ListAuditLog`], …), where every field is
//! optional. `list_all` returns a [`Stream`](futures_util::Stream) over every item, fetching
//! pages of 100 as it goes; it ends after the first error, which it yields.
//!
//! ```no_run
//! use futures_util::{StreamExt, TryStreamExt};
//! use refgrow_client::api::AffiliateStatus;
//! use refgrow_client::ListAffiliates;
//!
//! # async fn run(client: refgrow_client::Client) -> Result<(), refgrow_client::Error> {
//! let active = ListAffiliates { status: Some(AffiliateStatus::Active), ..Default::default() };
//! let mut stream = std::pin::pin!(client.affiliates().list_all(active.clone()));
//! while let Some(affiliate) = stream.next().await {
//!     let affiliate = affiliate?;
//!     println!("{} {}", affiliate.referral_code, affiliate.total_earnings);
//! }
//! // Or all at once:
//! let all: Vec<_> = client.affiliates().list_all(active).try_collect().await?;
//! # let _ = all; Ok(()) }
//! ```
//!
//! Pages are read by offset: items created while a stream runs can shift between pages.
//!
//! # Webhooks
//!
//! Register an endpoint with [`Client::webhook_endpoints`]; its `secret` (`whsec_…`) is in
//! the answer, shown once. In the receiver, call [`verify_webhook`] with that secret, the
//! request's headers and the **raw** body before trusting anything in it; answer `400` when it
//! fails, and `2xx` quickly otherwise. Deliveries are at least once: deduplicate on the
//! verified `id` (the `webhook-id` header). See the example on [`verify_webhook`] and the
//! crate's `examples/webhook_receiver.rs`.
//!
//! # API keys and the audit log
//!
//! [`Client::api_keys`] creates (the secret is shown once), lists and revokes the program's
//! keys; rotate by creating a new key, deploying it, then revoking the old one, whose next
//! call fails with [`ErrorCode::AuthenticationError`]. A key with only the `read` scope gets
//! [`ErrorCode::PermissionDenied`] on writes. [`Client::audit_log`] lists every call that
//! changed something, with the key that made it.
//!
//! # Features
//!
//! - `blocking`: `blocking::Client`, a synchronous facade for programs without an async
//!   runtime. It owns a small Tokio runtime; do not use it from inside an async one.
//!
//! ```no_run
//! // With `refgrow-client = { version = "0.1", features = ["blocking"] }`:
//! # #[cfg(feature = "blocking")]
//! # fn run() -> Result<(), refgrow_client::Error> {
//! let client = refgrow_client::blocking::Client::new(
//!     refgrow_client::Client::new("https://refgrow.example.com", "rg_live_…")?,
//! )?;
//! let program = client.program()?;
//! let page = client.run(|c| async move { c.affiliates().list(Default::default()).await })?;
//! println!("{}: {} affiliates", program.name, page.total);
//! # Ok(()) }
//! ```
//!
//! TLS is `rustls` (no OpenSSL needed); HTTP/2 is used when the server offers it.

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
pub use resources::{ApiKeysApi, AuditLogApi, ListAuditLog};
pub use resources::{EventsApi, ListDeliveries, ListEvents, WebhookEndpointsApi};
pub use resources::{InvitationsApi, ListInvitations};
pub use resources::{ListPayouts, PayoutsApi, ReportsApi, StatsApi, StatsRange};
pub use retry::RetryPolicy;

/// The shared wire types (`refgrow-types`), for everything not re-exported at the top.
pub use refgrow_types as types;
/// Request and response bodies of every endpoint.
pub use refgrow_types::api;
pub use refgrow_types::commission::CommissionRule;
pub use refgrow_types::{
    AffiliateId, Amount, ClickId, CommissionId, ConversionId, Currency, CustomerId, ErrorCode,
    ProgramId,
};
pub use refgrow_types::{EventId, InvitationId, KeyId, PayoutId, WebhookEndpointId};
