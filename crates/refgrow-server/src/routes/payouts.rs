//! `/v1/payouts`: payout runs, listing, marking paid and the PayPal/Wise export files.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{
    CreatePayoutRun, MarkPayoutPaid, PayoutExportFormat, PayoutList, PayoutRun, PayoutStatus,
};
use refgrow_types::{AffiliateId, PayoutId};
use serde::Deserialize;

use super::ok;
use crate::auth::Auth;
use crate::db::payouts::{self as store, Filter};
use crate::error::ApiError;
use crate::extract::{check_len, page, path_id, ApiQuery, OptionalJson};
use crate::idempotency::{fingerprint, write_once, Answer};
use crate::openapi::doc::{
    paging, payout_format, query_params, status, text, Created, Csv, IdempotencyKey, Success,
};
use crate::routes::Routes;
use crate::services::payouts;
use crate::state::AppState;

/// Registers the routes. The export of all payouts comes before `/payouts/{id}`, which
/// would otherwise take `export.csv` for an id.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create_run, create_run)
        .add(__path_list, list)
        .add(__path_export_all, export_all)
        .add(__path_get, get)
        .add(__path_export_one, export_one)
        .add(__path_mark_paid, mark_paid);
}

#[utoipa::path(
    post, path = "/v1/payouts", operation_id = "createPayoutRun",
    tag = "payouts", summary = "Group approved commissions and open clawbacks into payouts (200 when nothing is due)",
    params(IdempotencyKey),
    request_body(content = Option<dto::CreatePayoutRun>),
    responses(Created<dto::PayoutRun>),
    security(("bearer" = [])),
)]
async fn create_run(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    OptionalJson(body): OptionalJson<CreatePayoutRun>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let body = body.unwrap_or_default();
    let print = fingerprint(&req, &body)?;
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let rows = payouts::run(
            c,
            &program_id,
            body.affiliate_id.as_ref().map(AffiliateId::as_str),
            now,
        )?;
        let status = if rows.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Answer::new(
            status,
            &PayoutRun {
                payouts: rows.iter().map(payouts::to_dto).collect(),
            },
        )
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<PayoutStatus>,
    affiliate_id: Option<AffiliateId>,
}

query_params!(
    ListQuery,
    paging(),
    status(&["pending", "paid"]),
    text("affiliateId", "Only this affiliate's")
);

#[utoipa::path(
    get, path = "/v1/payouts", operation_id = "listPayouts",
    tag = "payouts", summary = "List payouts",
    params(ListQuery),
    responses(Success<dto::PayoutList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let filter = Filter {
        status: q.status.map(|s| s.as_str().to_string()),
        affiliate_id: q.affiliate_id.map(AffiliateId::into_string),
    };
    let list = state
        .db
        .read(move |c| {
            let (rows, total) = store::list(
                c,
                &auth.program_id,
                &filter,
                i64::from(limit),
                offset as i64,
            )?;
            Ok(PayoutList {
                payouts: rows.iter().map(payouts::to_dto).collect(),
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

#[utoipa::path(
    get, path = "/v1/payouts/{id}", operation_id = "getPayout",
    tag = "payouts", summary = "A payout with its commissions",
    responses(Success<dto::PayoutResponse>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", PayoutId::parse)?;
    let answer = state
        .db
        .read(move |c| payouts::load(c, &auth.program_id, id.as_str()))
        .await?;
    Ok(ok(answer))
}

#[utoipa::path(
    post, path = "/v1/payouts/{id}/paid", operation_id = "markPayoutPaid",
    tag = "payouts", summary = "Mark a payout and its commissions paid",
    params(IdempotencyKey),
    request_body(content = Option<dto::MarkPayoutPaid>),
    responses(Success<dto::PayoutResponse>),
    security(("bearer" = [])),
)]
async fn mark_paid(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    id: web::Path<String>,
    OptionalJson(body): OptionalJson<MarkPayoutPaid>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", PayoutId::parse)?;
    let body = body.unwrap_or_default();
    if let Some(r) = &body.reference {
        check_len("reference", r, 1, 200)?;
    }
    let print = fingerprint(&req, &body)?;
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let answer =
            payouts::mark_paid(c, &program_id, id.as_str(), body.reference.as_deref(), now)?;
        Answer::new(StatusCode::OK, &answer)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportOneQuery {
    format: Option<PayoutExportFormat>,
}

query_params!(ExportOneQuery, payout_format());

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportAllQuery {
    format: Option<PayoutExportFormat>,
    status: Option<PayoutStatus>,
}

query_params!(
    ExportAllQuery,
    payout_format(),
    status(&["pending", "paid"])
);

fn csv_response(text: String, name: &str, format: PayoutExportFormat) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}-{}.csv\"", format.as_str()),
        ))
        .body(text)
}

#[utoipa::path(
    get, path = "/v1/payouts/{id}/export.csv", operation_id = "exportPayout",
    tag = "payouts", summary = "A payout as a PayPal or Wise mass-payment CSV",
    params(ExportOneQuery),
    responses(Csv),
    security(("bearer" = [])),
)]
async fn export_one(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiQuery(q): ApiQuery<ExportOneQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", PayoutId::parse)?;
    let format = q.format.unwrap_or_default();
    let name = id.to_string();
    let text = state
        .db
        .read(move |c| {
            let row = store::find(c, &auth.program_id, id.as_str())?
                .ok_or_else(|| ApiError::not_found("payout"))?;
            payouts::export_csv(c, &auth.program_id, &[row], format)
        })
        .await?;
    Ok(csv_response(text, &name, format))
}

/// All payouts of a status (`pending` when none is given: the ones still to pay), oldest
/// first, up to [`payouts::MAX_EXPORT_ROWS`].
#[utoipa::path(
    get, path = "/v1/payouts/export.csv", operation_id = "exportPayouts",
    tag = "payouts", summary = "Payouts as a PayPal or Wise mass-payment CSV",
    params(ExportAllQuery),
    responses(Csv),
    security(("bearer" = [])),
)]
async fn export_all(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ExportAllQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = q.format.unwrap_or_default();
    let status = q.status.unwrap_or(PayoutStatus::Pending);
    let text = state
        .db
        .read(move |c| {
            let rows = store::for_export(
                c,
                &auth.program_id,
                Some(status.as_str()),
                payouts::MAX_EXPORT_ROWS,
            )?;
            payouts::export_csv(c, &auth.program_id, &rows, format)
        })
        .await?;
    Ok(csv_response(
        text,
        &format!("payouts-{}", status.as_str()),
        format,
    ))
}
