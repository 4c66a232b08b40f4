//! `/v1/commissions`: list, get, manual create, status moves and reversal.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{
    CommissionList, CommissionResponse, CommissionStatus, CreateCommission, ReversalResult,
    UpdateCommissionStatus,
};
use refgrow_types::{AffiliateId, CommissionId};
use serde::Deserialize;

use super::ok;
use crate::auth::Auth;
use crate::db::commissions::{self as store, Filter};
use crate::error::ApiError;
use crate::extract::{check_len, page, path_id, ApiJson, ApiQuery};
use crate::idempotency::{fingerprint, write_once, Answer};
use crate::openapi::doc::{
    paging, query_params, status, text, time_range, Created, IdempotencyKey, Success,
};
use crate::routes::Routes;
use crate::services::commissions;
use crate::state::AppState;
use crate::validate::parse_range;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_list, list)
        .add(__path_create, create)
        .add(__path_get, get)
        .add(__path_reverse, reverse)
        .add(__path_set_status, set_status);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    affiliate_id: Option<AffiliateId>,
    status: Option<CommissionStatus>,
    from: Option<String>,
    to: Option<String>,
}

query_params!(
    ListQuery,
    paging(),
    text("affiliateId", "Only this affiliate's"),
    status(&["pending", "approved", "paid", "rejected", "reversed"]),
    time_range()
);

#[utoipa::path(
    get, path = "/v1/commissions", operation_id = "listCommissions",
    tag = "commissions", summary = "List commissions",
    params(ListQuery),
    responses(Success<dto::CommissionList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    let filter = Filter {
        affiliate_id: q.affiliate_id.map(|a| a.into_string()),
        status: q.status.map(|s| s.as_str().to_string()),
        from,
        to,
    };
    let list = state
        .db
        .read(move |c| {
            let (rows, total) = store::list(c, &auth.program_id, &filter, limit, offset)?;
            Ok(CommissionList {
                commissions: rows.iter().map(commissions::to_dto).collect(),
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

#[utoipa::path(
    get, path = "/v1/commissions/{id}", operation_id = "getCommission",
    tag = "commissions", summary = "A commission",
    responses(Success<dto::CommissionResponse>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", CommissionId::parse)?;
    let row = state
        .db
        .read(move |c| commissions::load(c, &auth.program_id, id.as_str()))
        .await?;
    Ok(ok(CommissionResponse {
        commission: commissions::to_dto(&row),
    }))
}

#[utoipa::path(
    post, path = "/v1/commissions", operation_id = "createCommission",
    tag = "commissions", summary = "A manual commission (amount) or a sale priced by the rule (saleAmount); idempotent by orderId",
    params(IdempotencyKey),
    request_body(
        content = dto::CreateCommission,
        example = json!({"affiliateId": "aff_abc123", "saleAmount": 99.99, "orderId": "order-2026-12"}),
    ),
    responses(Created<dto::CommissionResponse>),
    security(("bearer" = [])),
)]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<CreateCommission>,
) -> Result<HttpResponse, ApiError> {
    create_commission(state, req, auth, body).await
}

/// `POST /v1/commissions` once parsed: a manual commission (`amount`) or a sale of the
/// affiliate priced by the program's rule (`saleAmount`). Also serves the guide's
/// `POST /api/commissions`.
pub async fn create_commission(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: CreateCommission,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if let Some(o) = &body.order_id {
        check_len("orderId", o, 1, 200)?;
    }
    if let Some(d) = &body.description {
        check_len("description", d, 1, 1000)?;
    }
    if let Some(p) = &body.product_id {
        check_len("productId", p, 1, 200)?;
    }
    let (field, given) = match (body.amount, body.sale_amount) {
        (Some(a), None) => ("amount", a),
        (None, Some(s)) => ("saleAmount", s),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "saleAmount",
                "give either amount (the commission) or saleAmount (the sale), not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "amount",
                "one of amount (the commission) or saleAmount (the sale) is required",
            ))
        }
    };
    if body.product_id.is_some() && field == "amount" {
        return Err(ApiError::invalid(
            "productId",
            "prices a sale: it goes with saleAmount only",
        ));
    }
    let print = fingerprint(&req, &body)?;
    let hash =
        crate::idgen::hash_secret(&serde_json::to_string(&body).map_err(ApiError::internal)?);
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let (row, replay) =
            commissions::create_manual(c, &program_id, &body, field, given, hash, now)?;
        let answer = CommissionResponse {
            commission: commissions::to_dto(&row),
        };
        if replay {
            Answer::replay(&answer)
        } else {
            Answer::new(StatusCode::CREATED, &answer)
        }
    })
    .await
}

#[utoipa::path(
    put, path = "/v1/commissions/{id}/status", operation_id = "setCommissionStatus",
    tag = "commissions", summary = "Approve, reject or mark paid",
    request_body(content = dto::UpdateCommissionStatus, example = json!({"status": "approved"})),
    responses(Success<dto::CommissionResponse>),
    security(("bearer" = [])),
)]
async fn set_status(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateCommissionStatus>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", CommissionId::parse)?;
    let now = state.clock.now_ms();
    let row = state
        .db
        .write(move |c| {
            crate::services::approval::set_status(
                c,
                &auth.program_id,
                id.as_str(),
                body.status,
                body.reason,
                now,
            )
        })
        .await?;
    Ok(ok(CommissionResponse {
        commission: commissions::to_dto(&row),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// The query of a reversal.
pub(crate) struct ReverseQuery {
    reason: Option<String>,
}

query_params!(ReverseQuery, text("reason", "Why"));

/// `DELETE /v1/commissions/{id}` (also the guide's `DELETE /api/commissions/{id}`).
#[utoipa::path(
    delete, path = "/v1/commissions/{id}", operation_id = "reverseCommission",
    tag = "commissions", summary = "Reverse a commission (a paid one leaves a clawback)",
    params(ReverseQuery),
    responses(Success<dto::ReversalResult>),
    security(("bearer" = [])),
)]
pub(crate) async fn reverse(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiQuery(q): ApiQuery<ReverseQuery>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", CommissionId::parse)?;
    if let Some(r) = &q.reason {
        check_len("reason", r, 1, 500)?;
    }
    let now = state.clock.now_ms();
    let (row, adjustment) = state
        .db
        .write(move |c| {
            crate::services::refunds::reverse(c, &auth.program_id, id.as_str(), q.reason, now)
        })
        .await?;
    Ok(ok(ReversalResult {
        commission: commissions::to_dto(&row),
        adjustment: adjustment.as_ref().map(commissions::to_dto),
    }))
}
