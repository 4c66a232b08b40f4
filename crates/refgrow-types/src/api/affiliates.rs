//! Affiliates: the people who refer customers, their links and their counters.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{double_option, Email, ReferralCode};
use crate::ids::AffiliateId;
use crate::money::{Amount, Currency};

/// An affiliate's standing. Only `active` affiliates earn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AffiliateStatus {
    /// Awaiting approval (programs with `autoApproveAffiliates: false`).
    Pending,
    /// Earning.
    Active,
    /// Paused, with a reason; earns nothing meanwhile.
    Suspended,
    /// Shut out; earns nothing.
    Blocked,
}

impl AffiliateStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AffiliateStatus::Pending => "pending",
            AffiliateStatus::Active => "active",
            AffiliateStatus::Suspended => "suspended",
            AffiliateStatus::Blocked => "blocked",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => AffiliateStatus::Pending,
            "active" => AffiliateStatus::Active,
            "suspended" => AffiliateStatus::Suspended,
            "blocked" => AffiliateStatus::Blocked,
            _ => return None,
        })
    }
}

/// How an affiliate joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AffiliateSource {
    /// Created through `POST /v1/affiliates`.
    Api,
    /// Accepted an invitation.
    Invitation,
    /// Created from a Stripe event.
    Stripe,
}

impl AffiliateSource {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AffiliateSource::Api => "api",
            AffiliateSource::Invitation => "invitation",
            AffiliateSource::Stripe => "stripe",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "api" => AffiliateSource::Api,
            "invitation" => AffiliateSource::Invitation,
            "stripe" => AffiliateSource::Stripe,
            _ => return None,
        })
    }
}

/// An affiliate as the API shows it. Earnings are in the program currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Affiliate {
    /// `aff_…`.
    pub id: AffiliateId,
    /// Unique within the program, lower-case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Standing.
    pub status: AffiliateStatus,
    /// How the affiliate joined.
    pub source: AffiliateSource,
    /// The code in the referral link, unique within the program.
    pub referral_code: String,
    /// `REFGROW_PUBLIC_URL/r/{referralCode}`.
    pub referral_link: String,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When suspended, while suspended.
    pub suspended_at: Option<DateTime<Utc>>,
    /// Why suspended, while suspended.
    pub suspended_reason: Option<String>,
    /// The affiliate who recruited this one (earns the second tier).
    pub parent_affiliate_id: Option<AffiliateId>,
    /// Free-form data of the caller's.
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// How the affiliate is paid (`paypal`, `wise`, ...).
    pub payment_method: Option<String>,
    /// Where the affiliate is paid (an email or account reference).
    pub payment_details: Option<String>,
    /// Clicks on the affiliate's links.
    pub click_count: i64,
    /// Customers bound to the affiliate.
    pub signup_count: i64,
    /// Sales that earned a commission.
    pub conversion_count: i64,
    /// `conversionCount / clickCount`, four decimals; 0 without clicks.
    pub conversion_rate: Amount,
    /// The currency of the earnings fields.
    pub currency: Currency,
    /// pending + approved + paid.
    pub total_earnings: Amount,
    /// Commissions waiting out the hold period.
    pub pending_earnings: Amount,
    /// Commissions approved and not yet paid, net of open clawbacks.
    pub approved_earnings: Amount,
    /// Commissions paid out.
    pub paid_earnings: Amount,
    /// `totalEarnings` written for people, with its currency (`$1,250.75`).
    #[serde(default)]
    pub total_earnings_formatted: String,
    /// The affiliate's account: who they are, as the store-affiliate API shows it.
    #[serde(default)]
    pub account: AffiliateAccount,
}

/// The person behind an affiliate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AffiliateAccount {
    /// Their user profile.
    pub user: AccountUser,
    /// The display name they promote under (`customFields.pseudo`, else their name).
    pub pseudo: String,
    /// Their country, from `customFields.country` (an ISO 3166-1 alpha-2 code), if set.
    pub country: Option<Country>,
}

/// The user profile of an affiliate's account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccountUser {
    /// Full name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// A country: ISO 3166-1 alpha-2 code and English name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Country {
    /// `US`, `DE`, ….
    pub code: String,
    /// `United States`, `Germany`, ….
    pub name: String,
}

/// `{"affiliate": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffiliateResponse {
    /// The affiliate.
    pub affiliate: Affiliate,
}

/// A page of affiliates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffiliateList {
    /// The items.
    pub affiliates: Vec<Affiliate>,
    /// How many match in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// `POST /v1/affiliates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAffiliate {
    /// Unique within the program.
    pub email: Email,
    /// 1..=200 characters.
    pub name: String,
    /// A code of the caller's choosing; one is generated from the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<ReferralCode>,
    /// Free-form object, up to 16 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// The recruiting affiliate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_affiliate_id: Option<AffiliateId>,
    /// How the affiliate is paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// Where the affiliate is paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_details: Option<String>,
}

/// `PATCH /v1/affiliates/{id}`: every field optional; `null` clears nullable ones.
///
/// Status moves: anything to `active` (approve or reactivate), to `suspended` with a
/// `suspendedReason`, to `blocked`. Nothing moves back to `pending`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAffiliate {
    /// New email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AffiliateStatus>,
    /// Required when suspending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_reason: Option<String>,
    /// New referral code (old links stop working).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<ReferralCode>,
    /// Replaces the custom fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// New parent, or null.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_affiliate_id: Option<Option<AffiliateId>>,
    /// New payment method, or null.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_method: Option<Option<String>>,
    /// New payment details, or null.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_details: Option<Option<String>>,
}
