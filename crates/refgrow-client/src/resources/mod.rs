//! Resource handles: one per group of endpoints, borrowed from a [`Client`](crate::Client).
//!
//! Every handle carries [`RequestOptions`](crate::RequestOptions) that apply to each call made
//! through it; set them with `with_idempotency_key`, `with_request_id` or `with_options`:
//!
//! ```no_run
//! # async fn run(client: refgrow_client::Client, order: refgrow_client::api::CreateConversion)
//! # -> Result<(), refgrow_client::Error> {
//! // Safe to repeat after a crash: the server answers a replay with the original conversion.
//! let conversion = client
//!     .referrals()
//!     .with_idempotency_key("order-1042")
//!     .convert(order)
//!     .await?;
//! # let _ = conversion; Ok(()) }
//! ```

macro_rules! resource_handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name<'a> {
            pub(crate) client: &'a crate::Client,
            pub(crate) opts: crate::RequestOptions,
        }

        impl<'a> $name<'a> {
            pub(crate) fn new(client: &'a crate::Client) -> Self {
                $name {
                    client,
                    opts: crate::RequestOptions::default(),
                }
            }

            /// Uses these options for every call made through this handle.
            pub fn with_options(mut self, opts: crate::RequestOptions) -> Self {
                self.opts = opts;
                self
            }

            /// Sends this `Idempotency-Key` on POSTs made through this handle instead of a
            /// random one. Use one handle per logical operation: the same key with a different
            /// body is a `conflict`.
            pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
                self.opts.idempotency_key = Some(key.into());
                self
            }

            /// Sends this `X-Request-Id`, which the server logs and echoes back.
            pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
                self.opts.request_id = Some(request_id.into());
                self
            }

            /// Overrides the client's timeout for each attempt of calls made through this
            /// handle.
            pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
                self.opts.timeout = Some(timeout);
                self
            }
        }

        // Not every handle sends a body or a query.
        #[allow(dead_code)]
        impl $name<'_> {
            /// Sends `method /v1/path…` with this handle's options and decodes `data`.
            async fn call<T: serde::de::DeserializeOwned>(
                &self,
                method: reqwest::Method,
                path: &[&str],
            ) -> Result<T, crate::Error> {
                self.client
                    .send(crate::client::Call::new(method, path, &self.opts))
                    .await
            }

            /// [`Self::call`] with a JSON body.
            async fn call_json<T: serde::de::DeserializeOwned, B: serde::Serialize + ?Sized>(
                &self,
                method: reqwest::Method,
                path: &[&str],
                body: &B,
            ) -> Result<T, crate::Error> {
                self.client
                    .send(crate::client::Call::new(method, path, &self.opts).json(body)?)
                    .await
            }

            /// [`Self::call`] with query parameters.
            async fn call_query<T: serde::de::DeserializeOwned>(
                &self,
                method: reqwest::Method,
                path: &[&str],
                query: Vec<(&'static str, String)>,
            ) -> Result<T, crate::Error> {
                self.client
                    .send(crate::client::Call::new(method, path, &self.opts).query(query))
                    .await
            }
        }
    };
}

/// The `list` (one page) and `list_all` (every item, page after page) of a handle, for the
/// list `GET /v1/<segments>` with the filters `Params` answering `List` of `Item`s:
/// `paged_list!(GET ["affiliates"], ListAffiliates => AffiliateList of Affiliate);`. Doc
/// comments written before `GET` are added to `list_all`'s.
macro_rules! paged_list {
    (
        $(#[$doc:meta])*
        GET [$($segment:literal),+], $params:ident => $list:ident of $item:ident
    ) => {
        #[doc = concat!("`GET /v1", $("/", $segment),+, "`: one page, with `total`, `limit` and `offset`.")]
        pub async fn list(&self, params: $params) -> Result<$list, crate::Error> {
            let query = crate::pagination::Paged::query(&params)?;
            self.call_query(reqwest::Method::GET, &[$($segment),+], query)
                .await
        }

        /// Every item matching the filters, page after page (`limit` defaults to 100 here),
        /// from `params.offset` on. The stream ends after the first error, which it yields.
        ///
        /// Pages are read by offset: items created while the stream runs may shift items
        /// between pages, so an item can be seen twice or not at all.
        ///
        $(#[$doc])*
        pub fn list_all(
            &self,
            params: $params,
        ) -> impl futures_util::Stream<Item = Result<$item, crate::Error>> + Send + 'static {
            crate::pagination::list_all::<_, $list>(
                self.client,
                &self.opts,
                &[$($segment),+],
                params,
            )
        }
    };
}

mod affiliates;
mod commissions;
mod embed;
mod events;
mod invitations;
mod keys;
mod params;
mod payouts;
mod program;
mod stats;
mod tracking;
mod webhooks;

pub use affiliates::{AffiliatesApi, ListAffiliates};
pub use commissions::{CommissionsApi, ListCommissions};
pub use embed::EmbedTokensApi;
pub use events::{EventsApi, ListEvents};
pub use invitations::{InvitationsApi, ListInvitations};
pub use keys::{ApiKeysApi, AuditLogApi, ListAuditLog};
pub use payouts::{ListPayouts, PayoutsApi};
pub use program::ProgramApi;
pub use stats::{ReportsApi, StatsApi, StatsRange};
pub use tracking::{ConversionsApi, CustomersApi, ListConversions, ReferralsApi, TransactionsApi};
pub use webhooks::{ListDeliveries, WebhookEndpointsApi};

/// Renders a timestamp for a query parameter (RFC 3339, UTC, `Z`).
pub(crate) fn query_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
