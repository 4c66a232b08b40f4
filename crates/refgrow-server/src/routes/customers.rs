//! `/v1/customers`: bind a signup to the affiliate who referred it, fetch it, delete it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::Connection;
use refgrow_types::api::{CreateCustomer, CustomerResponse};

use super::ok;
use crate::auth::Auth;
use crate::db::customers as store;
use crate::error::ApiError;
use crate::extract::{check_len, ApiJson};
use crate::idempotency::{fingerprint, write_once, Answer};
use crate::services::{customers, program};
use crate::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::post().to(create))
        .route("/customers/{key}", web::get().to(get))
        .route("/customers/{key}", web::delete().to(delete));
}

async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if let Some(id) = &body.click_id {
        state.clicks.settle(&state.db, id.as_str()).await?;
    }
    let print = fingerprint(&req, &body)?;
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let prog = program::load(c, &program_id)?;
        let (row, created) = customers::bind(c, &prog, &body, now)?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Answer::new(
            status,
            &CustomerResponse {
                customer: customers::to_dto(&row),
            },
        )
    })
    .await
}

fn check_key(key: &str) -> Result<(), ApiError> {
    check_len("key", key, 1, 200)
}

async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    check_key(&key)?;
    let customer = state
        .db
        .read(move |c| {
            store::find_by_key(c, &auth.program_id, &key)?
                .ok_or_else(|| ApiError::not_found("customer"))
        })
        .await?;
    Ok(ok(CustomerResponse {
        customer: customers::to_dto(&customer),
    }))
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let key = key.into_inner();
    check_key(&key)?;
    let customer = state
        .db
        .write(move |c| {
            c.transaction(|c| {
                let row = store::find_by_key(c, &auth.program_id, &key)?
                    .ok_or_else(|| ApiError::not_found("customer"))?;
                store::delete(c, &row.id)?;
                Ok(row)
            })
        })
        .await?;
    Ok(ok(CustomerResponse {
        customer: customers::to_dto(&customer),
    }))
}
