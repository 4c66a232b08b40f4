//! Invitations: `/v1/affiliates/invitations` (create a batch, list, fetch, cancel; API key)
//! and `/v1/invitations/{token}/accept` (the invitee joins; the token is the only credential).
//!
//! [`routes`] must run before the affiliates routes, or `GET /affiliates/{id}` would take
//! `GET /affiliates/invitations`.
//!
//! Creating a batch does not honour `Idempotency-Key`: a saved answer would keep the tokens,
//! which are stored only as hashes. A repeated batch is still harmless: addresses invited the
//! first time are skipped as `pending_invitation`.

use actix_web::{web, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{
    AcceptInvitation, AffiliateResponse, CreateInvitations, InvitationList, InvitationResponse,
    InvitationStatus,
};
use refgrow_types::InvitationId;
use serde::Deserialize;

use super::{created, ok};
use crate::auth::Auth;
use crate::db::invitations::{self as store, StatusFilter};
use crate::error::ApiError;
use crate::extract::{page, path_id, ApiJson, ApiQuery};
use crate::openapi::doc::{paging, query_params, status, Created, Success};
use crate::routes::Routes;
use crate::services::{affiliates, invitations, mail, program};
use crate::state::AppState;

/// Registers the routes (inside `/v1`).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create, create)
        .add(__path_list, list)
        .add(__path_get, get)
        .add(__path_cancel, cancel)
        .add(__path_accept, accept);
}

#[utoipa::path(
    post, path = "/v1/affiliates/invitations", operation_id = "createInvitations",
    tag = "invitations", summary = "Invite up to 25 people",
    request_body(
        content = dto::CreateInvitations,
        example = json!({"emails": ["sam@example.com", "kim@example.com"], "message": "Join our partner program"}),
    ),
    responses(Created<dto::InvitationBatch>),
    security(("bearer" = [])),
)]
async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateInvitations>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let days = state.config.invitation_days;
    let mailing = mail::enabled(&state.config);
    let batch = state
        .db
        .write(move |c| {
            let prog = program::load(c, &auth.program_id)?;
            // Who sent it: the key, with its label as it reads now.
            let label = crate::db::api_keys::find(c, &auth.key_id)?.and_then(|k| k.label);
            let sender = invitations::InvitationSender {
                key_id: auth.key_id.clone(),
                label,
            };
            let batch =
                invitations::create_batch(c, &prog, &body, days, now, &base, Some(&sender))?;
            if mailing {
                mail::enqueue_invitations(c, &prog, &batch, now)?;
            }
            Ok(batch)
        })
        .await?;
    Ok(created(batch))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<InvitationStatus>,
}

query_params!(
    ListQuery,
    paging(),
    status(&["pending", "accepted", "expired", "cancelled"])
);

#[utoipa::path(
    get, path = "/v1/affiliates/invitations", operation_id = "listInvitations",
    tag = "invitations", summary = "List invitations",
    params(ListQuery),
    responses(Success<dto::InvitationList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let status = q.status.map(|s| match s {
        InvitationStatus::Pending => StatusFilter::Pending,
        InvitationStatus::Expired => StatusFilter::Expired,
        InvitationStatus::Accepted => StatusFilter::Accepted,
        InvitationStatus::Cancelled => StatusFilter::Cancelled,
    });
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let list = state
        .db
        .read(move |c| {
            let (rows, total) = store::list(c, &auth.program_id, status, now, limit, offset)?;
            Ok(InvitationList {
                invitations: rows
                    .iter()
                    .map(|r| {
                        let mut dto = invitations::to_dto(r, now, None, &base);
                        dto.mail = mail::status_of_invitation(c, &r.id)?;
                        Ok(dto)
                    })
                    .collect::<Result<_, ApiError>>()?,
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

#[utoipa::path(
    get, path = "/v1/affiliates/invitations/{id}", operation_id = "getInvitation",
    tag = "invitations", summary = "An invitation",
    responses(Success<dto::InvitationResponse>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", InvitationId::parse)?;
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let invitation = state
        .db
        .read(move |c| {
            let row = invitations::load(c, &auth.program_id, id.as_str())?;
            let mut dto = invitations::to_dto(&row, now, None, &base);
            dto.mail = mail::status_of_invitation(c, &row.id)?;
            Ok(dto)
        })
        .await?;
    Ok(ok(InvitationResponse { invitation }))
}

#[utoipa::path(
    delete, path = "/v1/affiliates/invitations/{id}", operation_id = "cancelInvitation",
    tag = "invitations", summary = "Cancel a pending invitation",
    responses(Success<dto::InvitationResponse>),
    security(("bearer" = [])),
)]
async fn cancel(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", InvitationId::parse)?;
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let invitation = state
        .db
        .write(move |c| {
            let row = invitations::cancel(c, &auth.program_id, id.as_str(), now)?;
            Ok(invitations::to_dto(&row, now, None, &base))
        })
        .await?;
    Ok(ok(InvitationResponse { invitation }))
}

/// No API key: whoever holds the token is the invitee.
#[utoipa::path(
    post, path = "/v1/invitations/{token}/accept", operation_id = "acceptInvitation",
    tag = "invitations", summary = "Join by invitation (the token is the credential)",
    request_body(content = dto::AcceptInvitation),
    responses(Created<dto::AffiliateResponse>),
    security(),
)]
async fn accept(
    state: web::Data<AppState>,
    token: web::Path<String>,
    ApiJson(body): ApiJson<AcceptInvitation>,
) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let affiliate = state
        .db
        .write(move |c| {
            let (prog, row) = invitations::accept(c, &token, body, now, &base)?;
            Ok(affiliates::to_dto(&row, &prog, Default::default(), &base))
        })
        .await?;
    Ok(created(AffiliateResponse { affiliate }))
}
