//! `POST /v1/embed-tokens`: a short-lived token that opens one affiliate's embedded referral
//! dashboard (`/embed/referrals?token=…`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::Email;
use crate::ids::AffiliateId;

/// `POST /v1/embed-tokens`: exactly one of `affiliateId` or `email` (with `name` and
/// `tenantId` optional). With `email`, the affiliate is found by `tenantId`, then by email,
/// or enrolled (`source: api`); a retry with the same `tenantId` finds the same affiliate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEmbedToken {
    /// An affiliate of the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<AffiliateId>,
    /// The affiliate's email: found, or enrolled when new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The name of an affiliate enrolled now (default: the part of the email before `@`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The SaaS's own id of the user (1..=200 characters), unique per program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// A dashboard token. Shown once; the server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EmbedToken {
    /// `rgemb_…`: opens the dashboard of one affiliate until `expiresAt`.
    pub token: String,
    /// The dashboard URL to put in an iframe (`{public_url}/embed/referrals?token=…`).
    pub url: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The affiliate the token opens.
    pub affiliate_id: AffiliateId,
}
