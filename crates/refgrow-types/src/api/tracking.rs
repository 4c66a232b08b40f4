//! Clicks, customers, conversions and transactions: how a referral becomes money.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::{Email, ReferralCode};
use crate::ids::{AffiliateId, ClickId, CommissionId, ConversionId, CustomerId};
use crate::money::{Amount, Currency};

/// `POST /v1/referrals/track`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackClick {
    /// The affiliate's code.
    pub referral_code: ReferralCode,
    /// Where the visitor came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Where the visitor landed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_url: Option<String>,
    /// The visitor's user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The visitor's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// A recorded click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Click {
    /// `click_…`: keep it (cookie, signup form) to bind the signup later.
    pub click_id: ClickId,
    /// The code clicked.
    pub referral_code: String,
    /// Whose link it was.
    pub affiliate_id: AffiliateId,
    /// When.
    pub timestamp: DateTime<Utc>,
}

/// `POST /v1/customers`: binds a signup to the affiliate who referred it. Give at most one
/// of `clickId`, `referralCode`, `affiliateId`; none records an unattributed signup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCustomer {
    /// Your id for the user (1..=200 characters).
    pub key: String,
    /// The customer's email (used to refuse self-referrals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The customer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The click that brought the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<ClickId>,
    /// The code the customer came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<ReferralCode>,
    /// The affiliate, when you know it directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<AffiliateId>,
}

/// A customer: a signup of the SaaS, bound to an affiliate or not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// `cus_…`.
    pub id: CustomerId,
    /// Your id for the user.
    pub key: String,
    /// Email, if given.
    pub email: Option<String>,
    /// Name, if given.
    pub name: Option<String>,
    /// The referring affiliate, when attributed.
    pub affiliate_id: Option<AffiliateId>,
    /// The click that bound it, if any.
    pub click_id: Option<ClickId>,
    /// Whether an affiliate earns from this customer's payments.
    pub attributed: bool,
    /// When the customer's first payment was recorded (recurring rules count from it).
    pub first_payment_at: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// `{"customer": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerResponse {
    /// The customer.
    pub customer: Customer,
}

/// Customer details sent along with a conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConversionCustomer {
    /// Your id for the customer; binds it for later transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Email (self-referrals are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A product line of a conversion. The first line whose `id` has a per-product rule prices
/// the conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConversionProduct {
    /// Your product id.
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Quantity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// Line amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
}

/// `POST /v1/referrals/convert`: a sale referred by a click, a code or a known customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateConversion {
    /// The click that referred the sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<ClickId>,
    /// The affiliate's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<ReferralCode>,
    /// A customer bound earlier with `POST /v1/customers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key: Option<String>,
    /// The sale amount in major units.
    pub amount: Amount,
    /// The sale currency; the program's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Your order id: the idempotency key of the sale within the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Customer details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<ConversionCustomer>,
    /// Product lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<ConversionProduct>>,
}

/// A conversion's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversionStatus {
    /// Recorded, nothing refunded.
    Completed,
    /// Partly refunded.
    PartiallyRefunded,
    /// Wholly refunded or reversed.
    Refunded,
}

impl ConversionStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversionStatus::Completed => "completed",
            ConversionStatus::PartiallyRefunded => "partially_refunded",
            ConversionStatus::Refunded => "refunded",
        }
    }
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "completed" => ConversionStatus::Completed,
            "partially_refunded" => ConversionStatus::PartiallyRefunded,
            "refunded" => ConversionStatus::Refunded,
            _ => return None,
        })
    }
}

/// A recorded sale and what it earned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Conversion {
    /// `conv_…`.
    pub conversion_id: ConversionId,
    /// The referring affiliate.
    pub affiliate_id: AffiliateId,
    /// The affiliate's code.
    pub referral_code: String,
    /// The sale amount.
    pub amount: Amount,
    /// The sale currency.
    pub currency: Currency,
    /// What the affiliate earned now (0 when the rule pays nothing for this payment).
    pub commission: Amount,
    /// The commission's currency (the program's for fixed rules).
    pub commission_currency: Currency,
    /// The commission, when one was created.
    pub commission_id: Option<CommissionId>,
    /// Your order id or transaction key.
    pub order_id: Option<String>,
    /// The customer's key, when known.
    pub customer_key: Option<String>,
    /// Refunded so far.
    pub refunded_amount: Amount,
    /// Completed, partially refunded or refunded.
    pub status: ConversionStatus,
    /// Why the sale earned nothing, when it did not: `affiliate_pending`,
    /// `affiliate_suspended`, `affiliate_blocked`, `outside_recurring_window` or `zero_amount`.
    #[serde(default)]
    pub no_commission_reason: Option<String>,
    /// When recorded.
    pub timestamp: DateTime<Utc>,
}

/// `POST /v1/transactions`: one payment of a known customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTransaction {
    /// The customer's key from `POST /v1/customers`.
    pub customer_key: String,
    /// Your payment id: the idempotency key within the program.
    pub key: String,
    /// The payment amount.
    pub amount: Amount,
    /// Its currency; the program's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Your product id (per-product rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Your product type (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// What happened (`sale`, `renewal`, ...; informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// The answer to a signup that was acknowledged without being stored: the program ignores
/// unattributed signups (`ignoreUnattributed`) and this one named no known referral.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IgnoredSignup {
    /// The key sent.
    pub key: String,
    /// Always true.
    pub ignored: bool,
}

/// `PATCH /v1/customers/{key}`: absent fields are left as they are, `null` clears.
/// Attribution is not changed here (first binding wins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCustomer {
    /// A new email, or `null` to clear it.
    #[serde(
        default,
        deserialize_with = "super::common::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub email: Option<Option<Email>>,
    /// A new name, or `null` to clear it.
    #[serde(
        default,
        deserialize_with = "super::common::double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Option<String>>,
}

/// The answer to a transaction: the conversion when the customer is attributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TransactionResult {
    /// Your payment id.
    pub key: String,
    /// The customer's key.
    pub customer_key: String,
    /// Whether an affiliate is behind the customer; false means nothing was earned.
    pub attributed: bool,
    /// The conversion recorded, when attributed.
    pub conversion: Option<Conversion>,
}

/// `{"conversion": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversionResponse {
    /// The conversion.
    pub conversion: Conversion,
}

/// A page of conversions (`GET /v1/conversions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversionList {
    /// The items, newest first.
    pub conversions: Vec<Conversion>,
    /// How many match in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}
