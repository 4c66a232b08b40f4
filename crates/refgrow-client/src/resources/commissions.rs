//! `/v1/commissions`.

use futures_util::Stream;
use refgrow_types::api::{
    Commission, CommissionList, CommissionResponse, CreateCommission, ReversalResult,
    UpdateCommissionStatus,
};
use refgrow_types::CommissionId;
use reqwest::Method;

use super::params::to_query;
use crate::client::Call;
use crate::pagination::{paginate, Page};
use crate::Error;

resource_handle!(
    /// `/v1/commissions`: what affiliates earn, and its status. Get one with
    /// [`Client::commissions`](crate::Client::commissions).
    CommissionsApi
);

/// Filters and paging of `GET /v1/commissions`, shared with the server.
pub use refgrow_types::api::ListCommissions;

impl CommissionsApi<'_> {
    /// `GET /v1/commissions`: one page, with `total`, `limit` and `offset`.
    pub async fn list(&self, params: ListCommissions) -> Result<CommissionList, Error> {
        self.client
            .send(Call::new(Method::GET, &["commissions"], &self.opts).query(to_query(&params)?))
            .await
    }

    /// Every commission matching the filters, page after page (`limit` defaults to 100
    /// here). The stream ends after the first error, which it yields.
    pub fn list_all(
        &self,
        params: ListCommissions,
    ) -> impl Stream<Item = Result<Commission, Error>> + Send + 'static {
        let client = self.client.clone();
        let opts = self.opts.clone();
        let start = params.offset.unwrap_or(0);
        let base = ListCommissions {
            limit: Some(params.limit.unwrap_or(100)),
            ..params
        };
        paginate(start, move |offset| {
            let client = client.clone();
            let opts = opts.clone();
            let params = ListCommissions {
                offset: Some(offset),
                ..base.clone()
            };
            async move {
                let page = client.commissions().with_options(opts).list(params).await?;
                Ok(Page {
                    items: page.commissions,
                    total: page.total,
                })
            }
        })
    }

    /// `GET /v1/commissions/{id}`.
    pub async fn get(&self, id: &CommissionId) -> Result<Commission, Error> {
        let r: CommissionResponse = self
            .client
            .send(Call::new(
                Method::GET,
                &["commissions", id.as_str()],
                &self.opts,
            ))
            .await?;
        Ok(r.commission)
    }

    /// `POST /v1/commissions`: a manual commission in the program currency, idempotent by
    /// `orderId` and by the `Idempotency-Key`.
    pub async fn create(&self, commission: CreateCommission) -> Result<Commission, Error> {
        let r: CommissionResponse = self
            .client
            .send(Call::new(Method::POST, &["commissions"], &self.opts).json(&commission)?)
            .await?;
        Ok(r.commission)
    }

    /// `PUT /v1/commissions/{id}/status`: `pending → approved | rejected`,
    /// `approved → paid | rejected`; any other move is `conflict`.
    pub async fn set_status(
        &self,
        id: &CommissionId,
        change: UpdateCommissionStatus,
    ) -> Result<Commission, Error> {
        let r: CommissionResponse = self
            .client
            .send(
                Call::new(
                    Method::PUT,
                    &["commissions", id.as_str(), "status"],
                    &self.opts,
                )
                .json(&change)?,
            )
            .await?;
        Ok(r.commission)
    }

    /// `DELETE /v1/commissions/{id}`: reverses a commission; a paid one leaves a clawback
    /// (`adjustment`) for the affiliate's next payout.
    pub async fn reverse(&self, id: &CommissionId) -> Result<ReversalResult, Error> {
        self.reverse_inner(id, None).await
    }

    /// [`CommissionsApi::reverse`] with a reason, kept on the commission.
    pub async fn reverse_with_reason(
        &self,
        id: &CommissionId,
        reason: &str,
    ) -> Result<ReversalResult, Error> {
        self.reverse_inner(id, Some(reason)).await
    }

    async fn reverse_inner(
        &self,
        id: &CommissionId,
        reason: Option<&str>,
    ) -> Result<ReversalResult, Error> {
        let query = reason
            .map(|r| vec![("reason", r.to_string())])
            .unwrap_or_default();
        self.client
            .send(Call::new(Method::DELETE, &["commissions", id.as_str()], &self.opts).query(query))
            .await
    }
}
