//! `GET/PATCH /v1/program`.

use actix_web::{web, HttpResponse};
use refgrow_types::api::{ProgramResponse, UpdateProgram};

use super::ok;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::services::program;
use crate::state::AppState;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/program", web::get().to(get))
        .route("/program", web::patch().to(patch));
}

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
            use diesel::Connection;
            c.transaction(|c| {
                let origins = body.embed_origins.clone();
                let row = program::update(c, &sealer, &auth.program_id, body, now)?;
                let mut program = program::to_dto(&row, &sealer)?;
                program.embed_origins = match origins {
                    Some(list) => crate::services::embed::set_origins(c, &row.id, &list, now)?,
                    None => crate::services::embed::origins(c, &row.id)?,
                };
                Ok(program)
            })
        })
        .await?;
    state.clicks.invalidate_codes();
    Ok(ok(ProgramResponse { program }))
}
