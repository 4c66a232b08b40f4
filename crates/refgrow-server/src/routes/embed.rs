//! `POST /v1/embed-tokens`: a short-lived token for one affiliate's embedded dashboard (see
//! [`crate::services::embed`]; the dashboard itself is in [`crate::pages`]).
//!
//! It does not honour `Idempotency-Key`: a saved answer would keep the token, which is stored
//! only as a hash. A retry is harmless all the same: it finds the same affiliate (by
//! `tenantId` or email) and mints another token, which moves no money.

use actix_web::{web, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{CreateEmbedToken, EmbedToken};

use super::created;
use crate::auth::Auth;
use crate::clock::ms_to_datetime;
use crate::db::embed::KIND_EMBED;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::openapi::doc::Created;
use crate::routes::Routes;
use crate::services::{embed, program};
use crate::state::AppState;

/// Registers the routes (inside `/v1`).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create, create);
}

#[utoipa::path(
    post, path = "/v1/embed-tokens", operation_id = "createEmbedToken",
    tag = "embed", summary = "A short-lived token for one affiliate's embedded referral dashboard (finds or enrols the affiliate by email; idempotent on tenantId)",
    request_body(
        content = dto::CreateEmbedToken,
        example = json!({"email": "jane@example.com", "name": "Jane Doe", "tenantId": "user_42"}),
    ),
    responses(Created<dto::EmbedToken>),
    security(("bearer" = [])),
)]
async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateEmbedToken>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let now = state.clock.now_ms();
    let base = state.config.public_base();
    let ttl_ms = (state.config.affiliate_side.embed_token_secs as i64).saturating_mul(1000);
    let answer = state
        .db
        .write(move |c| {
            let prog = program::load(c, &auth.program_id)?;
            let aff = embed::resolve(c, &prog, &body, &base, now)?;
            let (token, expires_at) = embed::mint(c, &prog.id, &aff.id, KIND_EMBED, ttl_ms, now)?;
            Ok(EmbedToken {
                url: embed::dashboard_url(&base, &token),
                token,
                expires_at: ms_to_datetime(expires_at),
                affiliate_id: embed::affiliate_id(&aff),
            })
        })
        .await?;
    Ok(created(answer))
}
