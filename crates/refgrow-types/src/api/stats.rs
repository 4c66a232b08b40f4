//! Statistics: `GET /v1/affiliates/{id}/stats` and `GET /v1/reports/summary`.
//!
//! Both answer from the daily rollups, in UTC days. `from` and `to` are both included and
//! are truncated to their UTC day; buckets are days, ISO weeks (Monday to Sunday) or calendar
//! months, every one present (zeros included). Counts are plain integers; money is given per
//! currency as exact decimals.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::AffiliateId;
use crate::money::{Amount, Currency};

/// The size of a bucket of the time series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StatsInterval {
    /// One UTC day.
    #[default]
    Day,
    /// One ISO week, Monday to Sunday.
    Week,
    /// One calendar month.
    Month,
}

impl StatsInterval {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsInterval::Day => "day",
            StatsInterval::Week => "week",
            StatsInterval::Month => "month",
        }
    }
}

/// Commission money by status. Rejected commissions count as reversed; adjustments
/// (clawbacks of paid money) are negative amounts under `approved` until paid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EarningsByStatus {
    /// Waiting out the hold period.
    pub pending: Amount,
    /// Approved, not yet paid.
    pub approved: Amount,
    /// Paid out.
    pub paid: Amount,
    /// Reversed or rejected.
    pub reversed: Amount,
}

/// The money of one currency: sales, refunds and commissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CurrencyStats {
    /// The currency.
    pub currency: Currency,
    /// Sales (before refunds).
    pub revenue: Amount,
    /// Refunded of those sales.
    pub refunded: Amount,
    /// Commissions of those sales (and manual ones) by status, filed under the day each
    /// commission was created.
    pub earnings: EarningsByStatus,
}

/// Totals over the whole range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatsTotals {
    /// Clicks on referral links.
    pub clicks: i64,
    /// Customers bound to an affiliate.
    pub signups: i64,
    /// Sales that earned a commission.
    pub conversions: i64,
    /// Money per currency: the program currency always, others when they occur in the range.
    pub money: Vec<CurrencyStats>,
}

/// One bucket of the time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatsBucket {
    /// The first day the bucket counts (the period's start, or `from` for the first one).
    pub start: NaiveDate,
    /// The last day the bucket counts, included (the period's end, or `to` for the last).
    pub end: NaiveDate,
    /// Clicks.
    pub clicks: i64,
    /// Signups.
    pub signups: i64,
    /// Conversions.
    pub conversions: i64,
    /// Money per currency, the same currencies as the totals, zeros included.
    pub money: Vec<CurrencyStats>,
}

/// `GET /v1/affiliates/{id}/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AffiliateStats {
    /// The affiliate.
    pub affiliate_id: AffiliateId,
    /// The first day counted.
    pub from: NaiveDate,
    /// The last day counted, included.
    pub to: NaiveDate,
    /// The bucket size.
    pub interval: StatsInterval,
    /// Totals over the range.
    pub totals: StatsTotals,
    /// Every bucket from `from` to `to`, oldest first.
    pub series: Vec<StatsBucket>,
}

/// One of the best affiliates of a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TopAffiliate {
    /// The affiliate.
    pub affiliate_id: AffiliateId,
    /// Their name.
    pub name: String,
    /// Clicks in the range.
    pub clicks: i64,
    /// Signups in the range.
    pub signups: i64,
    /// Conversions in the range.
    pub conversions: i64,
    /// The program currency, in which `revenue` and `earnings` are given.
    pub currency: Currency,
    /// Sales in the range.
    pub revenue: Amount,
    /// Commissions in the range: pending, approved and paid (not reversed).
    pub earnings: Amount,
}

/// `GET /v1/reports/summary`: the whole program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProgramSummary {
    /// The first day counted.
    pub from: NaiveDate,
    /// The last day counted, included.
    pub to: NaiveDate,
    /// The bucket size.
    pub interval: StatsInterval,
    /// The program currency (the one `topAffiliates` is ranked in).
    pub currency: Currency,
    /// Totals over the range.
    pub totals: StatsTotals,
    /// Every bucket from `from` to `to`, oldest first.
    pub series: Vec<StatsBucket>,
    /// Up to ten affiliates with the most earnings in the program currency in the range,
    /// then the most revenue.
    pub top_affiliates: Vec<TopAffiliate>,
}
