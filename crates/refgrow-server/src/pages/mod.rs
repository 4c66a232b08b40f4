//! The pages a person opens, server-rendered from templates compiled into the binary (askama,
//! `templates/`), with inline CSS, JavaScript and SVG: no external asset, no build step.
//!
//! - [`dashboard`]: the embedded referral dashboard, `/embed/referrals?token=…`.
//! - [`accept`]: the hosted onboarding page behind an invitation's `acceptUrl`.
//! - [`portal`]: `/portal`, sign-in by a magic link sent by email.
//!
//! Every page sends a `Content-Security-Policy` that allows only its own inline style and
//! script (by nonce) and posting forms to this server. Only the dashboard may be framed, and
//! only by the program's `embedOrigins` (`frame-ancestors`); the other pages refuse framing.
//! Forms carry their token in a hidden field (never a cookie), and a POST whose `Origin`
//! names another site is refused, so the pages work without third-party cookies and are
//! safe from cross-site request forgery. These HTML pages are not part of the JSON API and
//! its OpenAPI document.

pub mod accept;
pub mod dashboard;
pub mod portal;
pub mod theme;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{guard, web, HttpRequest, HttpResponse};
use askama::Template;

/// Registers the pages (outside `/v1`, but for the `GET` of an invitation's `acceptUrl`,
/// which is registered before the `/v1` scope so its `POST` still reaches the API).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/embed/referrals")
            .guard(guard::Get())
            .to(dashboard::show),
    )
    .service(
        web::resource("/embed/referrals/payout")
            .guard(guard::Post())
            .to(dashboard::save_payout),
    )
    .service(
        web::resource("/v1/invitations/{token}/accept")
            .guard(guard::Get())
            .to(accept::show),
    )
    .service(
        web::resource("/invitations/accept")
            .guard(guard::Post())
            .to(accept::submit),
    )
    .service(
        web::resource("/portal")
            .guard(guard::Get())
            .to(portal::show),
    )
    .service(
        web::resource("/portal")
            .guard(guard::Post())
            .to(portal::request),
    )
    .service(
        web::resource("/portal/signin")
            .guard(guard::Get())
            .to(portal::signin),
    );
}

/// A random nonce for the page's inline style and script.
pub fn nonce() -> String {
    crate::idgen::random_base62(22)
}

/// The page's `Content-Security-Policy`.
pub fn csp(nonce: &str, frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}"
    )
}

/// Renders a page with its security headers.
pub fn html(
    status: StatusCode,
    page: &impl Template,
    nonce: &str,
    frame_ancestors: &str,
) -> HttpResponse {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            log::error!("page rendering failed: {e}");
            return HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("The page could not be shown.");
        }
    };
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // `same-origin`: the token-bearing URL never leaves as a Referer to another site, and
        // a form POST still carries the page's Origin (`no-referrer` would make it `null`).
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body);
    if let Ok(v) = HeaderValue::from_str(&csp(nonce, frame_ancestors)) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// A page that says what went wrong, in a sentence, with a status.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    /// The nonce of the inline style.
    pub nonce: &'a str,
    /// The theme.
    pub theme: &'a theme::Theme,
    /// The heading.
    pub title: &'a str,
    /// The sentence.
    pub message: &'a str,
}

/// Renders a [`MessagePage`].
pub fn message(
    status: StatusCode,
    theme: &theme::Theme,
    frame_ancestors: &str,
    title: &str,
    message: &str,
) -> HttpResponse {
    let n = nonce();
    html(
        status,
        &MessagePage {
            nonce: &n,
            theme,
            title,
            message,
        },
        &n,
        frame_ancestors,
    )
}

/// Logs an unexpected error of the page `what` and answers the `500` page saying `advice`.
pub fn went_wrong(
    e: &crate::error::ApiError,
    what: &str,
    theme: &theme::Theme,
    advice: &str,
) -> HttpResponse {
    log::error!("{what}: {}", e.message);
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        theme,
        "'none'",
        "Something went wrong",
        advice,
    )
}

/// The `403` page of a form sent from elsewhere than `page` (see [`same_origin`]).
pub fn not_allowed(theme: &theme::Theme, page: &str) -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        theme,
        "'none'",
        "Not allowed",
        &format!("This form can only be sent from {page} itself."),
    )
}

/// Whether a form POST comes from this server's own pages: its `Origin` (when the browser
/// sends one) must be the server's public origin or the request's own host.
pub fn same_origin(req: &HttpRequest, public_base: &str) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let public = url::Url::parse(public_base)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if origin == public {
        return true;
    }
    let info = req.connection_info();
    origin == format!("{}://{}", info.scheme(), info.host())
}

/// `a***@example.com`: enough for a person to recognise a referral, no more.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// A date of a millisecond timestamp, `YYYY-MM-DD`.
pub fn date(ms: i64) -> String {
    crate::clock::ms_to_datetime(ms)
        .format("%Y-%m-%d")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("nope"), "***");
    }

    #[test]
    fn the_policy_names_the_frame_ancestors() {
        let p = csp("abc", "https://app.example.com");
        assert!(p.contains("frame-ancestors https://app.example.com"));
        assert!(p.contains("script-src 'nonce-abc'"));
    }
}
