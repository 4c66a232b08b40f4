//! Sales: `POST /v1/referrals/convert`, `POST/DELETE /v1/transactions`,
//! `GET /v1/conversions[/{id}]` and `POST /v1/conversions/{id}/refunds`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::ConversionList;
use refgrow_types::api::{
    ConversionResponse, CreateConversion, CreateRefund, CreateTransaction, RefundResult,
    TransactionResult,
};
use refgrow_types::money::{Currency, Money};
use refgrow_types::{AffiliateId, ConversionId};
use serde::{Deserialize, Serialize};

use super::ok;
use crate::auth::Auth;
use crate::db::affiliates as affiliate_store;
use crate::db::commissions as commission_store;
use crate::db::conversions as store;
use crate::db::customers::{self as customer_store};
use crate::db::sale_batch::Outcome;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::extract::{
    check_len, page, parse_json, path_id, ApiJson, ApiQuery, OptionalJson, RawJson,
};
use crate::idempotency::{fingerprint, key_of, write_once, Answer};
use crate::idgen::new_id;
use crate::openapi::doc::{
    any_of_body, paging, query_params, text, AnyOf, Created, IdempotencyKey, Success,
};
use crate::routes::Routes;
use crate::services::conversions::{self, NewSale, Recorded};
use crate::services::{attribution, commissions, program, refunds};
use crate::state::AppState;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_convert, convert)
        .add(__path_create_transaction, create_transaction)
        .add(__path_delete_transaction, delete_transaction)
        .add(__path_list, list)
        .add(__path_get, get)
        .add(__path_refund, refund);
}

/// The answer of `convert`: the conversion itself, as the contract shows it.
fn recorded_answer(r: &Recorded) -> Result<Answer, ApiError> {
    let dto = conversions::to_dto(&r.conversion, &r.commissions);
    if r.replay {
        Answer::replay(&dto)
    } else {
        Answer::new(StatusCode::CREATED, &dto)
    }
}

/// Resolves who referred a `convert` call, checks it, and records the sale.
fn convert_in_tx(
    c: &mut DbConn,
    program_id: &str,
    body: &CreateConversion,
    hint: Option<&str>,
    request_hash: String,
    now: i64,
) -> Result<Answer, ApiError> {
    let r = attribution::sale_referrer(c, program_id, body, hint, request_hash, now, None)?;
    let recorded = conversions::record_sale_with(c, &r.prog, r.sale, now, r.endpoints.as_deref())?;
    recorded_answer(&recorded)
}

/// A `convert` call on PostgreSQL that needs no transaction of its own: no
/// `Idempotency-Key` (its record is written with the sale), no customer (its first payment
/// is written with the sale), and a price that needs no lock. It is planned and written
/// with other sales by the sale writer ([`crate::db::sale_batch`]): one query reads the
/// affiliates of the batch (named by the referral code's cache hint), one statement writes
/// the sales. A call naming a click is read and planned on a pooled connection first (its
/// reads are its own). None: the call needs a transaction; record it in one.
async fn convert_batched(
    state: &AppState,
    program_id: &str,
    body: &CreateConversion,
    hint: Option<&str>,
    request_hash: &str,
    now: i64,
) -> Result<Option<Answer>, ApiError> {
    let (program_id, body, hint, hash) = (
        program_id.to_string(),
        body.clone(),
        hint.map(str::to_string),
        request_hash.to_string(),
    );
    let names_click = body.click_id.is_some();
    let plan = {
        let program_id = program_id.clone();
        let hint = hint.clone();
        move |c: &mut DbConn, context: Option<affiliate_store::SaleContext>| {
            let r = attribution::sale_referrer(
                c,
                &program_id,
                &body,
                hint.as_deref(),
                hash,
                now,
                context,
            )?;
            if r.sale.customer.is_some() {
                return Ok(None);
            }
            conversions::plan_sale(c, &r.prog, r.sale, now, r.endpoints.as_deref(), false)
        }
    };
    let outcome = match hint {
        Some(id) if !names_click => {
            state
                .db
                .write_sale(Some((program_id.clone(), id)), Box::new(plan))
                .await?
        }
        _ => {
            let Some(planned) = state.db.read(move |c| plan(c, None)).await? else {
                return Ok(None);
            };
            state
                .db
                .write_sale(None, Box::new(move |_, _| Ok(Some(planned))))
                .await?
        }
    };
    let (planned, inserted) = match outcome {
        Outcome::Written(planned, inserted) => (*planned, inserted),
        Outcome::NeedsTransaction => return Ok(None),
    };
    if inserted {
        return recorded_answer(&conversions::recorded(planned)).map(Some);
    }
    let order = planned.conversion.order_id.unwrap_or_default();
    let hash = planned.conversion.request_hash;
    let recorded = state
        .db
        .read(move |c| conversions::replay_of(c, &program_id, &order, &hash))
        .await?;
    recorded_answer(&recorded).map(Some)
}

/// What a sale's identity is hashed from: the route and the canonical body.
fn sale_hash<T: Serialize>(route: &str, body: &T) -> Result<String, ApiError> {
    let json = serde_json::to_string(body).map_err(ApiError::internal)?;
    Ok(crate::idgen::hash_secret(&format!("{route}\n{json}")))
}

#[utoipa::path(
    post, path = "/v1/referrals/convert", operation_id = "createConversion",
    tag = "sales", summary = "Record a referred sale (idempotent by orderId)",
    params(IdempotencyKey),
    request_body(
        content = dto::CreateConversion,
        example = json!({"referralCode": "JANE10", "amount": 99.99, "currency": "USD", "orderId": "order-1042"}),
    ),
    responses(Created<dto::Conversion>),
    security(("bearer" = [])),
)]
async fn convert(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<CreateConversion>,
) -> Result<HttpResponse, ApiError> {
    convert_sale(state, req, auth, body).await
}

/// `POST /v1/referrals/convert` once parsed (also LinkJolt's `POST /v1/conversions`).
pub async fn convert_sale(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: CreateConversion,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if let Some(order) = &body.order_id {
        check_len("orderId", order, 1, 200)?;
    }
    if let Some(id) = &body.click_id {
        state.clicks.settle(&state.db, id.as_str()).await?;
    }
    let hash = sale_hash("convert", &body)?;
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    let hint = match &body.referral_code {
        Some(code) => state
            .clicks
            .resolve(&state.db, Some(&auth.program_id), code.as_str())
            .await?
            .map(|r| r.affiliate_id),
        None => None,
    };
    if state.db.batches_sales()
        && body.customer.is_none()
        && body.customer_key.is_none()
        && key_of(&req)?.is_none()
    {
        if let Some(answer) =
            convert_batched(&state, &program_id, &body, hint.as_deref(), &hash, now).await?
        {
            return Ok(answer.into_response());
        }
    }
    // Only the transactional path saves answers under an Idempotency-Key: the request's
    // fingerprint (a second serialization and hash of the body) is made for it alone.
    let print = fingerprint(&req, &body)?;
    write_once(&state, &req, &auth.program_id, print, move |c| {
        convert_in_tx(c, &program_id, &body, hint.as_deref(), hash, now)
    })
    .await
}

any_of_body!(
    /// The body of `POST /v1/transactions`: the native one, or Partnero's.
    CreateTransactionBody: dto::CreateTransaction, dto::compat::PartneroTransaction
);

/// `POST /v1/transactions`: the native body, or Partnero's when it holds a `customer`
/// object ([`super::compat::partnero`]).
#[utoipa::path(
    post, path = "/v1/transactions", operation_id = "createTransaction",
    tag = "sales", summary = "Record a payment of a customer (idempotent by key; also Partnero's body, told apart by 'customer')",
    params(IdempotencyKey),
    request_body(
        content = inline(CreateTransactionBody),
        example = json!({"customerKey": "user_1042", "key": "invoice-2026-12", "amount": 49, "productId": "pro-monthly"}),
    ),
    responses(Created<AnyOf<(dto::TransactionResult, dto::compat::PartneroTransactionResponse)>>),
    security(("bearer" = [])),
)]
async fn create_transaction(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: RawJson<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    if body.value.get("customer").is_some() {
        let parsed = parse_json(&body.bytes)?;
        return super::compat::partnero::create_transaction(state, req, auth, parsed).await;
    }
    let parsed: CreateTransaction = parse_json(&body.bytes)?;
    record_transaction(state, req, auth, parsed).await
}

/// `POST /v1/transactions` once parsed.
pub async fn record_transaction(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: CreateTransaction,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    check_len("customerKey", &body.customer_key, 1, 200)?;
    check_len("key", &body.key, 1, 200)?;
    for (field, v, max) in [
        ("productId", &body.product_id, 200),
        ("productType", &body.product_type, 100),
        ("action", &body.action, 100),
    ] {
        if let Some(s) = v {
            check_len(field, s, 1, max)?;
        }
    }
    let print = fingerprint(&req, &body)?;
    let hash = sale_hash("transaction", &body)?;
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let prog = program::load(c, &program_id)?;
        let amount = conversions::sale_money(body.amount, body.currency, &prog)?;
        let customer = customer_store::find_by_key(c, &prog.id, &body.customer_key)?;
        let affiliate = match customer.as_ref().and_then(|cu| cu.affiliate_id.as_deref()) {
            Some(id) => affiliate_store::find(c, &prog.id, id)?,
            None => None,
        };
        let (Some(customer), Some(affiliate)) = (customer, affiliate) else {
            // Unknown or unattributed customers are acknowledged and earn nothing.
            return Answer::new(
                StatusCode::OK,
                &TransactionResult {
                    key: body.key.clone(),
                    customer_key: body.customer_key.clone(),
                    attributed: false,
                    conversion: None,
                },
            );
        };
        let recorded = conversions::record_sale(
            c,
            &prog,
            NewSale {
                affiliate,
                customer: Some(customer),
                order_id: Some(body.key.clone()),
                request_hash: hash,
                amount,
                product_id: body.product_id.clone(),
            },
            now,
        )?;
        let result = TransactionResult {
            key: body.key.clone(),
            customer_key: body.customer_key.clone(),
            attributed: true,
            conversion: Some(conversions::to_dto(
                &recorded.conversion,
                &recorded.commissions,
            )),
        };
        if recorded.replay {
            Answer::replay(&result)
        } else {
            Answer::new(StatusCode::CREATED, &result)
        }
    })
    .await
}

fn refund_result(r: refunds::Refunded) -> RefundResult {
    RefundResult {
        conversion: conversions::to_dto(&r.conversion, &r.commissions),
        commissions: r.commissions.iter().map(commissions::to_dto).collect(),
        adjustments: r.adjustments.iter().map(commissions::to_dto).collect(),
    }
}

#[utoipa::path(
    delete, path = "/v1/transactions/{key}", operation_id = "deleteTransaction",
    tag = "sales", summary = "Reverse a transaction wholly",
    responses(Success<dto::RefundResult>),
    security(("bearer" = [])),
)]
async fn delete_transaction(
    state: web::Data<AppState>,
    auth: Auth,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    reverse_transaction(state, auth, key.into_inner()).await
}

/// `DELETE /v1/transactions/{key}` once parsed (also Partnero's delete with the key in the
/// body).
pub async fn reverse_transaction(
    state: web::Data<AppState>,
    auth: Auth,
    key: String,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    check_len("key", &key, 1, 200)?;
    let now = state.clock.now_ms();
    let result = state
        .db
        .write(move |c| {
            let prog = program::load(c, &auth.program_id)?;
            let conv = store::find_by_order(c, &prog.id, &key)?
                .ok_or_else(|| ApiError::not_found("transaction"))?;
            if conv.refunded_minor >= conv.amount_minor {
                // Reversed before: deleting again changes nothing.
                let commissions = commission_store::of_conversion(c, &conv.id)?;
                return Ok(refund_result(refunds::Refunded {
                    conversion: conv,
                    commissions,
                    adjustments: Vec::new(),
                }));
            }
            let r = refunds::refund(
                c,
                &prog,
                &conv.id,
                None,
                Some("transaction deleted".into()),
                Some(format!("delete:{key}")),
                now,
            )?;
            Ok(refund_result(r))
        })
        .await?;
    Ok(ok(result))
}

#[utoipa::path(
    post, path = "/v1/conversions/{id}/refunds", operation_id = "refundConversion",
    tag = "sales", summary = "Refund part or all of a sale",
    params(IdempotencyKey),
    request_body(content = Option<dto::CreateRefund>),
    responses(Created<dto::RefundResult>),
    security(("bearer" = [])),
)]
async fn refund(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<String>,
    OptionalJson(body): OptionalJson<CreateRefund>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", ConversionId::parse)?;
    let body = body.unwrap_or_default();
    let print = fingerprint(&req, &body)?;
    let dedupe = key_of(&req)?.map(|k| format!("idem:{k}"));
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let prog = program::load(c, &program_id)?;
        let conv = conversions::load(c, &prog.id, id.as_str())?;
        let currency = Currency::parse(&conv.currency).unwrap_or(Currency::USD);
        let amount = match body.amount {
            Some(a) => Some(
                Money::from_major(a.value(), currency)
                    .map_err(|e| ApiError::invalid("amount", e.to_string()))?,
            ),
            None => None,
        };
        let r = refunds::refund(
            c,
            &prog,
            &conv.id,
            amount,
            body.reason.clone(),
            dedupe.or(Some(new_id("refund:"))),
            now,
        )?;
        Answer::new(StatusCode::CREATED, &refund_result(r))
    })
    .await
}

#[utoipa::path(
    get, path = "/v1/conversions/{id}", operation_id = "getConversion",
    tag = "sales", summary = "A conversion",
    responses(Success<dto::ConversionResponse>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", ConversionId::parse)?;
    let conversion = state
        .db
        .read(move |c| {
            let row = conversions::load(c, &auth.program_id, id.as_str())?;
            let comms = commission_store::of_conversion(c, &row.id)?;
            Ok(conversions::to_dto(&row, &comms))
        })
        .await?;
    Ok(ok(ConversionResponse { conversion }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    affiliate_id: Option<AffiliateId>,
}

query_params!(
    ListQuery,
    paging(),
    text("affiliateId", "Only this affiliate's")
);

#[utoipa::path(
    get, path = "/v1/conversions", operation_id = "listConversions",
    tag = "sales", summary = "List conversions",
    params(ListQuery),
    responses(Success<dto::ConversionList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let list = state
        .db
        .read(move |c| {
            let aff = q.affiliate_id.as_ref().map(|a| a.as_str());
            let (rows, total) = store::list(c, &auth.program_id, aff, limit, offset)?;
            let mut conversions = Vec::with_capacity(rows.len());
            for row in &rows {
                let comms = commission_store::of_conversion(c, &row.id)?;
                conversions.push(conversions::to_dto(row, &comms));
            }
            Ok(ConversionList {
                conversions,
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}
