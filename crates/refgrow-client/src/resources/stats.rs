//! `GET /v1/affiliates/{id}/stats`, `GET /v1/reports/summary` and `GET /v1/reports/reconcile`.

use chrono::NaiveDate;
use refgrow_types::api::{AffiliateStats, ProgramSummary, ReconcileReport, StatsInterval};
use refgrow_types::AffiliateId;
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// One affiliate's statistics. Get one with [`Client::stats`](crate::Client::stats).
    StatsApi
);

resource_handle!(
    /// The program's report. Get one with [`Client::reports`](crate::Client::reports).
    ReportsApi
);

/// The range and bucket size of a statistics call. Both days are included (UTC); unset
/// fields are not sent: the server then uses the 30 days ending today, by day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsRange {
    /// The first day counted.
    pub from: Option<NaiveDate>,
    /// The last day counted, included.
    pub to: Option<NaiveDate>,
    /// Day, ISO week (Monday first) or calendar month.
    pub interval: Option<StatsInterval>,
}

impl StatsRange {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(d) = self.from {
            q.push(("from", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(d) = self.to {
            q.push(("to", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(i) = self.interval {
            q.push(("interval", i.as_str().to_string()));
        }
        q
    }
}

impl StatsApi<'_> {
    /// `GET /v1/affiliates/{id}/stats`: totals and a time series of clicks, signups,
    /// conversions, revenue and earnings by status, money per currency.
    pub async fn affiliate(
        &self,
        id: &AffiliateId,
        range: StatsRange,
    ) -> Result<AffiliateStats, Error> {
        self.call_query(
            Method::GET,
            &["affiliates", id.as_str(), "stats"],
            range.query(),
        )
        .await
    }
}

impl ReportsApi<'_> {
    /// `GET /v1/reports/summary`: the same figures for the whole program, plus the top ten
    /// affiliates of the range.
    pub async fn summary(&self, range: StatsRange) -> Result<ProgramSummary, Error> {
        self.call_query(Method::GET, &["reports", "summary"], range.query())
            .await
    }

    /// `GET /v1/reports/reconcile`: the ledger invariants recomputed from the stored rows;
    /// `ok` is false and `differences` lists the rows involved when one does not hold.
    pub async fn reconcile(&self) -> Result<ReconcileReport, Error> {
        self.call(Method::GET, &["reports", "reconcile"]).await
    }
}
