//! Commissions: what affiliates earn, their status machine, refunds and clawbacks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::tracking::Conversion;
use crate::ids::{AffiliateId, CommissionId, ConversionId, PayoutId};
use crate::money::{Amount, Currency};

/// A commission's status. Legal moves: `pending → approved | rejected`,
/// `approved → paid | rejected`; `DELETE` reverses any but `rejected`/`reversed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommissionStatus {
    /// Waiting out the hold period.
    Pending,
    /// Due for the next payout.
    Approved,
    /// Paid out.
    Paid,
    /// Refused by the program.
    Rejected,
    /// Cancelled by a refund or a delete.
    Reversed,
}

impl CommissionStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionStatus::Pending => "pending",
            CommissionStatus::Approved => "approved",
            CommissionStatus::Paid => "paid",
            CommissionStatus::Rejected => "rejected",
            CommissionStatus::Reversed => "reversed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => CommissionStatus::Pending,
            "approved" => CommissionStatus::Approved,
            "paid" => CommissionStatus::Paid,
            "rejected" => CommissionStatus::Rejected,
            "reversed" => CommissionStatus::Reversed,
            _ => return None,
        })
    }

    /// Whether `PUT …/status` may move a commission from `self` to `to`.
    pub fn can_move_to(self, to: CommissionStatus) -> bool {
        use CommissionStatus::*;
        matches!(
            (self, to),
            (Pending, Approved) | (Pending, Rejected) | (Approved, Paid) | (Approved, Rejected)
        )
    }
}

/// What a commission row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CommissionKind {
    /// Earned on a sale (first tier).
    Sale,
    /// Earned by a parent affiliate on a recruit's sale.
    SecondTier,
    /// Created by hand with `POST /v1/commissions`.
    Manual,
    /// A negative clawback after a refund of an already paid commission; netted into the
    /// affiliate's next payout.
    Adjustment,
}

impl CommissionKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionKind::Sale => "sale",
            CommissionKind::SecondTier => "second_tier",
            CommissionKind::Manual => "manual",
            CommissionKind::Adjustment => "adjustment",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sale" => CommissionKind::Sale,
            "second_tier" => CommissionKind::SecondTier,
            "manual" => CommissionKind::Manual,
            "adjustment" => CommissionKind::Adjustment,
            _ => return None,
        })
    }
}

/// A commission as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Commission {
    /// `comm_…`.
    pub id: CommissionId,
    /// Who earns it.
    pub affiliate_id: AffiliateId,
    /// The sale it came from.
    pub conversion_id: Option<ConversionId>,
    /// The sale's order id or transaction key.
    pub order_id: Option<String>,
    /// Sale, second tier, manual or adjustment.
    #[serde(rename = "type")]
    pub kind: CommissionKind,
    /// What it is worth now (after partial refunds); negative for adjustments.
    pub amount: Amount,
    /// What it was worth when created.
    pub original_amount: Amount,
    /// Its currency.
    pub currency: Currency,
    /// Its status.
    pub status: CommissionStatus,
    /// The sale amount.
    pub conversion_amount: Option<Amount>,
    /// A note (manual commissions).
    pub description: Option<String>,
    /// The payout that holds it.
    pub payout_id: Option<PayoutId>,
    /// Whether a dispute holds it back from approval and payout.
    pub on_hold: bool,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// When paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// When reversed.
    pub reversed_at: Option<DateTime<Utc>>,
    /// Why it was rejected or reversed.
    pub reason: Option<String>,
}

/// `{"commission": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommissionResponse {
    /// The commission.
    pub commission: Commission,
}

/// A page of commissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommissionList {
    /// The items.
    pub commissions: Vec<Commission>,
    /// How many match in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// `POST /v1/commissions`: a commission of an affiliate, in the program currency. Give
/// exactly one of `amount` (a manual commission of that size) and `saleAmount` (a sale of the
/// affiliate, recorded as a conversion; the commission is computed by the program's rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCommission {
    /// Who earns it.
    pub affiliate_id: AffiliateId,
    /// The commission itself (a manual commission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// The sale the commission is computed from by the program's rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_amount: Option<Amount>,
    /// The product sold, for per-product rules (with `saleAmount` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Idempotency key within the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PUT /v1/commissions/{id}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCommissionStatus {
    /// The new status.
    pub status: CommissionStatus,
    /// Why (recommended for rejections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `DELETE /v1/commissions/{id}` may carry a reason as a query parameter; this is its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReversalResult {
    /// The reversed commission.
    pub commission: Commission,
    /// The clawback left when it had been paid.
    pub adjustment: Option<Commission>,
}

/// `POST /v1/conversions/{id}/refunds`: omit `amount` to refund what is left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRefund {
    /// How much of the sale is refunded now, in the sale currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to a refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundResult {
    /// The conversion after the refund.
    pub conversion: Conversion,
    /// Its commissions after the refund.
    pub commissions: Vec<Commission>,
    /// Clawbacks created for commissions that were already paid.
    pub adjustments: Vec<Commission>,
}
