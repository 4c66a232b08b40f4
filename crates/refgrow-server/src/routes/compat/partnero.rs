//! Partnero (`seeds/004`): customers and transactions with nested keys and snake_case names.
//!
//! - `POST /v1/customers {partner: {key}, key, email, name}`: `partner.key` is the referral
//!   code of the `partnero_partner` cookie. A signup without a (known) partner key is
//!   acknowledged and not stored, as Partnero documents.
//! - `POST /v1/transactions {customer: {key}, key, amount, product_id, product_type, action}`:
//!   the amount is the purchase (string or number); the reward is computed by the rule. An
//!   unknown or unattributed customer is acknowledged and earns nothing.
//! - `DELETE /v1/transactions {key}` and `DELETE /v1/customers {key}`: the key in the body. A
//!   key never stored (an acknowledged, ignored call) answers 200 with `ignored: true`, so
//!   "send everything, delete on refund" never errs.

use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::compat::{
    KeyRef, PartneroCustomer, PartneroCustomerData, PartneroCustomerResponse, PartneroKey,
    PartneroTransaction, PartneroTransactionData, PartneroTransactionResponse,
};
use refgrow_types::api::{CreateCustomer, CreateTransaction, Email, ReferralCode};
use refgrow_types::ErrorCode;
use serde_json::Value;

use super::{non_empty, reshape, text};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::idempotency::key_of;
use crate::idgen::{hash_secret, new_id};
use crate::openapi::doc::Success;
use crate::routes::Routes;
use crate::routes::{conversions, customers, ok};
use crate::state::AppState;

/// Registers the routes (under `/v1`; the POSTs share the native handlers, which dispatch on
/// the body).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_delete_transaction, delete_transaction)
        .add(__path_delete_customer, delete_customer);
}

/// `POST /v1/customers` in Partnero's shape.
pub async fn create_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: PartneroCustomer,
) -> Result<HttpResponse, ApiError> {
    let partner_key = non_empty(body.partner.key.clone());
    let referral_code = match &partner_key {
        Some(k) => Some(ReferralCode::parse(k).ok_or_else(|| {
            ApiError::invalid("partner.key", refgrow_types::api::REFERRAL_CODE_ISSUE)
        })?),
        None => None,
    };
    let email = match non_empty(body.email.clone()) {
        Some(e) => Some(
            Email::parse(&e)
                .ok_or_else(|| ApiError::invalid("email", "must be a valid email address"))?,
        ),
        None => None,
    };
    let native = CreateCustomer {
        key: body.key.clone(),
        email,
        name: non_empty(body.name.clone()),
        click_id: None,
        referral_code,
        affiliate_id: None,
    };
    let res = customers::create_customer(state, req, auth, native, true).await?;
    reshape(res, move |data: Value| {
        let customer = if data.get("ignored").and_then(Value::as_bool) == Some(true) {
            PartneroCustomerData {
                key: body.key,
                email: non_empty(body.email),
                name: non_empty(body.name),
                partner: None,
                ignored: true,
                deleted: None,
            }
        } else {
            customer_data(&data["customer"], partner_key)
        };
        serde_json::to_value(PartneroCustomerResponse { customer }).map_err(ApiError::internal)
    })
    .await
}

/// A native customer in Partnero's shape; `partner_key` is the key as the caller sent it.
fn customer_data(c: &Value, partner_key: Option<String>) -> PartneroCustomerData {
    let attributed = c["attributed"].as_bool() == Some(true);
    PartneroCustomerData {
        key: text(c, "key").unwrap_or_default(),
        email: text(c, "email"),
        name: text(c, "name"),
        partner: attributed.then_some(KeyRef { key: partner_key }),
        ignored: false,
        deleted: None,
    }
}

/// `POST /v1/transactions` in Partnero's shape.
pub async fn create_transaction(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: PartneroTransaction,
) -> Result<HttpResponse, ApiError> {
    let customer_key = non_empty(body.customer.key.clone())
        .ok_or_else(|| ApiError::invalid("customer.key", "is required"))?;
    // Without a key Partnero records each call; so does this (a fresh key per call), unless
    // an Idempotency-Key names the call: then its retries carry the same key.
    let key = match (non_empty(body.key.clone()), key_of(&req)?) {
        (Some(k), _) => k,
        (None, Some(idem)) => format!("txn_{}", &hash_secret(&idem)[..32]),
        (None, None) => new_id("txn_"),
    };
    let native = CreateTransaction {
        customer_key: customer_key.clone(),
        key: key.clone(),
        amount: body.amount,
        currency: body.currency,
        product_id: non_empty(body.product_id.clone()),
        product_type: non_empty(body.product_type.clone()),
        action: non_empty(body.action.clone()),
    };
    let res = conversions::record_transaction(state, req, auth, native).await?;
    reshape(res, move |data: Value| {
        let attributed = data["attributed"].as_bool() == Some(true);
        let conv = &data["conversion"];
        let transaction = PartneroTransactionData {
            key,
            customer: KeyRef {
                key: Some(customer_key),
            },
            amount: Some(body.amount),
            commission_amount: attributed
                .then(|| serde_json::from_value(conv["commission"].clone()).ok())
                .flatten(),
            product_id: body.product_id,
            product_type: body.product_type,
            action: body.action,
            ignored: !attributed,
            deleted: None,
        };
        serde_json::to_value(PartneroTransactionResponse { transaction })
            .map_err(ApiError::internal)
    })
    .await
}

/// `DELETE /v1/transactions {key}`: reverses it wholly, as `DELETE /v1/transactions/{key}`.
#[utoipa::path(
    delete, path = "/v1/transactions", operation_id = "partneroDeleteTransaction",
    tag = "compat", summary = "Partnero: reverse a transaction by the key in the body (an unknown key is acknowledged)",
    request_body(content = dto::compat::PartneroKey, example = json!({"key": "transaction_123"})),
    responses(Success<dto::compat::PartneroTransactionResponse>),
    security(("bearer" = [])),
)]
async fn delete_transaction(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PartneroKey>,
) -> Result<HttpResponse, ApiError> {
    let key = body.key.clone();
    let ignored = |key: String| PartneroTransactionData {
        key,
        customer: KeyRef::default(),
        amount: None,
        commission_amount: None,
        product_id: None,
        product_type: None,
        action: None,
        ignored: true,
        deleted: Some(false),
    };
    match conversions::reverse_transaction(state, auth, body.key).await {
        Err(e) if e.code == ErrorCode::ResourceNotFound => Ok(ok(PartneroTransactionResponse {
            transaction: ignored(key),
        })),
        Err(e) => Err(e),
        Ok(res) => {
            reshape(res, move |data: Value| {
                let conv = &data["conversion"];
                let transaction = PartneroTransactionData {
                    key,
                    customer: KeyRef {
                        key: text(conv, "customerKey"),
                    },
                    amount: serde_json::from_value(conv["amount"].clone()).ok(),
                    commission_amount: serde_json::from_value(conv["commission"].clone()).ok(),
                    product_id: None,
                    product_type: None,
                    action: None,
                    ignored: false,
                    deleted: Some(true),
                };
                serde_json::to_value(PartneroTransactionResponse { transaction })
                    .map_err(ApiError::internal)
            })
            .await
        }
    }
}

/// `DELETE /v1/customers {key}`: as `DELETE /v1/customers/{key}`.
#[utoipa::path(
    delete, path = "/v1/customers", operation_id = "partneroDeleteCustomer",
    tag = "compat", summary = "Partnero: delete a customer by the key in the body (an unknown key is acknowledged)",
    request_body(content = dto::compat::PartneroKey, example = json!({"key": "CUSTOMER_KEY"})),
    responses(Success<dto::compat::PartneroCustomerResponse>),
    security(("bearer" = [])),
)]
async fn delete_customer(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PartneroKey>,
) -> Result<HttpResponse, ApiError> {
    let key = body.key.clone();
    match customers::delete_customer(state, auth, body.key).await {
        Err(e) if e.code == ErrorCode::ResourceNotFound => Ok(ok(PartneroCustomerResponse {
            customer: PartneroCustomerData {
                key,
                email: None,
                name: None,
                partner: None,
                ignored: true,
                deleted: Some(false),
            },
        })),
        Err(e) => Err(e),
        Ok(res) => {
            reshape(res, move |data: Value| {
                let mut customer = customer_data(&data["customer"], None);
                customer.partner = None;
                customer.deleted = Some(true);
                serde_json::to_value(PartneroCustomerResponse { customer })
                    .map_err(ApiError::internal)
            })
            .await
        }
    }
}
