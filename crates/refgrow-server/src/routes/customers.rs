//! `/v1/customers`: bind a signup to the affiliate who referred it, fetch, change and delete
//! it. A body with a `partner` object is Partnero's shape ([`super::compat::partnero`]).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{CreateCustomer, CustomerResponse, IgnoredSignup, UpdateCustomer};

use super::ok;
use crate::auth::Auth;
use crate::db::customers as store;
use crate::error::ApiError;
use crate::extract::{check_len, parse_json, ApiJson, RawJson};
use crate::idempotency::{fingerprint, write_once, Answer};
use crate::openapi::doc::{any_of_body, AnyOf, Created, IdempotencyKey, Success};
use crate::routes::Routes;
use crate::services::{customers, program};
use crate::state::AppState;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create, create)
        .add(__path_get, get)
        .add(__path_patch, patch)
        .add(__path_delete, delete);
}

any_of_body!(
    /// The body of `POST /v1/customers`: the native one, or Partnero's.
    CreateCustomerBody: dto::CreateCustomer, dto::compat::PartneroCustomer
);

/// `POST /v1/customers` (and the guide's `POST /api/customers`): the native body, or
/// Partnero's when it holds a `partner` object.
#[utoipa::path(
    post, path = "/v1/customers", operation_id = "createCustomer",
    tag = "tracking", summary = "Bind a signup to its affiliate (also Partnero's body, told apart by 'partner')",
    params(IdempotencyKey),
    request_body(
        content = inline(CreateCustomerBody),
        example = json!({"key": "user_1042", "email": "buyer@example.com", "referralCode": "JANE10"}),
    ),
    responses(Created<AnyOf<(dto::CustomerResponse, dto::IgnoredSignup, dto::compat::PartneroCustomerResponse)>>),
    security(("bearer" = [])),
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: RawJson<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    if body.value.get("partner").is_some() {
        let parsed = parse_json(&body.bytes)?;
        return super::compat::partnero::create_customer(state, req, auth, parsed).await;
    }
    let parsed: CreateCustomer = parse_json(&body.bytes)?;
    create_customer(state, req, auth, parsed, false).await
}

/// Binds a signup once parsed. An unattributed new signup is acknowledged without being
/// stored when the program ignores them, or when the caller asks (`ignore_unattributed`).
pub async fn create_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: CreateCustomer,
    ignore_unattributed: bool,
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
        let ignore = ignore_unattributed || prog.ignore_unattributed;
        let Some((row, created)) = customers::bind_unless_ignored(c, &prog, &body, ignore, now)?
        else {
            return Answer::new(
                StatusCode::OK,
                &IgnoredSignup {
                    key: body.key.clone(),
                    ignored: true,
                },
            );
        };
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

#[utoipa::path(
    get, path = "/v1/customers/{key}", operation_id = "getCustomer",
    tag = "tracking", summary = "A customer by your key",
    responses(Success<dto::CustomerResponse>),
    security(("bearer" = [])),
)]
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

#[utoipa::path(
    patch, path = "/v1/customers/{key}", operation_id = "updateCustomer",
    tag = "tracking", summary = "Change a customer's email or name (attribution stays)",
    request_body(
        content = dto::UpdateCustomer,
        example = json!({"email": "new@example.com", "name": "Sam Buyer"}),
    ),
    responses(Success<dto::CustomerResponse>),
    security(("bearer" = [])),
)]
async fn patch(
    state: web::Data<AppState>,
    auth: Auth,
    key: web::Path<String>,
    ApiJson(body): ApiJson<UpdateCustomer>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let key = key.into_inner();
    check_key(&key)?;
    let customer = state
        .db
        .write(move |c| customers::update(c, &auth.program_id, &key, body))
        .await?;
    Ok(ok(CustomerResponse {
        customer: customers::to_dto(&customer),
    }))
}

#[utoipa::path(
    delete, path = "/v1/customers/{key}", operation_id = "deleteCustomer",
    tag = "tracking", summary = "Delete a customer",
    responses(Success<dto::CustomerResponse>),
    security(("bearer" = [])),
)]
async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    delete_customer(state, auth, key.into_inner()).await
}

/// `DELETE /v1/customers/{key}` once parsed (also Partnero's delete with the key in the
/// body).
pub async fn delete_customer(
    state: web::Data<AppState>,
    auth: Auth,
    key: String,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    check_key(&key)?;
    let customer = state
        .db
        .write(move |c| {
            let row = store::find_by_key(c, &auth.program_id, &key)?
                .ok_or_else(|| ApiError::not_found("customer"))?;
            store::delete(c, &row.id)?;
            Ok(row)
        })
        .await?;
    Ok(ok(CustomerResponse {
        customer: customers::to_dto(&customer),
    }))
}
