//! Clicks: `POST /v1/referrals/track` and the public redirect `GET /r/{code}`.
//!
//! Both answer from memory (see [`crate::clicks`]): the code is resolved through a short
//! cache and the click is buffered for a batched write, so no write lock is taken per click.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{Click, TrackClick};
use refgrow_types::{AffiliateId, ClickId};

use super::created;
use crate::auth::Auth;
use crate::clicks::{ClickRow, ResolvedCode};
use crate::clock::{ms_to_datetime, DAY_MS};
use crate::error::ApiError;
use crate::extract::{check_len, ApiJson};
use crate::idgen::new_id;
use crate::openapi::doc::{query_params, text, Created, Redirect};
use crate::routes::Routes;
use crate::state::AppState;

/// The cookie that holds the click id on the visitor's browser.
pub const CLICK_COOKIE: &str = "refgrow_click";
/// The query parameter added to the landing URL with the click id.
pub const CLICK_PARAM: &str = "refgrow_click";

/// The query of the public link (read by hand in `redirect`).
struct RedirectQuery;

query_params!(RedirectQuery, text("to", "A path on the program's website"));

/// Registers `POST /referrals/track` (inside `/v1`).
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_track, track);
}

/// Registers the public `GET /r/{code}` (outside `/v1`, no key).
pub fn public_routes(r: &mut Routes<'_>) {
    r.add(__path_redirect, redirect);
}

fn optional_text(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) => {
            check_len(field, s, 1, max)?;
            Ok(Some(s.clone()))
        }
        None => Ok(None),
    }
}

fn new_click(resolved: &ResolvedCode, code: &str, now: i64) -> ClickRow {
    ClickRow {
        id: new_id(ClickId::PREFIX),
        program_id: resolved.program_id.clone(),
        affiliate_id: resolved.affiliate_id.clone(),
        referral_code: code.to_string(),
        source_url: None,
        landing_url: None,
        user_agent: None,
        ip_address: None,
        created_at: now,
    }
}

#[utoipa::path(
    post, path = "/v1/referrals/track", operation_id = "trackClick",
    tag = "tracking", summary = "Record a click",
    request_body(
        content = dto::TrackClick,
        example = json!({"referralCode": "JANE10", "landingUrl": "https://example.com/pricing"}),
    ),
    responses(Created<dto::Click>),
    security(("bearer" = [])),
)]
async fn track(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<TrackClick>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let source_url = optional_text("sourceUrl", &body.source_url, 2000)?;
    let landing_url = optional_text("landingUrl", &body.landing_url, 2000)?;
    let user_agent = optional_text("userAgent", &body.user_agent, 1000)?;
    let ip_address = match &body.ip_address {
        Some(ip) => Some(
            ip.trim()
                .parse::<std::net::IpAddr>()
                .map_err(|_| ApiError::invalid("ipAddress", "must be an IPv4 or IPv6 address"))?
                .to_string(),
        ),
        None => None,
    };
    let code = body.referral_code.as_str();
    let resolved = state
        .clicks
        .resolve(&state.db, Some(&auth.program_id), code)
        .await?
        .ok_or_else(|| ApiError::not_found("affiliate with this referral code"))?;
    if resolved.status == "blocked" {
        return Err(ApiError::conflict(
            "This affiliate is blocked: clicks on its links are not recorded",
        ));
    }
    let now = state.clock.now_ms();
    let mut click = new_click(&resolved, code, now);
    click.source_url = source_url;
    click.landing_url = landing_url;
    click.user_agent = user_agent;
    click.ip_address = ip_address;
    let dto = Click {
        click_id: ClickId::from_trusted(click.id.clone()),
        referral_code: code.to_string(),
        affiliate_id: AffiliateId::from_trusted(click.affiliate_id.clone()),
        timestamp: ms_to_datetime(now),
    };
    if let Err(why) = state.clicks.record(&state.db, click).await {
        state
            .clicks
            .counters()
            .refused
            .with_label_values(&[why.label()])
            .inc();
        return Err(why.into_error());
    }
    Ok(created(dto))
}

/// The path part of `to`, when it is a safe same-site path (`/pricing?x=1`): absolute,
/// not protocol-relative, no backslashes or control characters.
pub fn safe_path(to: &str) -> Option<&str> {
    let ok = to.starts_with('/')
        && !to.starts_with("//")
        && to.len() <= 2000
        && !to.contains('\\')
        && !to.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(to)
}

/// The landing URL: the website plus `to`, never another host.
pub fn landing(website: &str, to: Option<&str>, click_id: Option<&str>) -> Option<url::Url> {
    let base = url::Url::parse(website).ok()?;
    let mut target = match to.and_then(safe_path) {
        Some(path) => base.join(path).ok()?,
        None => base.clone(),
    };
    if target.host_str() != base.host_str()
        || target.scheme() != base.scheme()
        || target.port() != base.port()
    {
        target = base;
    }
    if let Some(id) = click_id {
        target.query_pairs_mut().append_pair(CLICK_PARAM, id);
    }
    Some(target)
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer-when-downgrade"))
        .finish()
}

#[utoipa::path(
    get,
    path = "/r/{code}",
    operation_id = "redirect",
    tag = "tracking",
    summary = "Public referral link: records the click and redirects (302) to the website",
    params(RedirectQuery),
    responses(Redirect),
    security()
)]
async fn redirect(
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let to: Option<String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned());
    let code = refgrow_types::api::normalize_referral_code(&code);
    // The visitor's address (behind trusted proxies, from their headers): its bucket is
    // taken before the code is looked up, so known and unknown codes cost a flood the same.
    let ip = crate::client_ip::client_ip(&req, &state.trusted_proxies).map(|ip| ip.to_string());
    let over_limit = ip
        .as_deref()
        .and_then(|ip| {
            state
                .ip_limits
                .check(ip, state.config.click_rate_limit_per_sec)
        })
        .is_some_and(|d| !d.allowed);
    let resolved = match &code {
        // Over the limit, only what the cache holds is used: no database read.
        Some(code) if over_limit => state.clicks.cached_public(code).flatten(),
        Some(code) => match state.clicks.resolve(&state.db, None, code).await {
            Ok(r) => r,
            // The database is down and the code is not cached: send the visitor on anyway.
            Err(e) if e.is_db_down() => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let (resolved, code) = match (resolved, code) {
        (Some(r), Some(code)) if r.status != "blocked" => (r, code),
        _ => {
            // Unknown (or blocked) code: land on the website, record nothing.
            let fallback = state
                .clicks
                .fallback_website(&state.db, &state.config)
                .await?;
            return match fallback.and_then(|w| landing(&w, to.as_deref(), None)) {
                Some(url) => Ok(found(url.as_str())),
                None => Err(ApiError::not_found("referral link")),
            };
        }
    };
    let Some(website) = resolved.website_url.clone() else {
        return Err(ApiError::not_found(
            "website for this program (set websiteUrl)",
        ));
    };
    if over_limit {
        // A flood from one address still lands on the website but records nothing.
        return match landing(&website, to.as_deref(), None) {
            Some(url) => Ok(found(url.as_str())),
            None => Err(ApiError::not_found("website for this program")),
        };
    }
    let now = state.clock.now_ms();
    let mut click = new_click(&resolved, &code, now);
    click.user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(1000).collect());
    click.source_url = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(2000).collect());
    click.ip_address = ip;
    let target = landing(&website, to.as_deref(), Some(&click.id))
        .ok_or_else(|| ApiError::not_found("website for this program"))?;
    click.landing_url = Some(target.to_string().chars().take(2000).collect());
    // First-click programs keep the cookie of an earlier click while it lasts.
    let keep_cookie = resolved.attribution_first_click
        && req
            .cookie(CLICK_COOKIE)
            .is_some_and(|c| ClickId::parse(c.value()).is_ok());
    let click_id = click.id.clone();
    if let Err(why) = state.clicks.record(&state.db, click).await {
        // Not recorded (buffer full, or nowhere durable): the visitor still lands.
        state
            .clicks
            .counters()
            .dropped
            .with_label_values(&[why.label()])
            .inc();
        return match landing(&website, to.as_deref(), None) {
            Some(url) => Ok(found(url.as_str())),
            None => Err(ApiError::not_found("website for this program")),
        };
    }
    let mut res = found(target.as_str());
    if !keep_cookie {
        let max_age = i64::from(resolved.cookie_days.max(1)) * DAY_MS / 1000;
        let cookie = Cookie::build(CLICK_COOKIE, click_id)
            .path("/")
            .max_age(actix_web::cookie::time::Duration::seconds(max_age))
            .same_site(SameSite::Lax)
            .secure(state.config.public_base().starts_with("https://"))
            .finish();
        res.add_cookie(&cookie).map_err(ApiError::internal)?;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_leaves_the_website() {
        let w = "https://acme.example/";
        let l = |to: &str| landing(w, Some(to), None).unwrap().to_string();
        assert_eq!(
            l("/pricing?plan=pro"),
            "https://acme.example/pricing?plan=pro"
        );
        assert_eq!(l("//evil.example/x"), "https://acme.example/");
        assert_eq!(l("https://evil.example/"), "https://acme.example/");
        assert_eq!(l("/\\evil.example"), "https://acme.example/");
        assert_eq!(
            l("/%2F%2Fevil.example"),
            "https://acme.example/%2F%2Fevil.example"
        );
        assert_eq!(l("javascript:alert(1)"), "https://acme.example/");
        let with_id = landing(w, Some("/a"), Some("click_1")).unwrap().to_string();
        assert_eq!(with_id, "https://acme.example/a?refgrow_click=click_1");
    }
}
