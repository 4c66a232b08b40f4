//! Attribution: who referred a signup or a sale. A click counts inside the program's
//! window (`cookieDays`); a customer stays bound to the affiliate who referred it (first
//! binding wins) unless the program uses last-click attribution and a newer click names
//! another affiliate before the customer's first payment; a sale names its referrer by
//! click, code or customer, in that order; nobody refers themselves.

use refgrow_types::api::{Attribution, CreateConversion};

use crate::clock::DAY_MS;
use crate::db::affiliates::{self, AffiliateRow, SaleContext};
use crate::db::customers::{self as customer_store, CustomerRow};
use crate::db::programs::ProgramRow;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::services::conversions::{self, NewSale};
use crate::services::program;
use crate::validate::check_len;
use refgrow_types::AffiliateId;

/// A click of the program: (affiliate id, created at).
pub fn find_click(
    c: &mut DbConn,
    program_id: &str,
    click_id: &str,
) -> Result<Option<(String, i64)>, ApiError> {
    Ok(crate::db::clicks::find(c, program_id, click_id)?)
}

/// Whether a click at `at` is still inside the program's window at `now`.
pub fn in_window(prog: &ProgramRow, at: i64, now: i64) -> bool {
    now - at <= i64::from(prog.cookie_days.max(0)) * DAY_MS
}

/// Refuses a customer whose email is the affiliate's own.
pub fn check_self_referral(aff: &AffiliateRow, email: Option<&str>) -> Result<(), ApiError> {
    if email.is_some_and(|e| e == aff.email) {
        return Err(ApiError::invalid(
            "email",
            "is the referring affiliate's own email: self-referrals are refused",
        ));
    }
    Ok(())
}

/// How a signup named its referrer.
pub enum Referral<'a> {
    /// A click id.
    Click(&'a str),
    /// A referral code.
    Code(&'a str),
    /// An affiliate id.
    Affiliate(&'a str),
    /// Nothing.
    None,
}

/// Resolves a referral to (affiliate, click id) inside the window; None when it does not
/// attribute (unknown click or code, expired click).
pub fn resolve(
    c: &mut DbConn,
    prog: &ProgramRow,
    referral: &Referral<'_>,
    now: i64,
) -> Result<Option<(AffiliateRow, Option<String>)>, ApiError> {
    match referral {
        Referral::None => Ok(None),
        Referral::Click(id) => {
            let Some((aff_id, at)) = find_click(c, &prog.id, id)? else {
                return Ok(None);
            };
            if !in_window(prog, at, now) {
                return Ok(None);
            }
            Ok(affiliates::find(c, &prog.id, &aff_id)?.map(|a| (a, Some(id.to_string()))))
        }
        Referral::Code(code) => Ok(affiliates::find_by_code(c, &prog.id, code)?.map(|a| (a, None))),
        Referral::Affiliate(id) => {
            let a = affiliates::find(c, &prog.id, id)?
                .ok_or_else(|| ApiError::not_found("affiliate"))?;
            Ok(Some((a, None)))
        }
    }
}

/// Whether a signup that names `referral` (resolved to `to`) moves an existing customer's
/// binding: only under last-click attribution, only before the customer's first payment,
/// only for a click, and only to another affiliate.
pub fn rebinds(
    prog: &ProgramRow,
    existing: &CustomerRow,
    referral: &Referral<'_>,
    to: Option<&AffiliateRow>,
) -> bool {
    program::attribution(prog) == Attribution::LastClick
        && existing.first_payment_at.is_none()
        && matches!(referral, Referral::Click(_))
        && to.is_some_and(|a| Some(&a.id) != existing.affiliate_id.as_ref())
}

/// What a `convert` call names, found and checked.
pub struct Resolved {
    /// The program.
    pub prog: ProgramRow,
    /// Its enabled webhook endpoints, when read with the affiliate (PostgreSQL).
    pub endpoints: Option<Vec<(String, Option<String>)>>,
    /// The sale, attributed.
    pub sale: NewSale,
}

/// Who referred a sale of `POST /v1/referrals/convert`: the click (inside the program's
/// window), else the referral code (through the click path's cache hint), else the
/// customer's binding; and the checks on it (self-referral). Writes only when the body names a
/// new customer (`customer.key`), which it binds. `prefetched`: the hinted affiliate's sale
/// context when the caller read it already (the sale writer reads a batch's at once).
pub fn sale_referrer(
    c: &mut DbConn,
    program_id: &str,
    body: &CreateConversion,
    hint: Option<&str>,
    request_hash: String,
    now: i64,
    prefetched: Option<SaleContext>,
) -> Result<Resolved, ApiError> {
    // On PostgreSQL the program and the affiliate the click path's cache named are read
    // together (SQLite caches the program in memory).
    let mut by_hint = None;
    let mut endpoints = None;
    let found = match (prefetched, hint, &mut *c) {
        (Some(ctx), Some(id), _) if ctx.0.id == id && ctx.0.program_id == program_id => Some(ctx),
        (_, Some(id), DbConn::Pg(pg)) => affiliates::find_with_program(pg, program_id, id)?,
        _ => None,
    };
    let prog = match found {
        Some((aff, prog, eps)) => {
            by_hint = Some(aff);
            endpoints = Some(eps);
            prog
        }
        None => program::load(c, program_id)?,
    };
    let amount = conversions::sale_money(body.amount, body.currency, &prog)?;
    let mut customer: Option<CustomerRow> = None;
    let affiliate = if let Some(click_id) = &body.click_id {
        let (aff_id, at) = find_click(c, &prog.id, click_id.as_str())?
            .ok_or_else(|| ApiError::not_found("click"))?;
        if !in_window(&prog, at, now) {
            return Err(ApiError::invalid(
                "clickId",
                format!(
                    "is older than the program's attribution window of {} days",
                    prog.cookie_days
                ),
            ));
        }
        affiliates::find(c, &prog.id, &aff_id)?.ok_or_else(|| ApiError::not_found("affiliate"))?
    } else if let Some(code) = &body.referral_code {
        // The code was resolved through the click path's cache; the row is read by its
        // primary key and must still carry the code (else it is looked up by code).
        let by_id = match (by_hint, hint) {
            (Some(a), _) => Some(a),
            (None, Some(id)) => affiliates::find(c, &prog.id, id)?,
            (None, None) => None,
        }
        .filter(|a| a.referral_code == code.as_str());
        match by_id {
            Some(a) => a,
            None => affiliates::find_by_code(c, &prog.id, code.as_str())?
                .ok_or_else(|| ApiError::not_found("affiliate with this referral code"))?,
        }
    } else if let Some(key) = &body.customer_key {
        let cu = customer_store::find_by_key(c, &prog.id, key)?
            .ok_or_else(|| ApiError::not_found("customer"))?;
        let aff_id = cu.affiliate_id.clone().ok_or_else(|| {
            ApiError::invalid(
                "customerKey",
                "is not attributed to an affiliate; record its payments with POST /v1/transactions",
            )
        })?;
        customer = Some(cu);
        affiliates::find(c, &prog.id, &aff_id)?.ok_or_else(|| ApiError::not_found("affiliate"))?
    } else {
        return Err(ApiError::invalid(
            "clickId",
            "one of clickId, referralCode or customerKey is required",
        ));
    };
    if let Some(details) = &body.customer {
        if let Some(name) = &details.name {
            check_len("customer.name", name, 1, 200)?;
        }
        if details
            .email
            .as_ref()
            .is_some_and(|e| e.as_str() == affiliate.email)
        {
            return Err(ApiError::invalid(
                "customer.email",
                "is the referring affiliate's own email: self-referrals are refused",
            ));
        }
        if let (None, Some(key)) = (&customer, &details.key) {
            check_len("customer.key", key, 1, 200)?;
            customer = Some(bind_customer(
                c,
                &prog,
                &affiliate,
                key,
                details,
                body.click_id.as_ref(),
                now,
            )?);
        }
    }
    if let Some(cu) = &customer {
        check_self_referral(&affiliate, cu.email.as_deref())?;
    }
    let product_id = conversions::pick_product(&prog, body.products.as_deref())?;
    Ok(Resolved {
        prog,
        endpoints,
        sale: NewSale {
            affiliate,
            customer,
            order_id: body.order_id.clone(),
            request_hash,
            amount,
            product_id,
        },
    })
}

/// Finds or creates the customer named in a conversion; an existing binding is kept.
fn bind_customer(
    c: &mut DbConn,
    prog: &ProgramRow,
    affiliate: &crate::db::affiliates::AffiliateRow,
    key: &str,
    details: &refgrow_types::api::ConversionCustomer,
    click_id: Option<&refgrow_types::ClickId>,
    now: i64,
) -> Result<CustomerRow, ApiError> {
    let req = refgrow_types::api::CreateCustomer {
        key: key.to_string(),
        email: details.email.clone(),
        name: details.name.clone(),
        click_id: None,
        referral_code: None,
        affiliate_id: Some(AffiliateId::from_trusted(affiliate.id.clone())),
    };
    let (mut row, created) = crate::services::customers::bind(c, prog, &req, now)?;
    if created && row.click_id.is_none() {
        if let Some(id) = click_id {
            row.click_id = Some(id.to_string());
            customer_store::update(c, &row)?;
        }
    }
    Ok(row)
}
