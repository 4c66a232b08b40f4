//! `GET /v1/reports/reconcile`: the ledger invariants checked against the stored rows.
//!
//! The server recomputes, per affiliate and currency, every commission from its sale (and,
//! when the rule has not changed since, from the rule), the daily rollups (affiliate stats
//! and the program summary) from the money rows, and every payout's total from the
//! commissions and carried balances it holds. Each difference names the check, the
//! affiliate, currency and day it concerns, the figures, and the ids of the rows involved.
//! `ok` is true when there is none. The invariants are listed in the repository's
//! `docs/money.md`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::AffiliateId;
use crate::money::{Amount, Currency};

/// One invariant that does not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReconcileDifference {
    /// Which invariant: `commission_amount`, `commission_rule`, `refund_total`,
    /// `rollup_affiliate`, `rollup_program`, `payout_total`, `payout_content`.
    pub check: String,
    /// The affiliate concerned (none for program rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<AffiliateId>,
    /// The currency of the figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// The UTC day of a rollup row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// The figure compared (`pending`, `reversed`, `amount`, `conversions`, …).
    pub field: String,
    /// What the money rows say it must be (money in major units; counts as integers).
    pub expected: Amount,
    /// What is stored.
    pub actual: Amount,
    /// Ids of the rows involved (commissions, conversions, payouts).
    pub rows: Vec<String>,
}

/// How much was checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReconcileCounts {
    /// Commissions (adjustments included).
    pub commissions: u64,
    /// Conversions.
    pub conversions: u64,
    /// Payouts.
    pub payouts: u64,
    /// Rollup rows with money (affiliates' and the program's).
    pub rollup_rows: u64,
}

/// The answer of `GET /v1/reports/reconcile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    /// True when every invariant holds.
    pub ok: bool,
    /// How many rows were checked.
    pub checked: ReconcileCounts,
    /// Every difference found (at most 1000 are listed).
    pub differences: Vec<ReconcileDifference>,
    /// How many differences were found in all (may exceed the listed ones).
    pub difference_count: u64,
}
