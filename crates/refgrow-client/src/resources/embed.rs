//! `/v1/embed-tokens`: tokens that open one affiliate's embedded referral dashboard.

use refgrow_types::api::{CreateEmbedToken, EmbedToken};
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// Embedded dashboard tokens. Get one with [`Client::embed_tokens`](crate::Client::embed_tokens).
    EmbedTokensApi
);

impl EmbedTokensApi<'_> {
    /// `POST /v1/embed-tokens`: a short-lived token (and the dashboard `url` to put in an
    /// iframe) for one affiliate: give `affiliateId`, or `email` (with `name` and `tenantId`
    /// optional) to find the affiliate or enrol one. A retry with the same `tenantId` finds
    /// the same affiliate.
    pub async fn create(&self, request: CreateEmbedToken) -> Result<EmbedToken, Error> {
        self.call_json(Method::POST, &["embed-tokens"], &request)
            .await
    }
}
