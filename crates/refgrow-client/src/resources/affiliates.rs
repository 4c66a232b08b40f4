//! `/v1/affiliates`.

use refgrow_types::api::{
    Affiliate, AffiliateList, AffiliateResponse, CreateAffiliate, UpdateAffiliate,
};
use refgrow_types::AffiliateId;
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// `/v1/affiliates`: enrol, list, fetch and change affiliates. Get one with
    /// [`Client::affiliates`](crate::Client::affiliates).
    AffiliatesApi
);

/// Filters and paging of `GET /v1/affiliates`, shared with the server.
///
/// ```
/// use refgrow_client::ListAffiliates;
/// use refgrow_client::api::AffiliateStatus;
///
/// let active = ListAffiliates { status: Some(AffiliateStatus::Active), limit: Some(100), ..Default::default() };
/// # let _ = active;
/// ```
pub use refgrow_types::api::ListAffiliates;

impl AffiliatesApi<'_> {
    /// `POST /v1/affiliates`: enrols an affiliate. A referral code is generated from the name
    /// when none is given. A duplicate email or code is `conflict` naming the field.
    pub async fn create(&self, affiliate: CreateAffiliate) -> Result<Affiliate, Error> {
        let r: AffiliateResponse = self
            .call_json(Method::POST, &["affiliates"], &affiliate)
            .await?;
        Ok(r.affiliate)
    }

    paged_list!(
        /// ```no_run
        /// use futures_util::TryStreamExt;
        /// # async fn run(client: refgrow_client::Client) -> Result<(), refgrow_client::Error> {
        /// let all: Vec<_> = client.affiliates().list_all(Default::default()).try_collect().await?;
        /// println!("{} affiliates", all.len());
        /// # Ok(()) }
        /// ```
        GET ["affiliates"], ListAffiliates => AffiliateList of Affiliate
    );

    /// `GET /v1/affiliates/{id}`. Another program's affiliate is `resource_not_found`.
    pub async fn get(&self, id: &AffiliateId) -> Result<Affiliate, Error> {
        let r: AffiliateResponse = self.call(Method::GET, &["affiliates", id.as_str()]).await?;
        Ok(r.affiliate)
    }

    /// `GET /v1/affiliates/by-code/{referralCode}` (codes compare case-insensitively).
    pub async fn get_by_code(&self, referral_code: &str) -> Result<Affiliate, Error> {
        let r: AffiliateResponse = self
            .call(Method::GET, &["affiliates", "by-code", referral_code])
            .await?;
        Ok(r.affiliate)
    }

    /// `PATCH /v1/affiliates/{id}`: changes the fields that are set; suspending needs a
    /// `suspendedReason`. Returns the affiliate after the change.
    pub async fn update(
        &self,
        id: &AffiliateId,
        changes: UpdateAffiliate,
    ) -> Result<Affiliate, Error> {
        let r: AffiliateResponse = self
            .call_json(Method::PATCH, &["affiliates", id.as_str()], &changes)
            .await?;
        Ok(r.affiliate)
    }
}
