//! The integration guide (`seeds/000`): `/api/partners`, `/api/customers`,
//! `/api/commissions`. Each is the `/v1` call of the same meaning, with the same bodies and
//! answers; the one difference is `POST /api/commissions`, whose `amount` is the guide's
//! **sale** amount (the commission is computed by the program's rule), as `saleAmount` is on
//! `POST /v1/commissions`.

use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::compat::GuideCommission;
use refgrow_types::api::CreateCommission;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery, RawJson};
use crate::openapi::doc::{Created, IdempotencyKey, Success};
use crate::routes::{affiliates, commissions, customers, stats, Routes};
use crate::state::AppState;

/// Registers the routes (at the root, beside `/v1`).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create_partner, create_partner)
        .add(__path_partner_stats, partner_stats)
        .add(__path_create_customer, create_customer)
        .add(__path_create_commission, create_commission)
        .add(__path_reverse_commission, reverse_commission);
}

/// `POST /api/partners`: `POST /v1/affiliates`.
#[utoipa::path(
    post, path = "/api/partners", operation_id = "guideCreatePartner",
    tag = "compat", summary = "Integration guide: POST /v1/affiliates",
    params(IdempotencyKey),
    request_body(
        content = dto::CreateAffiliate,
        example = json!({"email": "jane@example.com", "name": "Jane Doe", "customFields": {"userId": "u_1042"}}),
    ),
    responses(Created<dto::AffiliateResponse>),
    security(("bearer" = [])),
)]
async fn create_partner(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: ApiJson<dto::CreateAffiliate>,
) -> Result<HttpResponse, ApiError> {
    affiliates::create(state, req, auth, body).await
}

/// `GET /api/partners/{id}/stats`: `GET /v1/affiliates/{id}/stats`.
#[utoipa::path(
    get, path = "/api/partners/{id}/stats", operation_id = "guidePartnerStats",
    tag = "compat", summary = "Integration guide: GET /v1/affiliates/{id}/stats",
    params(stats::StatsQuery),
    responses(Success<dto::AffiliateStats>),
    security(("bearer" = [])),
)]
async fn partner_stats(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    query: ApiQuery<stats::StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    stats::affiliate(state, auth, id, query).await
}

/// `POST /api/customers`: `POST /v1/customers`.
#[utoipa::path(
    post, path = "/api/customers", operation_id = "guideCreateCustomer",
    tag = "compat", summary = "Integration guide: POST /v1/customers",
    params(IdempotencyKey),
    request_body(
        content = dto::CreateCustomer,
        example = json!({"key": "user_1042", "email": "buyer@example.com", "affiliateId": "aff_abc123"}),
    ),
    responses(Created<dto::CustomerResponse>),
    security(("bearer" = [])),
)]
async fn create_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: RawJson<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    customers::create(state, req, auth, body).await
}

/// `DELETE /api/commissions/{id}`: `DELETE /v1/commissions/{id}`.
#[utoipa::path(
    delete, path = "/api/commissions/{id}", operation_id = "guideReverseCommission",
    tag = "compat", summary = "Integration guide: DELETE /v1/commissions/{id}",
    params(commissions::ReverseQuery),
    responses(Success<dto::ReversalResult>),
    security(("bearer" = [])),
)]
async fn reverse_commission(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    query: ApiQuery<commissions::ReverseQuery>,
) -> Result<HttpResponse, ApiError> {
    commissions::reverse(state, auth, id, query).await
}

/// `POST /api/commissions {affiliateId, amount | saleAmount, orderId?, productId?}`: a sale
/// of the affiliate; answers the commission it earned.
#[utoipa::path(
    post, path = "/api/commissions", operation_id = "guideCreateCommission",
    tag = "compat", summary = "Integration guide: a sale of an affiliate (amount is the SALE amount); POST /v1/commissions with saleAmount",
    params(IdempotencyKey),
    request_body(
        content = dto::compat::GuideCommission,
        example = json!({"affiliateId": "aff_abc123", "amount": 99.99, "orderId": "order_123456"}),
    ),
    responses(Created<dto::CommissionResponse>),
    security(("bearer" = [])),
)]
async fn create_commission(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<GuideCommission>,
) -> Result<HttpResponse, ApiError> {
    let sale = match (body.amount, body.sale_amount) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "saleAmount",
                "give the sale amount once, as amount or as saleAmount",
            ))
        }
        (a, s) => a.or(s),
    }
    .ok_or_else(|| ApiError::invalid("amount", "the sale amount is required"))?;
    let native = CreateCommission {
        affiliate_id: body.affiliate_id,
        amount: None,
        sale_amount: Some(sale),
        product_id: body.product_id,
        order_id: body.order_id,
        description: None,
    };
    commissions::create_commission(state, req, auth, native).await
}
