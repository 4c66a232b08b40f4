//! `/portal`: affiliates without an account in the SaaS (invited partners) sign in to their
//! dashboard by a magic link sent by email.
//!
//! `POST /portal` with an email answers the same page whether or not an affiliate uses the
//! address (no account enumeration). For each affiliate with that email it issues a single-use
//! link (`/portal/signin?token=rgml_…`, stored as a hash, valid `REFGROW_MAGIC_LINK_SECS`,
//! default 15 minutes) and queues it for sending, at most [`MAX_LINKS`] per affiliate per
//! [`WINDOW_MS`]; requests are also limited per client address. Following the link uses it
//! up and opens the dashboard with a fresh dashboard token. Without `REFGROW_SMTP_URL`
//! nothing is sent, and the page still says the same.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use refgrow_types::api::normalize_email;
use serde::Deserialize;

use super::theme::Theme;
use super::{html, message, nonce, not_allowed, same_origin, went_wrong};
use crate::db::embed::{self as store, KIND_EMBED, KIND_MAGIC};
use crate::services::{embed, mail, program};
use crate::state::AppState;

/// Links one affiliate may be sent per window.
pub const MAX_LINKS: i64 = 3;
/// The window of [`MAX_LINKS`], ms (15 minutes).
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Sign-in requests per second per client address.
const PER_IP_PER_SEC: u32 = 1;

/// The page.
#[derive(Template)]
#[template(path = "portal.html")]
pub struct PortalPage {
    nonce: String,
    theme: Theme,
    sent: bool,
    minutes: u64,
}

fn page(state: &AppState, sent: bool) -> HttpResponse {
    let n = nonce();
    html(
        StatusCode::OK,
        &PortalPage {
            nonce: n.clone(),
            theme: Theme::default(),
            sent,
            minutes: state.config.affiliate_side.magic_link_secs.div_ceil(60),
        },
        &n,
        "'none'",
    )
}

/// `GET /portal`.
pub async fn show(state: web::Data<AppState>) -> HttpResponse {
    page(&state, false)
}

/// The form.
#[derive(Debug, Deserialize)]
pub struct PortalForm {
    email: String,
}

/// `POST /portal`.
pub async fn request(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let theme = Theme::default();
    let base = state.config.public_base();
    if !same_origin(&req, &base) {
        return not_allowed(&theme, "the sign-in page");
    }
    let ip = crate::client_ip::client_ip(&req, &state.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    if state
        .ip_limits
        .check(&format!("portal:{ip}"), PER_IP_PER_SEC)
        .is_some_and(|d| !d.allowed)
    {
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            &theme,
            "'none'",
            "Too many requests",
            "Wait a few seconds and try again.",
        );
    }
    let email = serde_urlencoded::from_bytes::<PortalForm>(&body)
        .ok()
        .and_then(|f| normalize_email(&f.email));
    let Some(email) = email else {
        return message(
            StatusCode::BAD_REQUEST,
            &theme,
            "'none'",
            "That is not an email address",
            "Go back and enter the address you joined with.",
        );
    };
    let now = state.clock.now_ms();
    let ttl_ms = (state.config.affiliate_side.magic_link_secs as i64).saturating_mul(1000);
    let minutes = state.config.affiliate_side.magic_link_secs.div_ceil(60);
    let mailing = mail::enabled(&state.config);
    let result = state
        .db
        .write(move |c| {
            for (program_id, affiliate_id) in store::affiliates_by_email(c, &email)? {
                if store::issued_since(c, &affiliate_id, KIND_MAGIC, now - WINDOW_MS)? >= MAX_LINKS
                {
                    continue;
                }
                if !mailing {
                    continue;
                }
                let (token, _) =
                    embed::mint(c, &program_id, &affiliate_id, KIND_MAGIC, ttl_ms, now)?;
                let prog = program::load(c, &program_id)?;
                let link = format!("{base}/portal/signin?token={token}");
                mail::enqueue(c, &mail::sign_in(&prog, &email, &link, minutes), now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = result {
        log::error!("portal sign-in request: {}", e.message);
    }
    page(&state, true)
}

/// The link's query.
#[derive(Debug, Deserialize)]
pub struct SigninQuery {
    token: Option<String>,
}

/// `GET /portal/signin?token=…`: uses the link up and opens the dashboard.
pub async fn signin(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let token = serde_urlencoded::from_str::<SigninQuery>(req.query_string())
        .ok()
        .and_then(|q| q.token)
        .unwrap_or_default();
    let now = state.clock.now_ms();
    let ttl_ms = (state.config.affiliate_side.embed_token_secs as i64).saturating_mul(1000);
    let result = state
        .db
        .write(move |c| {
            let Some(row) = embed::redeem_magic(c, &token, now)? else {
                return Ok(None);
            };
            let (dash, _) = embed::mint(
                c,
                &row.program_id,
                &row.affiliate_id,
                KIND_EMBED,
                ttl_ms,
                now,
            )?;
            Ok(Some(dash))
        })
        .await;
    match result {
        Ok(Some(dash)) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/embed/referrals?token={dash}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .finish(),
        Ok(None) => message(
            StatusCode::GONE,
            &Theme::default(),
            "'none'",
            "This sign-in link cannot be used",
            "Sign-in links work once and for a short time. Ask for a new one at /portal.",
        ),
        Err(e) => went_wrong(
            &e,
            "portal sign-in",
            &Theme::default(),
            "Please try again in a moment.",
        ),
    }
}
