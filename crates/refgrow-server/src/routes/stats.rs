//! `GET /v1/affiliates/{id}/stats` and `GET /v1/reports/summary`: statistics from the daily
//! rollups (see [`crate::services::stats`]); `GET /v1/reports/reconcile`: the ledger check
//! (see [`crate::services::reconcile`]).

use actix_web::{web, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::StatsInterval;
use refgrow_types::AffiliateId;
use serde::Deserialize;

use super::ok;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{path_id, ApiQuery};
use crate::openapi::doc::{interval, query_params, time_range, Success};
use crate::routes::Routes;
use crate::services::stats::{self, Range};
use crate::state::AppState;
use crate::validate::parse_range;

/// Registers the routes. `/affiliates/{id}/stats` has one more segment than
/// `/affiliates/{id}`, so neither shadows the other whatever the order.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_affiliate, affiliate)
        .add(__path_summary, summary)
        .add(__path_reconcile, reconcile);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// The query of an affiliate's stats.
pub(crate) struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    interval: Option<StatsInterval>,
}

query_params!(StatsQuery, time_range(), interval());

impl StatsQuery {
    fn range(&self, now_ms: i64) -> Result<Range, ApiError> {
        let (from, to) = parse_range(self.from.as_deref(), self.to.as_deref())?;
        stats::range(from, to, self.interval, now_ms)
    }
}

/// `GET /v1/affiliates/{id}/stats` (also the guide's `GET /api/partners/{id}/stats`).
#[utoipa::path(
    get, path = "/v1/affiliates/{id}/stats", operation_id = "getAffiliateStats",
    tag = "stats", summary = "An affiliate's totals and time series",
    params(StatsQuery),
    responses(Success<dto::AffiliateStats>),
    security(("bearer" = [])),
)]
pub(crate) async fn affiliate(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", AffiliateId::parse)?;
    let range = q.range(state.clock.now_ms())?;
    let answer = state
        .db
        .read(move |c| stats::affiliate(c, &auth.program_id, id.as_str(), range))
        .await?;
    Ok(ok(answer))
}

#[utoipa::path(
    get, path = "/v1/reports/summary", operation_id = "getProgramSummary",
    tag = "stats", summary = "The program's totals, time series and top affiliates",
    params(StatsQuery),
    responses(Success<dto::ProgramSummary>),
    security(("bearer" = [])),
)]
async fn summary(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = q.range(state.clock.now_ms())?;
    let answer = state
        .db
        .read(move |c| stats::summary(c, &auth.program_id, range))
        .await?;
    Ok(ok(answer))
}

#[utoipa::path(
    get, path = "/v1/reports/reconcile", operation_id = "getReconcileReport",
    tag = "stats", summary = "The ledger invariants checked against the stored rows (ok and every difference)",
    responses(Success<dto::ReconcileReport>),
    security(("bearer" = [])),
)]
async fn reconcile(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let answer = state
        .db
        .read(move |c| crate::services::reconcile::program(c, &auth.program_id))
        .await?;
    Ok(ok(answer))
}
