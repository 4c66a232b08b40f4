//! `/healthz` (the process is up), `/readyz` (the database answers) and `/metrics`
//! (Prometheus text; behind `Authorization: Bearer <REFGROW_METRICS_TOKEN>` when set).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::openapi::doc::{PlainText, UntypedJson};
use crate::routes::Routes;
use crate::state::AppState;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_healthz, healthz)
        .add(__path_readyz, readyz)
        .add(__path_metrics, metrics);
}

#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    summary = "The process is up",
    responses(UntypedJson),
    security()
)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    summary = "The database answers",
    responses(UntypedJson),
    security()
)]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db
        .read(|c| crate::db::health::ping(c).map_err(ApiError::unavailable))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

/// How long a counted outbox depth is reused by `/metrics`.
const DEPTH_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// Checks `Authorization: Bearer <REFGROW_METRICS_TOKEN>` when a token is set.
fn check_metrics_token(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let Some(token) = state.config.metrics_token.as_ref().and_then(|t| t.value()) else {
        return Ok(());
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .unwrap_or("");
    use subtle::ConstantTimeEq;
    if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthenticated(
            "/metrics needs 'Authorization: Bearer <REFGROW_METRICS_TOKEN>'",
        ))
    }
}

/// Deliveries waiting to be sent: an indexed count (`webhook_deliveries_due` leads with the
/// status), made at most every [`DEPTH_TTL`] however often `/metrics` is scraped.
async fn outbox_depth(state: &AppState) -> i64 {
    if let Ok(cached) = state.outbox_depth.lock() {
        if let Some((at, depth)) = *cached {
            if at.elapsed() < DEPTH_TTL {
                return depth;
            }
        }
    }
    let depth = state
        .db
        .read(|c| Ok(crate::db::webhooks::outbox_depth(c)?))
        .await
        .unwrap_or(-1);
    if let Ok(mut cached) = state.outbox_depth.lock() {
        *cached = Some((std::time::Instant::now(), depth));
    }
    depth
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics (send `Authorization: Bearer <REFGROW_METRICS_TOKEN>` when the server sets one)",
    responses(PlainText),
    security()
)]
async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_metrics_token(&state, &req)?;
    let [(read_conns, read_idle), (write_conns, write_idle)] = state.db.pool_state();
    let m = &state.metrics;
    m.set("db_read_connections", i64::from(read_conns));
    m.set(
        "db_read_connections_in_use",
        i64::from(read_conns.saturating_sub(read_idle)),
    );
    m.set("db_write_connections", i64::from(write_conns));
    m.set(
        "db_write_connections_in_use",
        i64::from(write_conns.saturating_sub(write_idle)),
    );
    let held = i64::try_from(state.clicks.len()).unwrap_or(i64::MAX);
    m.set("clicks_buffered", held);
    m.clicks.buffered.set(held);
    m.set("db_down", i64::from(state.db.is_down()));
    let audit_held = i64::try_from(state.audit.len()).unwrap_or(i64::MAX);
    m.set("audit_entries_buffered", audit_held);
    m.audit.buffered.set(audit_held);
    m.set("webhook_outbox_depth", outbox_depth(&state).await);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render()))
}
