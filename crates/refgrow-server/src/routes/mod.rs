//! HTTP handlers, one module per resource: parse, authorize, call a service, render.
//!
//! Each API handler carries its OpenAPI operation (`#[utoipa::path(...)]`) and is registered
//! from it by [`Routes::add`] (see [`registry`]): each module's `routes` function is both its
//! route table and its part of `GET /v1/openapi.json`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use refgrow_types::error::Envelope;
use serde::Serialize;

use crate::openapi::doc::UntypedJson;
use crate::openapi::Documented;
pub use registry::Routes;

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
pub mod registry;
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
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    summary = "This document",
    responses(UntypedJson),
    security()
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::document(documented))
}

/// Registers every route: the HTML pages, then the API ([`register()`]).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // The pages are not part of the API and its document. They come first: the `GET` of an
    // invitation's `acceptUrl` (`/v1/invitations/{token}/accept`) must be tried before the
    // `/v1` scope, so that its `POST` still reaches the API.
    crate::pages::configure(cfg);
    register(&mut Routes::registering(cfg));
}

/// Registers and documents every API route.
pub fn register(r: &mut Routes<'_>) {
    health::routes(r);
    tracking::public_routes(r);
    compat::root_routes(r);
    // Routes are tried in this order, and each pattern with a `{param}` is a regex: the
    // high-volume calls (clicks, sales, signups) come first.
    r.scope("/v1", |r| {
        tracking::routes(r);
        conversions::routes(r);
        customers::routes(r);
        compat::v1_routes(r);
        r.add(__path_openapi_json, openapi_json);
        program::routes(r);
        api_keys::routes(r);
        invitations::routes(r);
        embed::routes(r);
        stats::routes(r);
        affiliates::routes(r);
        commissions::routes(r);
        payouts::routes(r);
        stripe::routes(r);
        webhooks::routes(r);
        events::routes(r);
    });
}

/// Every API operation as documented, in registration order (the OpenAPI document's
/// paths, and the test that every documented route is served).
pub fn documented() -> Vec<Documented> {
    let mut out = Vec::new();
    register(&mut Routes::documenting(&mut out));
    out
}
