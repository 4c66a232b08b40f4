//! `/v1/payouts`.

use refgrow_types::api::{
    CreatePayoutRun, MarkPayoutPaid, Payout, PayoutExportFormat, PayoutList, PayoutResponse,
    PayoutRun, PayoutStatus,
};
use refgrow_types::{AffiliateId, PayoutId};
use reqwest::Method;

use crate::client::Call;
use crate::pagination::Query;
use crate::Error;

resource_handle!(
    /// `/v1/payouts`: payout runs, marking payouts paid and the PayPal/Wise files. Get one
    /// with [`Client::payouts`](crate::Client::payouts).
    PayoutsApi
);

/// Filters and paging of `GET /v1/payouts`. Unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPayouts {
    /// Only payouts with this status.
    pub status: Option<PayoutStatus>,
    /// Only this affiliate's payouts.
    pub affiliate_id: Option<AffiliateId>,
    /// Page size, 1..=100.
    pub limit: Option<u32>,
    /// How many to skip.
    pub offset: Option<u64>,
}

crate::pagination::paged!(ListPayouts, query: ListPayouts::query_pairs);

impl ListPayouts {
    fn query_pairs(&self) -> Result<Query, Error> {
        let mut q = Vec::new();
        if let Some(s) = self.status {
            q.push(("status", s.as_str().to_string()));
        }
        if let Some(a) = &self.affiliate_id {
            q.push(("affiliateId", a.to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        Ok(q)
    }
}

impl PayoutsApi<'_> {
    /// `POST /v1/payouts`: a payout run. Creates one payout per affiliate and currency whose
    /// approved commissions, net of open adjustments, reach the program's `minPayout`, and
    /// returns them (empty when nothing is due; a second run right after creates nothing).
    pub async fn create_run(&self, run: CreatePayoutRun) -> Result<Vec<Payout>, Error> {
        let r: PayoutRun = self.call_json(Method::POST, &["payouts"], &run).await?;
        Ok(r.payouts)
    }

    paged_list!(
        /// Newest first.
        GET ["payouts"], ListPayouts => PayoutList of Payout
    );

    /// `GET /v1/payouts/{id}`: the payout and the ids of its commissions.
    pub async fn get(&self, id: &PayoutId) -> Result<PayoutResponse, Error> {
        self.call(Method::GET, &["payouts", id.as_str()]).await
    }

    /// `POST /v1/payouts/{id}/paid`: marks the payout and its commissions paid, with your
    /// payment reference if you give one. A payout already paid is `conflict`.
    pub async fn mark_paid(
        &self,
        id: &PayoutId,
        reference: Option<&str>,
    ) -> Result<PayoutResponse, Error> {
        let body = MarkPayoutPaid {
            reference: reference.map(str::to_string),
        };
        self.call_json(Method::POST, &["payouts", id.as_str(), "paid"], &body)
            .await
    }

    /// `GET /v1/payouts/{id}/export.csv` (with `Some(id)`) or `GET /v1/payouts/export.csv`
    /// (with `None`: the payouts of `status`, `pending` when `None`): the mass-payment file
    /// as text. PayPal: `email,amount,currency,reference,note`, no header; Wise: the batch
    /// "send by email" template with its header.
    pub async fn export_csv(
        &self,
        id: Option<&PayoutId>,
        status: Option<PayoutStatus>,
        format: PayoutExportFormat,
    ) -> Result<String, Error> {
        let mut query = vec![("format", format.as_str().to_string())];
        match id {
            Some(id) => {
                self.client
                    .send_text(
                        Call::new(
                            Method::GET,
                            &["payouts", id.as_str(), "export.csv"],
                            &self.opts,
                        )
                        .query(query),
                    )
                    .await
            }
            None => {
                if let Some(s) = status {
                    query.push(("status", s.as_str().to_string()));
                }
                self.client
                    .send_text(
                        Call::new(Method::GET, &["payouts", "export.csv"], &self.opts).query(query),
                    )
                    .await
            }
        }
    }
}
