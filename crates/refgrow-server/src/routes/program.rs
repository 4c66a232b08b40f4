//! `GET/PATCH /v1/program`.

use actix_web::{web, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{ProgramResponse, UpdateProgram};

use super::ok;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::openapi::doc::Success;
use crate::routes::Routes;
use crate::services::program;
use crate::state::AppState;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_get, get).add(__path_patch, patch);
}

#[utoipa::path(
    get, path = "/v1/program", operation_id = "getProgram",
    tag = "program", summary = "The program of the key",
    responses(Success<dto::ProgramResponse>),
    security(("bearer" = [])),
)]
async fn get(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let sealer = state.secrets.clone();
    let program = state
        .db
        .read(move |c| {
            let mut program = program::to_dto(&program::load(c, &auth.program_id)?, &sealer)?;
            program.embed_origins = crate::services::embed::origins(c, &auth.program_id)?;
            Ok(program)
        })
        .await?;
    Ok(ok(ProgramResponse { program }))
}

#[utoipa::path(
    patch, path = "/v1/program", operation_id = "updateProgram",
    tag = "program", summary = "Change settings and the commission rule",
    request_body(
        content = dto::UpdateProgram,
        example = json!({"websiteUrl": "https://example.com", "cookieDays": 60, "holdDays": 30, "minPayout": 50, "commission": {"type": "percentage", "rate": 20}}),
    ),
    responses(Success<dto::ProgramResponse>),
    security(("bearer" = [])),
)]
async fn patch(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<UpdateProgram>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let now = state.clock.now_ms();
    let sealer = state.secrets.clone();
    let program = state
        .db
        .write(move |c| {
            let origins = body.embed_origins.clone();
            let row = program::update(c, &sealer, &auth.program_id, body, now)?;
            let mut program = program::to_dto(&row, &sealer)?;
            program.embed_origins = match origins {
                Some(list) => crate::services::embed::set_origins(c, &row.id, &list, now)?,
                None => crate::services::embed::origins(c, &row.id)?,
            };
            Ok(program)
        })
        .await?;
    state.clicks.invalidate_codes();
    Ok(ok(ProgramResponse { program }))
}
