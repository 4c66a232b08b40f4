//! Affiliates: enrolment, codes and links, status changes, and the API view with counters
//! and earnings.

use std::collections::HashMap;

use refgrow_types::api::{
    AccountUser, Affiliate, AffiliateAccount, AffiliateSource, AffiliateStatus, Country,
    CreateAffiliate, UpdateAffiliate,
};
use refgrow_types::money::{Amount, Currency, Money};
use refgrow_types::AffiliateId;
use rust_decimal::Decimal;

use crate::clock::{ms_to_datetime, opt_ms};
use crate::db::affiliates::{self, AffiliateRow};
use crate::db::programs::ProgramRow;
use crate::db::{is_unique_violation, DbConn};
use crate::error::ApiError;
use crate::idgen::{new_id, random_digits};
use crate::services::program;
use crate::validate::check_len;

/// The largest custom-fields object, serialized.
const MAX_CUSTOM_FIELDS_BYTES: usize = 16 * 1024;

/// A readable code from a name: its letters and digits, upper-case, up to 8, then digits.
pub fn code_stem(name: &str, email: &str) -> String {
    let from = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect::<String>()
            .to_ascii_uppercase()
    };
    let stem = from(name);
    if stem.len() >= 3 {
        return stem;
    }
    let stem = from(email.split('@').next().unwrap_or_default());
    if stem.len() >= 3 {
        stem
    } else {
        "REF".to_string()
    }
}

fn check_optional_text(field: &str, v: &Option<String>, max: usize) -> Result<(), ApiError> {
    if let Some(s) = v {
        check_len(field, s, 1, max)?;
    }
    Ok(())
}

fn check_custom_fields(
    v: &Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<String, ApiError> {
    let map = v.clone().unwrap_or_default();
    let text = serde_json::to_string(&map).map_err(ApiError::internal)?;
    if text.len() > MAX_CUSTOM_FIELDS_BYTES {
        return Err(ApiError::invalid(
            "customFields",
            format!("must be at most {MAX_CUSTOM_FIELDS_BYTES} bytes as JSON"),
        ));
    }
    Ok(text)
}

/// Names which unique value of an affiliate is taken, for a 409 after a violation.
fn duplicate_error(
    c: &mut DbConn,
    program_id: &str,
    email: &str,
    code: &str,
    self_id: Option<&str>,
) -> ApiError {
    let other = |r: Option<AffiliateRow>| r.filter(|a| Some(a.id.as_str()) != self_id).is_some();
    if other(
        affiliates::find_by_email(c, program_id, email)
            .ok()
            .flatten(),
    ) {
        return ApiError::conflict("An affiliate with this email already exists in the program")
            .with_details(serde_json::json!({"field": "email", "issue": "already taken"}));
    }
    if other(affiliates::find_by_code(c, program_id, code).ok().flatten()) {
        return ApiError::conflict("This referral code is already taken in the program")
            .with_details(serde_json::json!({"field": "referralCode", "issue": "already taken"}));
    }
    // Codes are unique per deployment: another program's affiliate may hold it (which one
    // is not said).
    let holder = affiliates::code_holder(c, code).ok().flatten();
    if holder.is_some_and(|h| Some(h.as_str()) != self_id) {
        return ApiError::conflict(
            "This referral code is already taken: codes are unique across the deployment, \
             so each link names one affiliate",
        )
        .with_details(serde_json::json!({"field": "referralCode", "issue": "already taken"}));
    }
    ApiError::conflict("An affiliate with these values already exists")
}

/// Enrols an affiliate. Email and code uniqueness are decided by the unique constraints.
pub fn create(
    c: &mut DbConn,
    prog: &ProgramRow,
    req: CreateAffiliate,
    source: AffiliateSource,
    now: i64,
) -> Result<AffiliateRow, ApiError> {
    check_len("name", &req.name, 1, 200)?;
    check_optional_text("paymentMethod", &req.payment_method, 50)?;
    check_optional_text("paymentDetails", &req.payment_details, 500)?;
    let custom = check_custom_fields(&req.custom_fields)?;
    if let Some(parent) = &req.parent_affiliate_id {
        if affiliates::find(c, &prog.id, parent.as_str())?.is_none() {
            return Err(ApiError::invalid(
                "parentAffiliateId",
                "no such affiliate in this program",
            ));
        }
    }
    let email = req.email.as_str().to_string();
    let status = if prog.auto_approve_affiliates {
        AffiliateStatus::Active
    } else {
        AffiliateStatus::Pending
    };
    let explicit_code = req.referral_code.as_ref().map(|c| c.as_str().to_string());
    let stem = code_stem(&req.name, &email);
    let mut attempt = 0;
    loop {
        let code = match &explicit_code {
            Some(code) => code.clone(),
            None => format!("{stem}{}", random_digits(2 + attempt)),
        };
        let row = AffiliateRow {
            id: new_id(AffiliateId::PREFIX),
            program_id: prog.id.clone(),
            email: email.clone(),
            name: req.name.trim().to_string(),
            status: status.as_str().to_string(),
            source: source.as_str().to_string(),
            referral_code: code.clone(),
            suspended_at: None,
            suspended_reason: None,
            parent_affiliate_id: req.parent_affiliate_id.as_ref().map(|p| p.to_string()),
            custom_fields: custom.clone(),
            payment_method: req.payment_method.clone(),
            payment_details: req.payment_details.clone(),
            click_count: 0,
            signup_count: 0,
            conversion_count: 0,
            created_at: now,
            updated_at: now,
        };
        // A savepoint, so a duplicate does not abort an enclosing PostgreSQL transaction.
        match crate::db::guarded(c, |c| affiliates::insert(c, &row)) {
            Ok(()) => return Ok(row),
            Err(e) if is_unique_violation(&e) => {
                let email_taken = affiliates::find_by_email(c, &prog.id, &email)?.is_some();
                if email_taken || explicit_code.is_some() || attempt >= 6 {
                    return Err(duplicate_error(c, &prog.id, &email, &code, None));
                }
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// An affiliate of the program, or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<AffiliateRow, ApiError> {
    affiliates::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("affiliate"))
}

/// Applies a patch, including status moves.
pub fn update(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    patch: UpdateAffiliate,
    now: i64,
) -> Result<(AffiliateRow, bool), ApiError> {
    let mut row = load(c, program_id, id)?;
    let before_status = row.status.clone();
    if let Some(name) = &patch.name {
        check_len("name", name, 1, 200)?;
        row.name = name.trim().to_string();
    }
    if let Some(email) = &patch.email {
        row.email = email.as_str().to_string();
    }
    if let Some(code) = &patch.referral_code {
        row.referral_code = code.as_str().to_string();
    }
    if patch.custom_fields.is_some() {
        row.custom_fields = check_custom_fields(&patch.custom_fields)?;
    }
    if let Some(pm) = &patch.payment_method {
        check_optional_text("paymentMethod", pm, 50)?;
        row.payment_method = pm.clone();
    }
    if let Some(pd) = &patch.payment_details {
        check_optional_text("paymentDetails", pd, 500)?;
        row.payment_details = pd.clone();
    }
    if let Some(parent) = &patch.parent_affiliate_id {
        match parent {
            Some(p) if p.as_str() == row.id => {
                return Err(ApiError::invalid(
                    "parentAffiliateId",
                    "an affiliate cannot be its own parent",
                ));
            }
            Some(p) => {
                let parent_row = affiliates::find(c, program_id, p.as_str())?.ok_or_else(|| {
                    ApiError::invalid("parentAffiliateId", "no such affiliate in this program")
                })?;
                if parent_row.parent_affiliate_id.as_deref() == Some(row.id.as_str()) {
                    return Err(ApiError::invalid("parentAffiliateId", "would make a cycle"));
                }
                row.parent_affiliate_id = Some(p.to_string());
            }
            None => row.parent_affiliate_id = None,
        }
    }
    if patch.suspended_reason.is_some() && patch.status != Some(AffiliateStatus::Suspended) {
        return Err(ApiError::invalid(
            "suspendedReason",
            "is only accepted with status 'suspended'",
        ));
    }
    if let Some(status) = patch.status {
        match status {
            AffiliateStatus::Pending => {
                if row.status != "pending" {
                    return Err(ApiError::invalid(
                        "status",
                        "an affiliate cannot be moved back to 'pending'",
                    ));
                }
            }
            AffiliateStatus::Suspended => {
                let reason = patch
                    .suspended_reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "suspendedReason",
                            "is required when suspending an affiliate",
                        )
                    })?;
                check_len("suspendedReason", reason, 1, 500)?;
                row.suspended_at = Some(now);
                row.suspended_reason = Some(reason.to_string());
            }
            AffiliateStatus::Active | AffiliateStatus::Blocked => {
                row.suspended_at = None;
                row.suspended_reason = None;
            }
        }
        row.status = status.as_str().to_string();
    }
    row.updated_at = now;
    let email = row.email.clone();
    let code = row.referral_code.clone();
    match crate::db::guarded(c, |c| affiliates::update(c, &row)) {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(duplicate_error(c, program_id, &email, &code, Some(id)));
        }
        Err(e) => return Err(e.into()),
    }
    Ok((row.clone(), row.status != before_status))
}

/// Earnings of affiliates by status, in the program currency.
#[derive(Debug, Default, Clone, Copy)]
pub struct Earnings {
    /// Pending.
    pub pending: i64,
    /// Approved and not yet paid (adjustments included).
    pub approved: i64,
    /// Paid.
    pub paid: i64,
}

/// Loads earnings for many affiliates in one query.
pub fn earnings_for(
    c: &mut DbConn,
    ids: &[String],
    currency: Currency,
) -> Result<HashMap<String, Earnings>, ApiError> {
    let mut out: HashMap<String, Earnings> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    for (aff, status, sum) in affiliates::earnings(c, ids, currency.code())? {
        let e = out.entry(aff).or_default();
        match status.as_str() {
            "pending" => e.pending = e.pending.saturating_add(sum),
            "approved" => e.approved = e.approved.saturating_add(sum),
            "paid" => e.paid = e.paid.saturating_add(sum),
            _ => {}
        }
    }
    // A paid commission reversed afterwards was still paid; its clawback is the adjustment.
    for (aff, sum) in crate::db::commissions::reversed_after_payment(c, ids, currency.code())? {
        let e = out.entry(aff).or_default();
        e.paid = e.paid.saturating_add(sum);
    }
    Ok(out)
}

/// The referral link of a code.
pub fn referral_link(public_base: &str, code: &str) -> String {
    format!("{public_base}/r/{code}")
}

/// The share of clicks that became a sale: `min(conversions, clicks) / clicks`, four
/// decimals, 0 without clicks, so always in [0, 1].
///
/// Sales bound without a click (a Stripe checkout or an API sale by referral code, a
/// customer's renewals) count as conversions too, so the plain ratio can exceed 1; each
/// click can convert at most once, hence the cap (see docs/money.md, "conversionRate").
pub fn conversion_rate(conversions: i64, clicks: i64) -> Amount {
    if clicks <= 0 {
        return Amount(Decimal::new(0, 4));
    }
    let converted = conversions.clamp(0, clicks);
    let rate = (Decimal::from(converted) / Decimal::from(clicks))
        .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let mut r = rate;
    r.rescale(4);
    Amount(r)
}

/// The API view of an affiliate.
pub fn to_dto(
    row: &AffiliateRow,
    prog: &ProgramRow,
    earnings: Earnings,
    public_base: &str,
) -> Affiliate {
    let currency = program::currency(prog);
    let m = |minor: i64| Money::new(minor, currency).amount();
    let approved = earnings.approved;
    let custom_fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&row.custom_fields).unwrap_or_default();
    Affiliate {
        id: AffiliateId::from_trusted(row.id.clone()),
        email: row.email.clone(),
        name: row.name.clone(),
        status: AffiliateStatus::parse(&row.status).unwrap_or(AffiliateStatus::Pending),
        source: AffiliateSource::parse(&row.source).unwrap_or(AffiliateSource::Api),
        referral_code: row.referral_code.clone(),
        referral_link: referral_link(public_base, &row.referral_code),
        created_at: ms_to_datetime(row.created_at),
        updated_at: ms_to_datetime(row.updated_at),
        suspended_at: opt_ms(row.suspended_at),
        suspended_reason: row.suspended_reason.clone(),
        parent_affiliate_id: row
            .parent_affiliate_id
            .clone()
            .map(AffiliateId::from_trusted),
        custom_fields: custom_fields.clone(),
        payment_method: row.payment_method.clone(),
        payment_details: row.payment_details.clone(),
        click_count: row.click_count,
        signup_count: row.signup_count,
        conversion_count: row.conversion_count,
        conversion_rate: conversion_rate(row.conversion_count, row.click_count),
        currency,
        total_earnings: m(earnings
            .pending
            .saturating_add(approved)
            .saturating_add(earnings.paid)),
        pending_earnings: m(earnings.pending),
        approved_earnings: m(approved),
        paid_earnings: m(earnings.paid),
        total_earnings_formatted: refgrow_types::money_display::formatted(&Money::new(
            earnings.pending + approved + earnings.paid,
            currency,
        )),
        account: account_of(row, &custom_fields),
    }
}

/// A country from an ISO 3166-1 alpha-2 code (any case); `None` for anything else.
pub fn country(code: &str) -> Option<Country> {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 2 {
        return None;
    }
    let c: iso_country::Country = code.parse().ok()?;
    Some(Country {
        code,
        name: c.name().to_string(),
    })
}

/// The account view of an affiliate: the user, the display name (`customFields.pseudo`,
/// else the name) and the country (`customFields.country`, an alpha-2 code).
fn account_of(
    row: &AffiliateRow,
    custom: &serde_json::Map<String, serde_json::Value>,
) -> AffiliateAccount {
    let text = |k: &str| {
        custom
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
    };
    AffiliateAccount {
        user: AccountUser {
            name: row.name.clone(),
            email: row.email.clone(),
        },
        pseudo: text("pseudo").unwrap_or(&row.name).to_string(),
        country: text("country").and_then(country),
    }
}

/// The API view of one affiliate ([`to_dtos`] of one row).
pub fn to_dto_of(
    c: &mut DbConn,
    row: &AffiliateRow,
    prog: &ProgramRow,
    public_base: &str,
) -> Result<Affiliate, ApiError> {
    let mut v = to_dtos(c, std::slice::from_ref(row), prog, public_base)?;
    v.pop()
        .ok_or_else(|| ApiError::internal("affiliate vanished"))
}

/// The API views of several affiliates, earnings loaded in one query.
pub fn to_dtos(
    c: &mut DbConn,
    rows: &[AffiliateRow],
    prog: &ProgramRow,
    public_base: &str,
) -> Result<Vec<Affiliate>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let earnings = earnings_for(c, &ids, program::currency(prog))?;
    // Sales add to the counter through deltas folded later: read it with them.
    let counts = crate::db::stats_deltas::conversion_counts(c, &prog.id, &ids)?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(n) = counts.get(&r.id) {
                r.conversion_count = *n;
            }
            to_dto(
                &r,
                prog,
                earnings.get(&r.id).copied().unwrap_or_default(),
                public_base,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(country("de").unwrap().name, "Germany");
        assert_eq!(country("US").unwrap().code, "US");
        assert!(country("Germany").is_none());
        assert!(country("ZZ").is_none());
    }

    #[test]
    fn stems_are_readable() {
        assert_eq!(code_stem("John Doe", "j@x.io"), "JOHNDOE");
        assert_eq!(code_stem("Ö", "maria.k@x.io"), "MARIAK");
        assert_eq!(code_stem("", "a@x.io"), "REF");
    }

    #[test]
    fn rates_have_four_decimals() {
        assert_eq!(conversion_rate(0, 0).to_string(), "0.0000");
        assert_eq!(conversion_rate(1, 3).to_string(), "0.3333");
        assert_eq!(conversion_rate(2, 3).to_string(), "0.6667");
        // Sales without clicks never push it above 1.
        assert_eq!(conversion_rate(3, 1).to_string(), "1.0000");
        assert_eq!(conversion_rate(5, 0).to_string(), "0.0000");
    }
}
