//! Invitations: `/v1/affiliates/invitations` (create a batch, list, fetch, cancel; API key)
//! and `/v1/invitations/{token}/accept` (the invitee joins; the token is the only credential).
//!
//! [`configure`] must run before the affiliates routes, or `GET /affiliates/{id}` would take
//! `GET /affiliates/invitations`.
//!
//! Creating a batch does not honour `Idempotency-Key`: a saved answer would keep the tokens,
//! which are stored only as hashes. A repeated batch is still harmless: addresses invited the
//! first time are skipped as `pending_invitation`.

use actix_web::{web, HttpResponse};
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
use crate::services::{affiliates, invitations, mail, program};
use crate::state::AppState;

/// Registers the routes (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/affiliates/invitations", web::post().to(create))
        .route("/affiliates/invitations", web::get().to(list))
        .route("/affiliates/invitations/{id}", web::get().to(get))
        .route("/affiliates/invitations/{id}", web::delete().to(cancel))
        .route("/invitations/{token}/accept", web::post().to(accept));
}

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
