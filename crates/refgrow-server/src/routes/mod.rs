//! HTTP handlers, one module per resource: parse, authorize, call a service, render.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use refgrow_types::error::Envelope;
use serde::Serialize;

pub mod affiliates;
pub mod api_keys;
pub mod commissions;
pub mod compat;
pub mod conversions;
pub mod customers;
pub mod embed;
pub mod events;
pub mod health;
pub mod invitations;
pub mod payouts;
pub mod program;
pub mod stats;
pub mod stripe;
pub mod tracking;
pub mod webhooks;

/// `200 {"success": true, "data": …}`.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Envelope::ok(data))
}

/// `201 {"success": true, "data": …}`.
pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::build(StatusCode::CREATED).json(Envelope::ok(data))
}

/// `GET /v1/openapi.json`.
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::document())
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    crate::pages::configure(cfg);
    tracking::configure_public(cfg);
    compat::configure_root(cfg);
    cfg.service(
        // Routes are tried in this order, and each pattern with a `{param}` is a regex:
        // the high-volume calls (clicks, sales, signups) come first.
        web::scope("/v1")
            .configure(tracking::configure)
            .configure(conversions::configure)
            .configure(customers::configure)
            .configure(compat::configure_v1)
            .route("/openapi.json", web::get().to(openapi_json))
            .configure(program::configure)
            .configure(api_keys::configure)
            .configure(invitations::configure)
            .configure(embed::configure)
            .configure(stats::configure)
            .configure(affiliates::configure)
            .configure(commissions::configure)
            .configure(payouts::configure)
            .configure(stripe::configure)
            .configure(webhooks::configure)
            .configure(events::configure),
    );
}
