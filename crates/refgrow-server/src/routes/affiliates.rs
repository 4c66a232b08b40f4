//! `/v1/affiliates`: enrol, list, fetch (by id or code) and change affiliates.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{
    normalize_referral_code, AffiliateList, AffiliateResponse, AffiliateSource, AffiliateStatus,
    CreateAffiliate, Email, UpdateAffiliate,
};
use refgrow_types::AffiliateId;
use serde::Deserialize;

use super::ok;
use crate::auth::Auth;
use crate::db::affiliates::{self as store, AffiliateRow, Filter};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::extract::{page, path_id, ApiJson, ApiQuery};
use crate::idempotency::{fingerprint, write_once, Answer};
use crate::openapi::doc::{
    paging, query_params, status, text, AnyOf, Created, IdempotencyKey, Success,
};
use crate::routes::Routes;
use crate::services::{affiliates, program};
use crate::state::AppState;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create, create)
        .add(__path_list, list)
        .add(__path_get_by_code, get_by_code)
        .add(__path_get, get)
        .add(__path_patch, patch);
}

/// `POST /v1/affiliates` (also the guide's `POST /api/partners`).
#[utoipa::path(
    post, path = "/v1/affiliates", operation_id = "createAffiliate",
    tag = "affiliates", summary = "Enrol an affiliate",
    params(IdempotencyKey),
    request_body(
        content = dto::CreateAffiliate,
        example = json!({"email": "jane@example.com", "name": "Jane Doe", "referralCode": "JANE10"}),
    ),
    responses(Created<dto::AffiliateResponse>),
    security(("bearer" = [])),
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<CreateAffiliate>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let print = fingerprint(&req, &body)?;
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let prog = program::load(c, &program_id)?;
        let row = affiliates::create(c, &prog, body, AffiliateSource::Api, now)?;
        crate::services::events::affiliate_changed(
            c,
            &prog,
            &row,
            "affiliate.created",
            &base,
            now,
        )?;
        let affiliate = affiliates::to_dto(&row, &prog, Default::default(), &base);
        Answer::new(StatusCode::CREATED, &AffiliateResponse { affiliate })
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<AffiliateStatus>,
    email: Option<String>,
}

query_params!(
    ListQuery,
    paging(),
    status(&["pending", "active", "suspended", "blocked"]),
    text("email", "Only this email")
);

#[utoipa::path(
    get, path = "/v1/affiliates", operation_id = "listAffiliates",
    tag = "affiliates", summary = "List affiliates",
    params(ListQuery),
    responses(Success<dto::AffiliateList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let email = match q.email {
        Some(e) => Some(
            Email::parse(&e)
                .ok_or_else(|| ApiError::invalid("email", "must be a valid email address"))?
                .into_string(),
        ),
        None => None,
    };
    let filter = Filter {
        status: q.status.map(|s| s.as_str().to_string()),
        email,
    };
    let base = state.config.public_base();
    let list = state
        .db
        .read(move |c| {
            let prog = program::load(c, &auth.program_id)?;
            let (rows, total) = store::list(c, &auth.program_id, &filter, limit, offset)?;
            Ok(AffiliateList {
                affiliates: affiliates::to_dtos(c, &rows, &prog, &base)?,
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

/// `GET /v1/affiliates/{id}`; a segment that is not an `aff_` id is a referral code, answered
/// in the store-affiliate API's shape ([`super::compat::store`]).
#[utoipa::path(
    get, path = "/v1/affiliates/{id}", operation_id = "getAffiliate",
    tag = "affiliates", summary = "An affiliate; a segment that is not an aff_ id is a referral code, answered in the store-affiliate shape (docs/compat.md)",
    responses(Success<AnyOf<(dto::AffiliateResponse, dto::compat::StoreAffiliateResponse)>>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !id.starts_with(AffiliateId::PREFIX) {
        return super::compat::store::affiliate_by_code(state, auth, id.into_inner()).await;
    }
    let id = path_id(&id, "id", AffiliateId::parse)?;
    let affiliate = read_affiliate(&state, auth, move |c, program| {
        affiliates::load(c, program, id.as_str())
    })
    .await?;
    Ok(ok(AffiliateResponse { affiliate }))
}

/// The API view of the caller's affiliate that `find` picks (given the program id).
pub(super) async fn read_affiliate(
    state: &AppState,
    auth: Auth,
    find: impl FnOnce(&mut DbConn, &str) -> Result<AffiliateRow, ApiError> + Send + 'static,
) -> Result<dto::Affiliate, ApiError> {
    let base = state.config.public_base();
    state
        .db
        .read(move |c| {
            let prog = program::load(c, &auth.program_id)?;
            let row = find(c, &auth.program_id)?;
            affiliates::to_dto_of(c, &row, &prog, &base)
        })
        .await
}

#[utoipa::path(
    get, path = "/v1/affiliates/by-code/{code}", operation_id = "getAffiliateByCode",
    tag = "affiliates", summary = "An affiliate by referral code",
    responses(Success<dto::AffiliateResponse>),
    security(("bearer" = [])),
)]
async fn get_by_code(
    state: web::Data<AppState>,
    auth: Auth,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = normalize_referral_code(&code).ok_or_else(|| {
        ApiError::invalid("referralCode", refgrow_types::api::REFERRAL_CODE_ISSUE)
    })?;
    let affiliate = read_affiliate(&state, auth, move |c, program| {
        store::find_by_code(c, program, &code)?.ok_or_else(|| ApiError::not_found("affiliate"))
    })
    .await?;
    Ok(ok(AffiliateResponse { affiliate }))
}

#[utoipa::path(
    patch, path = "/v1/affiliates/{id}", operation_id = "updateAffiliate",
    tag = "affiliates", summary = "Change, approve, suspend, block or reactivate an affiliate",
    request_body(
        content = dto::UpdateAffiliate,
        example = json!({"status": "suspended", "suspendedReason": "Spam traffic"}),
    ),
    responses(Success<dto::AffiliateResponse>),
    security(("bearer" = [])),
)]
async fn patch(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateAffiliate>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", AffiliateId::parse)?;
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let affiliate = state
        .db
        .write(move |c| {
            let prog = program::load(c, &auth.program_id)?;
            let (row, _status_changed) =
                affiliates::update(c, &auth.program_id, id.as_str(), body, now)?;
            crate::services::events::affiliate_changed(
                c,
                &prog,
                &row,
                "affiliate.updated",
                &base,
                now,
            )?;
            affiliates::to_dto_of(c, &row, &prog, &base)
        })
        .await?;
    state.clicks.invalidate_codes();
    Ok(ok(AffiliateResponse { affiliate }))
}
