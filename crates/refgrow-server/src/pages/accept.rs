//! Hosted onboarding: `GET` on an invitation's `acceptUrl` shows a page where the invitee
//! enters a name (and optionally a preferred referral code and payout details) and accepts;
//! then sees the referral link and a button that opens the dashboard. Unknown, expired,
//! accepted and cancelled invitations get a page that says so. The form posts to
//! `/invitations/accept` with the token in a hidden field (never in the logs) and goes
//! through the same service as `POST /v1/invitations/{token}/accept`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use refgrow_types::api::{AcceptInvitation, InvitationStatus, ReferralCode};
use serde::Deserialize;

use super::theme::Theme;
use super::{html, message, nonce, not_allowed, same_origin, went_wrong};
use crate::db::embed::KIND_EMBED;
use crate::db::invitations::{self as store, InvitationRow};
use crate::db::programs::ProgramRow;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::hash_secret;
use crate::services::{affiliates, embed, invitations, program};
use crate::state::AppState;

/// The form.
#[derive(Template, Default)]
#[template(path = "accept.html")]
pub struct AcceptPage {
    nonce: String,
    theme: Theme,
    program_name: String,
    email: String,
    note: Option<String>,
    error: Option<String>,
    token: String,
    name: String,
    referral_code: String,
    payment_method: String,
    payment_details: String,
}

/// After accepting.
#[derive(Template)]
#[template(path = "welcome.html")]
pub struct WelcomePage {
    nonce: String,
    theme: Theme,
    program_name: String,
    name: String,
    status: String,
    link: String,
    dashboard: String,
}

fn not_live(status: Option<InvitationStatus>) -> HttpResponse {
    let theme = Theme::default();
    let (code, title, text) = match status {
        None => (
            StatusCode::NOT_FOUND,
            "This invitation link is not valid",
            "Check that the whole link was copied, or ask the program for a new invitation.",
        ),
        Some(InvitationStatus::Accepted) => (
            StatusCode::GONE,
            "This invitation has already been accepted",
            "If it was you, sign in at /portal with your email to open your dashboard.",
        ),
        Some(InvitationStatus::Cancelled) => (
            StatusCode::GONE,
            "This invitation was cancelled",
            "The program withdrew it. Ask the program for a new invitation if you expected one.",
        ),
        Some(_) => (
            StatusCode::GONE,
            "This invitation has expired",
            "Invitations are open for a limited time. Ask the program for a new one.",
        ),
    };
    message(code, &theme, "'none'", title, text)
}

/// The invitation of a token, with its program.
fn invitation_of(
    c: &mut DbConn,
    token: &str,
) -> Result<Option<(InvitationRow, ProgramRow)>, ApiError> {
    let Some(row) = store::find_by_token_hash(c, &hash_secret(token))? else {
        return Ok(None);
    };
    let prog = program::load(c, &row.program_id)?;
    Ok(Some((row, prog)))
}

/// `GET /v1/invitations/{token}/accept`.
pub async fn show(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    let now = state.clock.now_ms();
    let t = token.clone();
    let found = state
        .db
        .read(move |c| {
            if t.len() > 200 {
                return Ok(None);
            }
            invitation_of(c, &t)
        })
        .await;
    match found {
        Ok(Some((row, prog))) => {
            let status = invitations::status_of(&row, now);
            if status != InvitationStatus::Pending {
                return not_live(Some(status));
            }
            let n = nonce();
            let page = AcceptPage {
                nonce: n.clone(),
                program_name: prog.name,
                email: row.email,
                note: row.message,
                token,
                ..Default::default()
            };
            html(StatusCode::OK, &page, &n, "'none'")
        }
        Ok(None) => not_live(None),
        Err(e) => went_wrong(
            &e,
            "accept page",
            &Theme::default(),
            "Please try again in a moment.",
        ),
    }
}

/// The form's fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptForm {
    token: String,
    name: String,
    referral_code: Option<String>,
    payment_method: Option<String>,
    payment_details: Option<String>,
}

/// `POST /invitations/accept`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let theme = Theme::default();
    let Ok(form) = serde_urlencoded::from_bytes::<AcceptForm>(&body) else {
        return message(
            StatusCode::BAD_REQUEST,
            &theme,
            "'none'",
            "The form could not be read",
            "Open the invitation link again and send the form from there.",
        );
    };
    let base = state.config.public_base();
    if !same_origin(&req, &base) {
        return not_allowed(&theme, "the invitation page");
    }
    let clean = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let code_text = clean(&form.referral_code);
    let again = |error: String| {
        let n = nonce();
        let page = AcceptPage {
            nonce: n.clone(),
            error: Some(error),
            token: form.token.clone(),
            name: form.name.clone(),
            referral_code: code_text.clone().unwrap_or_default(),
            payment_method: clean(&form.payment_method).unwrap_or_default(),
            payment_details: clean(&form.payment_details).unwrap_or_default(),
            ..Default::default()
        };
        (page, n)
    };
    let referral_code = match &code_text {
        Some(c) => match ReferralCode::parse(c) {
            Some(code) => Some(code),
            None => {
                let (page, n) = again(
                    "The referral code may hold only letters, digits, hyphens and underscores \
                     (3 to 32)."
                        .into(),
                );
                return render_form(&state, page, &n, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
        None => None,
    };
    let accept = AcceptInvitation {
        name: form.name.trim().to_string(),
        referral_code,
        payment_method: clean(&form.payment_method),
        payment_details: clean(&form.payment_details),
    };
    let now = state.clock.now_ms();
    let ttl_ms = (state.config.affiliate_side.embed_token_secs as i64).saturating_mul(1000);
    let token = form.token.clone();
    let b = base.clone();
    let result = state
        .db
        .write(move |c| {
            let (prog, aff) = invitations::accept(c, &token, accept, now, &b)?;
            let (dash, _) = embed::mint(c, &prog.id, &aff.id, KIND_EMBED, ttl_ms, now)?;
            Ok((prog, aff, dash))
        })
        .await;
    match result {
        Ok((prog, aff, dash)) => {
            let n = nonce();
            let page = WelcomePage {
                nonce: n.clone(),
                theme,
                program_name: prog.name,
                name: aff.name,
                status: aff.status,
                link: affiliates::referral_link(&base, &aff.referral_code),
                dashboard: format!("/embed/referrals?token={dash}"),
            };
            html(StatusCode::CREATED, &page, &n, "'none'")
        }
        Err(e) if e.code == refgrow_types::ErrorCode::ResourceNotFound => not_live(None),
        Err(e) if e.code == refgrow_types::ErrorCode::Conflict && e.details.is_none() => message(
            StatusCode::GONE,
            &theme,
            "'none'",
            "This invitation can no longer be accepted",
            &e.message,
        ),
        Err(e) if (400..500).contains(&e.code.status()) => {
            let (page, n) = again(e.message.clone());
            render_form(&state, page, &n, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => went_wrong(&e, "accept form", &theme, "Please try again in a moment."),
    }
}

/// Shows the form again with its error, filling in the program and the invitee.
async fn render_form(
    state: &web::Data<AppState>,
    mut page: AcceptPage,
    nonce: &str,
    status: StatusCode,
) -> HttpResponse {
    let t = page.token.clone();
    let found = state.db.read(move |c| invitation_of(c, &t)).await;
    match found {
        Ok(Some((row, prog))) => {
            page.program_name = prog.name;
            page.email = row.email;
            page.note = row.message;
            html(status, &page, nonce, "'none'")
        }
        _ => not_live(None),
    }
}
