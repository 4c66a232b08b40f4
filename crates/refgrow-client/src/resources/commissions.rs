//! `/v1/commissions`.

use refgrow_types::api::{
    Commission, CommissionList, CommissionResponse, CreateCommission, ReversalResult,
    UpdateCommissionStatus,
};
use refgrow_types::CommissionId;
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// `/v1/commissions`: what affiliates earn, and its status. Get one with
    /// [`Client::commissions`](crate::Client::commissions).
    CommissionsApi
);

/// Filters and paging of `GET /v1/commissions`, shared with the server.
pub use refgrow_types::api::ListCommissions;

impl CommissionsApi<'_> {
    paged_list!(
        GET ["commissions"], ListCommissions => CommissionList of Commission
    );

    /// `GET /v1/commissions/{id}`.
    pub async fn get(&self, id: &CommissionId) -> Result<Commission, Error> {
        let r: CommissionResponse = self
            .call(Method::GET, &["commissions", id.as_str()])
            .await?;
        Ok(r.commission)
    }

    /// `POST /v1/commissions`: a manual commission in the program currency, idempotent by
    /// `orderId` and by the `Idempotency-Key`.
    pub async fn create(&self, commission: CreateCommission) -> Result<Commission, Error> {
        let r: CommissionResponse = self
            .call_json(Method::POST, &["commissions"], &commission)
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
            .call_json(
                Method::PUT,
                &["commissions", id.as_str(), "status"],
                &change,
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
        self.call_query(Method::DELETE, &["commissions", id.as_str()], query)
            .await
    }
}
