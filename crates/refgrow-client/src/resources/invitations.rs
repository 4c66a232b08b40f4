//! `/v1/affiliates/invitations` and `/v1/invitations/{token}/accept`.

use refgrow_types::api::{
    AcceptInvitation, Affiliate, AffiliateResponse, CreateInvitations, Invitation, InvitationBatch,
    InvitationList, InvitationResponse,
};
use refgrow_types::InvitationId;
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// Affiliate invitations: invite by email in batches, list, cancel, and accept with the
    /// invitation's token. Get one with [`Client::invitations`](crate::Client::invitations).
    InvitationsApi
);

/// Filters and paging of `GET /v1/affiliates/invitations`, shared with the server.
pub use refgrow_types::api::ListInvitations;

impl InvitationsApi<'_> {
    /// `POST /v1/affiliates/invitations`: invites 1 to 25 addresses. Each new invitation
    /// carries its `token` and `acceptUrl`, shown this once; addresses that got none are in
    /// `skipped` with the reason. More than 25 (or none) is `invalid_request`.
    ///
    /// A repeated call invites nobody twice: addresses with a pending invitation are skipped.
    pub async fn create(&self, request: CreateInvitations) -> Result<InvitationBatch, Error> {
        self.call_json(Method::POST, &["affiliates", "invitations"], &request)
            .await
    }

    paged_list!(
        /// Newest first.
        GET ["affiliates", "invitations"], ListInvitations => InvitationList of Invitation
    );

    /// `GET /v1/affiliates/invitations/{id}`.
    pub async fn get(&self, id: &InvitationId) -> Result<Invitation, Error> {
        let r: InvitationResponse = self
            .call(Method::GET, &["affiliates", "invitations", id.as_str()])
            .await?;
        Ok(r.invitation)
    }

    /// `DELETE /v1/affiliates/invitations/{id}`: cancels a pending invitation. One that was
    /// accepted, cancelled or has expired is `conflict`.
    pub async fn cancel(&self, id: &InvitationId) -> Result<Invitation, Error> {
        let r: InvitationResponse = self
            .call(Method::DELETE, &["affiliates", "invitations", id.as_str()])
            .await?;
        Ok(r.invitation)
    }

    /// `POST /v1/invitations/{token}/accept`: the invitee joins and becomes an affiliate with
    /// `source: invitation` (`pending` when the program does not auto-approve). The server
    /// checks the token alone, not the client's API key. An expired, cancelled or already
    /// used invitation is `conflict`; an unknown token is `resource_not_found`.
    pub async fn accept(&self, token: &str, details: AcceptInvitation) -> Result<Affiliate, Error> {
        let r: AffiliateResponse = self
            .call_json(Method::POST, &["invitations", token, "accept"], &details)
            .await?;
        Ok(r.affiliate)
    }
}
