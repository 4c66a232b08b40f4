//! `/embed/referrals?token=…`: one affiliate's referral dashboard, made to sit in an iframe
//! of the SaaS's own app (or opened after a portal sign-in).
//!
//! The figures come from the same statistics service as `GET /v1/affiliates/{id}/stats`
//! (the daily rollups), so both show the same numbers for the same range; the lists are the
//! newest rows only. Query: `token` (required), `days` (7, 30, 90 or 365; default 30) or
//! `from`/`to` (`YYYY-MM-DD`, as the stats endpoint takes them), and the look (see
//! [`super::theme`]). `POST /embed/referrals/payout` (a form with the token) changes the
//! affiliate's payout method and details, the one thing the token may change.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use refgrow_types::api::{StatsInterval, UpdateAffiliate};
use refgrow_types::money::{Currency, Money};
use serde::Deserialize;

use super::theme::Theme;
use super::{date, html, mask_email, message, nonce, not_allowed, same_origin, went_wrong};
use crate::db::affiliates::AffiliateRow;
use crate::db::embed::{self as embed_store, AccessTokenRow};
use crate::db::{commissions as commission_store, payouts as payout_store, DbConn};
use crate::error::ApiError;
use crate::services::{affiliates, embed, events, program, stats};
use crate::state::AppState;

/// The periods offered, in days.
pub const DAY_CHOICES: [i64; 4] = [7, 30, 90, 365];
/// Rows of each list.
const LIST_ROWS: i64 = 10;

/// The query of the dashboard.
#[derive(Debug, Deserialize)]
pub struct DashboardQuery {
    token: Option<String>,
    days: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    theme: Option<String>,
    accent: Option<String>,
    font: Option<String>,
    saved: Option<String>,
}

/// Money of one currency, formatted.
pub struct MoneyRow {
    /// The code.
    pub currency: String,
    /// Pending.
    pub pending: String,
    /// Approved.
    pub approved: String,
    /// Paid.
    pub paid: String,
    /// Reversed.
    pub reversed: String,
}

/// A row of the commissions or payouts list.
pub struct ListRow {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `12.50 USD`.
    pub amount: String,
    /// Its status.
    pub status: String,
}

/// One bucket of the chart: clicks (accent) and conversions (grey) bars.
pub struct Bar {
    /// Left.
    pub x: i64,
    /// Top of the clicks bar.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height of the clicks bar.
    pub h: i64,
    /// Left of the conversions bar.
    pub cx: i64,
    /// Top of the conversions bar.
    pub cy: i64,
    /// Height of the conversions bar.
    pub ch: i64,
    /// The tooltip.
    pub title: String,
}

/// The chart, drawn as inline SVG.
pub struct Chart {
    /// View box width.
    pub width: i64,
    /// View box height.
    pub height: i64,
    /// The bars.
    pub bars: Vec<Bar>,
    /// What it shows, for screen readers.
    pub label: String,
}

/// The page.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    nonce: String,
    theme: Theme,
    origins_json: String,
    token: String,
    program_name: String,
    affiliate_name: String,
    status: String,
    link: String,
    day_choices: Vec<i64>,
    days: i64,
    from: String,
    to: String,
    clicks: i64,
    signups: i64,
    conversions: i64,
    money: Vec<MoneyRow>,
    chart: Chart,
    referrals: Vec<(String, String)>,
    referral_total: i64,
    commissions: Vec<ListRow>,
    commission_total: i64,
    payouts: Vec<ListRow>,
    payment_method: String,
    payment_details: String,
    saved: bool,
}

fn amount(minor: i64, code: &str) -> String {
    match Currency::parse(code) {
        Ok(c) => format!("{} {}", Money::new(minor, c).amount(), c.code()),
        Err(_) => format!("{minor} {code}"),
    }
}

fn chart(s: &refgrow_types::api::AffiliateStats) -> Chart {
    let (width, height, base) = (600_i64, 140_i64, 124_i64);
    let n = s.series.len().max(1) as i64;
    let slot = (width / n).max(1);
    let w = (slot * 7 / 10).max(1);
    let max = s
        .series
        .iter()
        .map(|b| b.clicks.max(b.conversions))
        .max()
        .unwrap_or(0)
        .max(1);
    let bars = s
        .series
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let h = b.clicks * (base - 4) / max;
            let ch = b.conversions * (base - 4) / max;
            let x = i as i64 * slot;
            Bar {
                x,
                y: base - h,
                w: (w / 2).max(1),
                h,
                cx: x + (w / 2).max(1),
                cy: base - ch,
                ch,
                title: format!(
                    "{}: {} clicks, {} conversions",
                    b.start, b.clicks, b.conversions
                ),
            }
        })
        .collect::<Vec<_>>();
    Chart {
        width,
        height,
        bars,
        label: format!(
            "Clicks and conversions from {} to {}: {} clicks, {} conversions",
            s.from, s.to, s.totals.clicks, s.totals.conversions
        ),
    }
}

fn bad_look(e: super::theme::BadParam) -> HttpResponse {
    message(
        StatusCode::BAD_REQUEST,
        &Theme::default(),
        "'none'",
        "This link is not valid",
        &format!("The parameter '{}' {}.", e.field, e.issue),
    )
}

fn expired(theme: &Theme, frame_ancestors: &str) -> HttpResponse {
    message(
        StatusCode::UNAUTHORIZED,
        theme,
        frame_ancestors,
        "This link has expired",
        "Dashboard links work for a limited time. Open the dashboard again from the app \
         that showed it, or sign in at /portal.",
    )
}

/// The range of the query, checked exactly as the stats endpoint checks it.
fn range_of(q: &DashboardQuery, now: i64) -> Result<(stats::Range, i64), ApiError> {
    use crate::validate::parse_range;
    if q.from.is_some() || q.to.is_some() {
        let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
        let r = stats::range(from, to, Some(StatsInterval::Day), now)?;
        return Ok((r, r.to_day - r.from_day + 1));
    }
    let days = q.days.unwrap_or(30);
    if !DAY_CHOICES.contains(&days) {
        return Err(ApiError::invalid("days", "must be 7, 30, 90 or 365"));
    }
    let interval = if days > 90 {
        StatsInterval::Week
    } else {
        StatsInterval::Day
    };
    let to_day = crate::db::rollups::day_of(now);
    let from_ms = (to_day - (days - 1)) * crate::clock::DAY_MS;
    Ok((
        stats::range(Some(from_ms), None, Some(interval), now)?,
        days,
    ))
}

fn build(
    c: &mut DbConn,
    tok: &AccessTokenRow,
    range: stats::Range,
    public_base: &str,
) -> Result<(DashboardPage, Vec<String>), ApiError> {
    let prog = program::load(c, &tok.program_id)?;
    let aff: AffiliateRow = affiliates::load(c, &prog.id, &tok.affiliate_id)?;
    let origins = embed::origins(c, &prog.id)?;
    let s = stats::affiliate(c, &prog.id, &aff.id, range)?;
    let (customers, referral_total) = embed_store::referred(c, &prog.id, &aff.id, LIST_ROWS)?;
    let (commissions, commission_total) = commission_store::list(
        c,
        &prog.id,
        &commission_store::Filter {
            affiliate_id: Some(aff.id.clone()),
            ..Default::default()
        },
        LIST_ROWS as u32,
        0,
    )?;
    let (payouts, _) = payout_store::list(
        c,
        &prog.id,
        &payout_store::Filter {
            affiliate_id: Some(aff.id.clone()),
            ..Default::default()
        },
        LIST_ROWS,
        0,
    )?;
    let page = DashboardPage {
        nonce: String::new(),
        theme: Theme::default(),
        origins_json: serde_json::to_string(&origins).map_err(ApiError::internal)?,
        token: String::new(),
        program_name: prog.name.clone(),
        affiliate_name: aff.name.clone(),
        status: aff.status.clone(),
        link: affiliates::referral_link(public_base, &aff.referral_code),
        day_choices: DAY_CHOICES.to_vec(),
        days: 0,
        from: s.from.to_string(),
        to: s.to.to_string(),
        clicks: s.totals.clicks,
        signups: s.totals.signups,
        conversions: s.totals.conversions,
        money: s
            .totals
            .money
            .iter()
            .map(|m| MoneyRow {
                currency: m.currency.code().to_string(),
                pending: m.earnings.pending.to_string(),
                approved: m.earnings.approved.to_string(),
                paid: m.earnings.paid.to_string(),
                reversed: m.earnings.reversed.to_string(),
            })
            .collect(),
        chart: chart(&s),
        referrals: customers
            .iter()
            .map(|r| {
                (
                    r.email
                        .as_deref()
                        .map(mask_email)
                        .unwrap_or_else(|| "—".into()),
                    date(r.created_at),
                )
            })
            .collect(),
        referral_total,
        commissions: commissions
            .iter()
            .map(|r| ListRow {
                date: date(r.created_at),
                amount: amount(r.amount_minor, &r.currency),
                status: r.status.clone(),
            })
            .collect(),
        commission_total,
        payouts: payouts
            .iter()
            .map(|r| ListRow {
                date: date(r.paid_at.unwrap_or(r.created_at)),
                amount: amount(r.amount_minor, &r.currency),
                status: r.status.clone(),
            })
            .collect(),
        payment_method: aff.payment_method.clone().unwrap_or_default(),
        payment_details: aff.payment_details.clone().unwrap_or_default(),
        saved: false,
    };
    Ok((page, origins))
}

/// `GET /embed/referrals`.
pub async fn show(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let q: DashboardQuery = match serde_urlencoded::from_str(req.query_string()) {
        Ok(q) => q,
        Err(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                &Theme::default(),
                "'none'",
                "This link is not valid",
                "The link's parameters could not be read.",
            )
        }
    };
    let theme = match Theme::parse(q.theme.as_deref(), q.accent.as_deref(), q.font.as_deref()) {
        Ok(t) => t,
        Err(e) => return bad_look(e),
    };
    let now = state.clock.now_ms();
    let (range, days) = match range_of(&q, now) {
        Ok(r) => r,
        Err(e) => {
            return message(
                StatusCode::BAD_REQUEST,
                &theme,
                "'none'",
                "This period cannot be shown",
                &e.message,
            )
        }
    };
    let token = q.token.clone().unwrap_or_default();
    let base = state.config.public_base();
    let t = token.clone();
    let result = state
        .db
        .read(move |c| {
            let Some(tok) = embed::open(c, &t, now)? else {
                return Ok(None);
            };
            build(c, &tok, range, &base).map(Some)
        })
        .await;
    match result {
        Ok(Some((mut page, origins))) => {
            let n = nonce();
            page.nonce = n.clone();
            page.theme = theme;
            page.token = token;
            page.days = days;
            page.saved = q.saved.as_deref() == Some("1");
            html(StatusCode::OK, &page, &n, &embed::frame_ancestors(&origins))
        }
        Ok(None) => expired(&theme, "*"),
        Err(e) => went_wrong(
            &e,
            "dashboard",
            &theme,
            "The dashboard could not be shown; please try again in a moment.",
        ),
    }
}

/// The payout form.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayoutForm {
    token: String,
    payment_method: Option<String>,
    payment_details: Option<String>,
    theme: Option<String>,
    accent: Option<String>,
    font: Option<String>,
}

/// `POST /embed/referrals/payout`: saves the payout method and details, then shows the
/// dashboard again (303).
pub async fn save_payout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form: PayoutForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            return message(
                StatusCode::BAD_REQUEST,
                &Theme::default(),
                "'none'",
                "The form could not be read",
                "Send the payout form from the dashboard.",
            )
        }
    };
    let theme = match Theme::parse(
        form.theme.as_deref(),
        form.accent.as_deref(),
        form.font.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => return bad_look(e),
    };
    let base = state.config.public_base();
    if !same_origin(&req, &base) {
        return not_allowed(&theme, "the dashboard");
    }
    let now = state.clock.now_ms();
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let patch = UpdateAffiliate {
        payment_method: Some(clean(form.payment_method)),
        payment_details: Some(clean(form.payment_details)),
        ..Default::default()
    };
    let token = form.token.clone();
    let b = base.clone();
    let result = state
        .db
        .write(move |c| {
            let Some(tok) = embed::open(c, &token, now)? else {
                return Ok(None);
            };
            let prog = program::load(c, &tok.program_id)?;
            let (row, _) = affiliates::update(c, &prog.id, &tok.affiliate_id, patch, now)?;
            events::affiliate_changed(c, &prog, &row, "affiliate.updated", &b, now)?;
            embed::origins(c, &prog.id).map(Some)
        })
        .await;
    match result {
        Ok(Some(_)) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!(
                    "/embed/referrals?token={}&saved=1{}",
                    form.token,
                    theme.query()
                ),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Ok(None) => expired(&theme, "'none'"),
        Err(e) if (400..500).contains(&e.code.status()) => message(
            StatusCode::BAD_REQUEST,
            &theme,
            "'none'",
            "The payout details were not saved",
            &e.message,
        ),
        Err(e) => went_wrong(
            &e,
            "dashboard payout form",
            &theme,
            "The payout details were not saved; please try again in a moment.",
        ),
    }
}
