//! Payouts: an affiliate's approved commissions and open adjustments of one currency,
//! grouped for payment once their net sum reaches the program's `minPayout`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AffiliateId, CommissionId, PayoutId};
use crate::money::{Amount, Currency};

/// A payout's status: created `pending`, then `paid` once the money went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    /// Created by a payout run; its commissions are reserved for it.
    Pending,
    /// Marked paid with `POST /v1/payouts/{id}/paid`; its commissions are `paid`.
    Paid,
}

impl PayoutStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::Paid => "paid",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(PayoutStatus::Pending),
            "paid" => Some(PayoutStatus::Paid),
            _ => None,
        }
    }
}

/// A payout as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Payout {
    /// `po_…`.
    pub id: PayoutId,
    /// Who is paid.
    pub affiliate_id: AffiliateId,
    /// The net amount: approved commissions less open adjustments (clawbacks).
    pub amount: Amount,
    /// Its currency.
    pub currency: Currency,
    /// `pending` or `paid`.
    pub status: PayoutStatus,
    /// How many commissions (adjustments included) it holds.
    pub commission_count: i64,
    /// The caller's reference of the payment (a PayPal or Wise batch id), set when paid.
    pub reference: Option<String>,
    /// When the payout run created it.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When marked paid.
    pub paid_at: Option<DateTime<Utc>>,
}

/// `GET /v1/payouts/{id}` and `POST /v1/payouts/{id}/paid`: a payout and its commissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PayoutResponse {
    /// The payout.
    pub payout: Payout,
    /// The commissions (adjustments included) it holds, oldest first.
    pub commission_ids: Vec<CommissionId>,
}

/// `POST /v1/payouts`: an optional body narrowing the run to one affiliate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePayoutRun {
    /// Only this affiliate's commissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<AffiliateId>,
}

/// The answer of a payout run: the payouts it created (empty when nothing was due).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayoutRun {
    /// The new payouts.
    pub payouts: Vec<Payout>,
}

/// A page of payouts, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayoutList {
    /// The items.
    pub payouts: Vec<Payout>,
    /// How many match in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// `POST /v1/payouts/{id}/paid`: an optional body with the payment's reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkPayoutPaid {
    /// Your reference of the payment (a PayPal or Wise batch or transfer id), 1 to 200
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The file format of `GET /v1/payouts/{id}/export.csv` and `GET /v1/payouts/export.csv`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayoutExportFormat {
    /// PayPal mass payment: `email,amount,currency,reference,note`, no header row.
    #[default]
    Paypal,
    /// Wise batch payment ("send by email" template) with its header row.
    Wise,
}

impl PayoutExportFormat {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutExportFormat::Paypal => "paypal",
            PayoutExportFormat::Wise => "wise",
        }
    }
}
