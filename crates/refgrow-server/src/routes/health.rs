//! `/healthz` (the process is up), `/readyz` (the database answers) and `/metrics`
//! (Prometheus text).

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::error::ApiError;
use crate::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .db
        .read(|c| c.batch_execute("SELECT 1").map_err(ApiError::unavailable))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
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
    m.set("audit_entries_buffered", state.audit.len() as i64);
    let depth = state
        .db
        .read(|c| {
            use crate::db::schema::webhook_deliveries as d;
            use diesel::prelude::*;
            Ok(d::table
                .filter(d::status.ne("delivered"))
                .filter(d::status.ne("failed"))
                .count()
                .get_result::<i64>(c)?)
        })
        .await
        .unwrap_or(-1);
    m.set("webhook_outbox_depth", depth);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render()))
}
