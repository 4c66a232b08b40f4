//! The client, its builder and the one request loop every endpoint goes through.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use refgrow_types::error::{Envelope, ErrorEnvelope};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{code_for_status, is_retryable_status, is_retryable_transport, ApiFailure};
use crate::resources::{
    AffiliatesApi, CommissionsApi, ConversionsApi, CustomersApi, ProgramApi, ReferralsApi,
    TransactionsApi,
};
use crate::{Error, RetryPolicy};

/// The header carrying a POST's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The header carrying the request id, sent by the caller or assigned by the server.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The default timeout of a whole request (connect, send, receive).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default timeout of opening a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SDK's own part of the `User-Agent` header.
const SDK_USER_AGENT: &str = concat!("refgrow-rust/", env!("CARGO_PKG_VERSION"));

/// A Refgrow API client. Cheap to clone (the connection pool and settings are shared), and
/// meant to be built once and reused.
///
/// Endpoints are grouped by resource: [`Client::program`], [`Client::affiliates`],
/// [`Client::referrals`], [`Client::customers`], [`Client::transactions`],
/// [`Client::conversions`] and [`Client::commissions`].
///
/// ```no_run
/// # async fn run() -> Result<(), refgrow_client::Error> {
/// let client = refgrow_client::Client::builder()
///     .base_url("https://refgrow.example.com")
///     .api_key(std::env::var("REFGROW_API_KEY").unwrap_or_default())
///     .build()?;
/// let program = client.program().get().await?;
/// println!("{} pays in {}", program.name, program.currency);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Options of one call: an idempotency key of your own, a request id to trace the call in
/// the server's log, another timeout. Set them on a resource handle with
/// `with_options`, `with_idempotency_key` or `with_request_id`; they apply to every call made
/// through that handle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// The `Idempotency-Key` of a POST. When `None`, the client generates a random key once
    /// per call and reuses it across that call's retries. Give your own (an order id, a
    /// payment id) to make the call safe to repeat across process restarts too: a replay with
    /// the same body returns the original result, a different body is `conflict`.
    pub idempotency_key: Option<String>,
    /// Sent as `X-Request-Id`; the server logs it and echoes it back.
    pub request_id: Option<String>,
    /// Overrides the client's timeout for each attempt of the call.
    pub timeout: Option<Duration>,
}

impl RequestOptions {
    /// Options with only an idempotency key.
    pub fn idempotency_key(key: impl Into<String>) -> Self {
        RequestOptions {
            idempotency_key: Some(key.into()),
            ..RequestOptions::default()
        }
    }
}

/// Builds a [`Client`]. `base_url` and `api_key` are required.
#[derive(Default)]
pub struct ClientBuilder {
    base_url: Option<String>,
    api_key: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    user_agent: Option<String>,
    retry: Option<RetryPolicy>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientBuilder {
    /// Where the server is: scheme, host, port and an optional path prefix, without `/v1`
    /// (`https://refgrow.example.com`, `http://127.0.0.1:8080`, `https://example.com/refgrow`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The secret API key of the program, sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The timeout of one attempt (connect, send and receive). Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout of opening a connection. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Your application's name and version (`my-saas/2.1`), put in front of the SDK's own
    /// `refgrow-rust/<version>` in the `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// How failed requests are retried. Default [`RetryPolicy::default`] (3 retries).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// Fails with [`Error::Config`] when the base URL or the key is missing or unusable, and
    /// with [`Error::Http`] when the TLS backend cannot be initialised.
    pub fn build(self) -> Result<Client, Error> {
        let raw = self
            .base_url
            .ok_or_else(|| Error::Config("a base URL is required".into()))?;
        let mut base = Url::parse(raw.trim())
            .map_err(|e| Error::Config(format!("invalid base URL {raw:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "the base URL must be an http or https URL, not {raw:?}"
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(Error::Config(
                "the base URL must not have a query or a fragment".into(),
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }

        let key = self
            .api_key
            .ok_or_else(|| Error::Config("an API key is required".into()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(Error::Config("the API key is empty".into()));
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            Error::Config("the API key contains characters not allowed in a header".into())
        })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);

        let user_agent = match self.user_agent {
            Some(ua) if !ua.trim().is_empty() => format!("{} {SDK_USER_AGENT}", ua.trim()),
            _ => SDK_USER_AGENT.to_string(),
        };
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(user_agent)
            .timeout(self.timeout.unwrap_or(DEFAULT_TIMEOUT))
            .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                retry: self.retry.unwrap_or_default(),
            }),
        })
    }
}

/// One call, prepared: what to send, however many times it takes.
pub(crate) struct Call<'a> {
    method: Method,
    path: &'a [&'a str],
    query: Option<Vec<(&'static str, String)>>,
    body: Option<Vec<u8>>,
    opts: &'a RequestOptions,
}

impl<'a> Call<'a> {
    /// A call of `method` on `/v1/<path segments>` (each segment is percent-encoded).
    pub(crate) fn new(method: Method, path: &'a [&'a str], opts: &'a RequestOptions) -> Self {
        Call {
            method,
            path,
            query: None,
            body: None,
            opts,
        }
    }

    /// Adds query parameters (already rendered; `None` values are left out by the caller).
    pub(crate) fn query(mut self, pairs: Vec<(&'static str, String)>) -> Self {
        if !pairs.is_empty() {
            self.query = Some(pairs);
        }
        self
    }

    /// Adds a JSON body.
    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Config(format!("the request body cannot be encoded: {e}")))?;
        self.body = Some(bytes);
        Ok(self)
    }
}

impl Client {
    /// A builder; `base_url` and `api_key` are required.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with the default settings.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Result<Client, Error> {
        Client::builder()
            .base_url(base_url)
            .api_key(api_key)
            .build()
    }

    /// The base URL requests go to (ends with `/`).
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }

    /// `/v1/program`: the program the key belongs to.
    pub fn program(&self) -> ProgramApi<'_> {
        ProgramApi::new(self)
    }

    /// `/v1/affiliates`: the people who refer customers.
    pub fn affiliates(&self) -> AffiliatesApi<'_> {
        AffiliatesApi::new(self)
    }

    /// `/v1/embed-tokens`: tokens for the embedded referral dashboard.
    pub fn embed_tokens(&self) -> crate::resources::EmbedTokensApi<'_> {
        crate::resources::EmbedTokensApi::new(self)
    }

    /// `/v1/affiliates/invitations` and `/v1/invitations`: inviting affiliates by email.
    pub fn invitations(&self) -> crate::resources::InvitationsApi<'_> {
        crate::resources::InvitationsApi::new(self)
    }

    /// `/v1/referrals`: clicks and conversions.
    pub fn referrals(&self) -> ReferralsApi<'_> {
        ReferralsApi::new(self)
    }

    /// `/v1/customers`: signups bound to their affiliates.
    pub fn customers(&self) -> CustomersApi<'_> {
        CustomersApi::new(self)
    }

    /// `/v1/transactions`: payments of known customers.
    pub fn transactions(&self) -> TransactionsApi<'_> {
        TransactionsApi::new(self)
    }

    /// `/v1/conversions`: refunds of recorded sales.
    pub fn conversions(&self) -> ConversionsApi<'_> {
        ConversionsApi::new(self)
    }

    /// `/v1/commissions`: what affiliates earn.
    pub fn commissions(&self) -> CommissionsApi<'_> {
        CommissionsApi::new(self)
    }

    /// `/v1/payouts`: payout runs, marking payouts paid and the PayPal/Wise files.
    pub fn payouts(&self) -> crate::resources::PayoutsApi<'_> {
        crate::resources::PayoutsApi::new(self)
    }

    /// `/v1/affiliates/{id}/stats`: one affiliate's statistics.
    pub fn stats(&self) -> crate::resources::StatsApi<'_> {
        crate::resources::StatsApi::new(self)
    }

    /// `/v1/reports`: the program's summary report.
    pub fn reports(&self) -> crate::resources::ReportsApi<'_> {
        crate::resources::ReportsApi::new(self)
    }

    /// `/v1/webhook-endpoints`: where events are delivered, and their deliveries.
    pub fn webhook_endpoints(&self) -> crate::resources::WebhookEndpointsApi<'_> {
        crate::resources::WebhookEndpointsApi::new(self)
    }

    /// `/v1/events`: the event log.
    pub fn events(&self) -> crate::resources::EventsApi<'_> {
        crate::resources::EventsApi::new(self)
    }

    /// `/v1/api-keys`: create, list and revoke the program's API keys.
    pub fn api_keys(&self) -> crate::resources::ApiKeysApi<'_> {
        crate::resources::ApiKeysApi::new(self)
    }

    /// `/v1/audit-log`: every call that changed something, with the key that made it.
    pub fn audit_log(&self) -> crate::resources::AuditLogApi<'_> {
        crate::resources::AuditLogApi::new(self)
    }

    fn url(&self, path: &[&str]) -> Result<Url, Error> {
        let mut url = self.inner.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| Error::Config("the base URL cannot take a path".into()))?;
            segments.pop_if_empty().push("v1");
            for s in path {
                if s.is_empty() {
                    return Err(Error::Config("an id or key in the path is empty".into()));
                }
                segments.push(s);
            }
        }
        Ok(url)
    }

    /// Sends a call, retrying per the policy, and decodes `data` of the success envelope.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, Error> {
        let url = self.url(call.path)?;
        let idempotency_key = if call.method == Method::POST {
            Some(
                call.opts
                    .idempotency_key
                    .clone()
                    .unwrap_or_else(new_idempotency_key),
            )
        } else {
            None
        };
        let mut template = self.inner.http.request(call.method.clone(), url);
        if let Some(q) = &call.query {
            template = template.query(q);
        }
        if let Some(key) = &idempotency_key {
            template = template.header(HeaderName::from_static(IDEMPOTENCY_KEY_HEADER), key);
        }
        if let Some(rid) = &call.opts.request_id {
            template = template.header(HeaderName::from_static(REQUEST_ID_HEADER), rid);
        }
        if let Some(t) = call.opts.timeout {
            template = template.timeout(t);
        }
        if let Some(body) = call.body {
            template = template
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }

        let policy = self.inner.retry;
        let mut retry = 0u32;
        loop {
            let attempt = template
                .try_clone()
                .ok_or_else(|| Error::Config("the request cannot be repeated".into()))?;
            let (error, retry_after) = match attempt.send().await {
                Ok(res) => match read_response::<T>(res).await {
                    Ok(data) => return Ok(data),
                    Err(Outcome::Api(f)) => {
                        let retryable = f.error.is_retryable();
                        if !retryable {
                            return Err(f.error);
                        }
                        (f.error, f.retry_after)
                    }
                    Err(Outcome::Fatal(e)) => return Err(e),
                    Err(Outcome::Transport(e)) => (Error::Http(e), None),
                },
                Err(e) if is_retryable_transport(&e) => (Error::Http(e), None),
                Err(e) => return Err(Error::Http(e)),
            };
            if retry >= policy.max_retries {
                return Err(error);
            }
            let Some(wait) = policy.delay(retry, retry_after) else {
                return Err(error);
            };
            log_retry(&call.method, call.path, &error, wait);
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }
}

impl Client {
    /// Sends a GET whose success body is not JSON (a CSV file), retrying per the policy like
    /// [`Client::send`], and returns the body as text. Error answers decode as in `send`.
    pub(crate) async fn send_text(&self, call: Call<'_>) -> Result<String, Error> {
        let url = self.url(call.path)?;
        let mut template = self.inner.http.request(call.method.clone(), url);
        if let Some(q) = &call.query {
            template = template.query(q);
        }
        if let Some(rid) = &call.opts.request_id {
            template = template.header(HeaderName::from_static(REQUEST_ID_HEADER), rid);
        }
        if let Some(t) = call.opts.timeout {
            template = template.timeout(t);
        }
        let policy = self.inner.retry;
        let mut retry = 0u32;
        loop {
            let attempt = template
                .try_clone()
                .ok_or_else(|| Error::Config("the request cannot be repeated".into()))?;
            let (error, retry_after) = match attempt.send().await {
                Ok(res) if res.status().is_success() => match res.text().await {
                    Ok(text) => return Ok(text),
                    Err(e) => (Error::Http(e), None),
                },
                Ok(res) => match read_response::<serde_json::Value>(res).await {
                    Ok(_) => return Err(Error::Config("an error status decoded as data".into())),
                    Err(Outcome::Api(f)) if !f.error.is_retryable() => return Err(f.error),
                    Err(Outcome::Api(f)) => (f.error, f.retry_after),
                    Err(Outcome::Fatal(e)) => return Err(e),
                    Err(Outcome::Transport(e)) => (Error::Http(e), None),
                },
                Err(e) if is_retryable_transport(&e) => (Error::Http(e), None),
                Err(e) => return Err(Error::Http(e)),
            };
            if retry >= policy.max_retries {
                return Err(error);
            }
            let Some(wait) = policy.delay(retry, retry_after) else {
                return Err(error);
            };
            log_retry(&call.method, call.path, &error, wait);
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }
}

fn log_retry(method: &Method, path: &[&str], error: &Error, wait: Duration) {
    log::debug!(
        "refgrow: {method} /v1/{} failed ({error}); retrying in {} ms",
        path.join("/"),
        wait.as_millis()
    );
}

/// A fresh random idempotency key: `idem_` and 32 letters and digits.
pub(crate) fn new_idempotency_key() -> String {
    format!("idem_{}", Alphanumeric.sample_string(&mut rand::rng(), 32))
}

/// Why one attempt did not produce data.
enum Outcome {
    /// An error answer (maybe retryable).
    Api(ApiFailure),
    /// The body could not be read (retryable like a connection error).
    Transport(reqwest::Error),
    /// A success that cannot be decoded: never retried.
    Fatal(Error),
}

const MAX_BODY_SNIPPET: usize = 1000;

fn snippet(bytes: &[u8]) -> String {
    let end = bytes.len().min(MAX_BODY_SNIPPET);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

async fn read_response<T: DeserializeOwned>(res: reqwest::Response) -> Result<T, Outcome> {
    let status = res.status().as_u16();
    let request_id = res
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let retry_after = retry_after(res.headers());
    let bytes = res.bytes().await.map_err(Outcome::Transport)?;

    if (200..300).contains(&status) {
        return match serde_json::from_slice::<Envelope<T>>(&bytes) {
            Ok(env) => Ok(env.data),
            Err(source) => Err(Outcome::Fatal(Error::Decode {
                status,
                request_id,
                source,
                body: snippet(&bytes),
            })),
        };
    }

    let error = match serde_json::from_slice::<ErrorEnvelope>(&bytes) {
        Ok(env) => Error::Api {
            status,
            code: env.error.code,
            message: env.error.message,
            details: env.error.details,
            request_id,
        },
        Err(_) => {
            let text = snippet(&bytes);
            let text = text.trim();
            let reason = reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error");
            Error::Api {
                status,
                code: code_for_status(status),
                message: if text.is_empty() {
                    format!("HTTP {status} {reason}")
                } else {
                    format!("HTTP {status} {reason}: {text}")
                },
                details: None,
                request_id,
            }
        }
    };
    debug_assert!(!(200..300).contains(&status));
    let retry_after = if is_retryable_status(status) {
        retry_after
    } else {
        None
    };
    Err(Outcome::Api(ApiFailure { error, retry_after }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_requires_url_and_key() {
        let e = Client::builder().api_key("k").build().err();
        assert!(matches!(e, Some(Error::Config(_))));
        let e = Client::builder().base_url("http://x").build().err();
        assert!(matches!(e, Some(Error::Config(_))));
        let e = Client::builder()
            .base_url("ftp://x")
            .api_key("k")
            .build()
            .err();
        assert!(matches!(e, Some(Error::Config(_))));
        let e = Client::builder()
            .base_url("http://x")
            .api_key("bad\nkey")
            .build()
            .err();
        assert!(matches!(e, Some(Error::Config(_))));
    }

    #[test]
    fn urls_keep_a_prefix_and_encode_segments() -> Result<(), Error> {
        let c = Client::new("http://h:1/refgrow", "k")?;
        assert_eq!(c.base_url(), "http://h:1/refgrow/");
        let u = c.url(&["customers", "user 1/2?x"])?;
        assert_eq!(
            u.as_str(),
            "http://h:1/refgrow/v1/customers/user%201%2F2%3Fx"
        );
        let c = Client::new("http://h:1/", "k")?;
        assert_eq!(c.url(&["program"])?.as_str(), "http://h:1/v1/program");
        assert!(c.url(&["customers", ""]).is_err());
        Ok(())
    }

    #[test]
    fn debug_hides_the_key() {
        let b = Client::builder().base_url("http://x").api_key("sk_secret");
        assert!(!format!("{b:?}").contains("sk_secret"));
    }

    #[test]
    fn idempotency_keys_are_random() {
        let a = new_idempotency_key();
        assert!(a.starts_with("idem_") && a.len() == 37);
        assert_ne!(a, new_idempotency_key());
    }
}
