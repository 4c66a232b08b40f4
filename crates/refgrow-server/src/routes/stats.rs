//! `GET /v1/affiliates/{id}/stats` and `GET /v1/reports/summary`: statistics from the daily
//! rollups (see [`crate::services::stats`]); `GET /v1/reports/reconcile`: the ledger check
//! (see [`crate::services::reconcile`]).

use actix_web::{web, HttpResponse};
use refgrow_types::api::StatsInterval;
use refgrow_types::AffiliateId;
use serde::Deserialize;

use super::commissions::parse_time;
use super::ok;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{path_id, ApiQuery};
use crate::services::stats::{self, Range};
use crate::state::AppState;

/// Registers the routes. `/affiliates/{id}/stats` has one more segment than
/// `/affiliates/{id}`, so neither shadows the other whatever the order.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/affiliates/{id}/stats", web::get().to(affiliate))
        .route("/reports/summary", web::get().to(summary))
        .route("/reports/reconcile", web::get().to(reconcile));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// The query of an affiliate's stats.
pub(crate) struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    interval: Option<StatsInterval>,
}

impl StatsQuery {
    fn range(&self, now_ms: i64) -> Result<Range, ApiError> {
        let from = self
            .from
            .as_deref()
            .map(|s| parse_time("from", s))
            .transpose()?;
        let to = self
            .to
            .as_deref()
            .map(|s| parse_time("to", s))
            .transpose()?;
        stats::range(from, to, self.interval, now_ms)
    }
}

/// `GET /v1/affiliates/{id}/stats` (also the guide's `GET /api/partners/{id}/stats`).
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

async fn reconcile(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let answer = state
        .db
        .read(move |c| crate::services::reconcile::program(c, &auth.program_id))
        .await?;
    Ok(ok(answer))
}
