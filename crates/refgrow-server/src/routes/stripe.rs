//! `POST /v1/integrations/stripe/{programId}/webhook`: Stripe's events, signed with the
//! program's Stripe signing secret (no API key). See [`crate::services::stripe`].

use actix_web::dev::Payload;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::ProgramId;
use serde::Serialize;

use super::ok;
use crate::error::ApiError;
use crate::extract::{path_id, read_body};
use crate::openapi::doc::{AnyObject, Success};
use crate::routes::Routes;
use crate::services::{program, stripe};
use crate::state::AppState;

/// Registers the route (inside `/v1`).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_webhook, webhook);
}

/// The answer to Stripe.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Received {
    received: bool,
    event_id: String,
    duplicate: bool,
    outcome: String,
}

#[utoipa::path(
    post, path = "/v1/integrations/stripe/{program_id}/webhook", operation_id = "stripeWebhook",
    tag = "stripe", summary = "Stripe events, signed with the program's Stripe secret",
    request_body(content = Object),
    responses(Success<AnyObject>),
    security(),
)]
async fn webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    program_id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let program_id = path_id(&program_id, "programId", ProgramId::parse)?;
    let mut inner: Payload = payload.into_inner();
    let body = read_body(&req, &mut inner).await?;
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid("Stripe-Signature", "the header is required"))?;
    let now = state.clock.now_ms();
    let secret = state
        .db
        .read({
            let id = program_id.clone();
            move |c| Ok(program::load(c, id.as_str())?.stripe_webhook_secret)
        })
        .await?
        .ok_or_else(|| {
            ApiError::invalid(
                "Stripe-Signature",
                "this program has no Stripe signing secret: set it with PATCH /v1/program {stripeWebhookSecret}",
            )
        })?;
    // Stored encrypted (see `crate::secrets`).
    let secret = state.secrets.open(&secret).map_err(ApiError::from)?;
    stripe::verify_signature(&header, &body, &secret, now.div_euclid(1000))
        .map_err(|e| ApiError::invalid("Stripe-Signature", e.to_string()))?;
    let raw = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("body", "is not UTF-8 text"))?
        .to_string();
    let event: serde_json::Value = serde_json::from_str(&raw)
        .map_err(|e| ApiError::invalid("body", format!("is not a JSON Stripe event: {e}")))?;
    if !event.is_object() {
        return Err(ApiError::invalid("body", "is not a JSON Stripe event"));
    }
    // A click answered a moment ago may still be held: commit it before the lookup.
    for id in stripe::click_ids_of(&event) {
        state.clicks.settle(&state.db, &id).await?;
    }
    let handled = state
        .db
        .write(move |c| {
            let prog = program::load(c, program_id.as_str())?;
            let event_id = event
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let h = stripe::handle_event(c, &prog, &event, &raw, now)?;
            Ok(Received {
                received: true,
                event_id,
                duplicate: h.duplicate,
                outcome: h.outcome,
            })
        })
        .await?;
    if !handled.duplicate {
        state.clicks.invalidate_codes();
    }
    Ok(ok(handled))
}
