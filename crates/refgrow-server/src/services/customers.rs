//! Customers: binding a signup to the affiliate who referred it (who that is, and when a
//! binding changes, is decided by [`super::attribution`]).

use refgrow_types::api::{CreateCustomer, Customer, UpdateCustomer};
use refgrow_types::{AffiliateId, ClickId, CustomerId};

use crate::clock::{ms_to_datetime, opt_ms};
use crate::db::affiliates::{self};
use crate::db::customers::{self as store, CustomerRow};
use crate::db::programs::ProgramRow;
use crate::db::rollups::{self, Delta};
use crate::db::{is_unique_violation, DbConn};
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::services::attribution::{self, check_self_referral, resolve, Referral};
use crate::services::events;
use crate::validate::check_len;

/// The API view of a customer.
pub fn to_dto(row: &CustomerRow) -> Customer {
    Customer {
        id: CustomerId::from_trusted(row.id.clone()),
        key: row.customer_key.clone(),
        email: row.email.clone(),
        name: row.name.clone(),
        affiliate_id: row.affiliate_id.clone().map(AffiliateId::from_trusted),
        click_id: row.click_id.clone().map(ClickId::from_trusted),
        attributed: row.affiliate_id.is_some(),
        first_payment_at: opt_ms(row.first_payment_at),
        created_at: ms_to_datetime(row.created_at),
    }
}

/// Binds (or finds) a customer. Returns (customer, created).
pub fn bind(
    c: &mut DbConn,
    prog: &ProgramRow,
    req: &CreateCustomer,
    now: i64,
) -> Result<(CustomerRow, bool), ApiError> {
    bind_unless_ignored(c, prog, req, false, now)?
        .ok_or_else(|| ApiError::internal("a signup was ignored without being asked to"))
}

/// Binds (or finds) a customer, unless it is a new signup that attributes to nobody and
/// `ignore_unattributed` is set (Partnero's rule, a program setting): then nothing is stored
/// and the answer is `None`. Returns (customer, created).
pub fn bind_unless_ignored(
    c: &mut DbConn,
    prog: &ProgramRow,
    req: &CreateCustomer,
    ignore_unattributed: bool,
    now: i64,
) -> Result<Option<(CustomerRow, bool)>, ApiError> {
    check_len("key", &req.key, 1, 200)?;
    if let Some(n) = &req.name {
        check_len("name", n, 1, 200)?;
    }
    let given = [
        req.click_id.is_some(),
        req.referral_code.is_some(),
        req.affiliate_id.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given > 1 {
        return Err(ApiError::bad_request(
            "Give at most one of clickId, referralCode and affiliateId",
        ));
    }
    let referral = if let Some(id) = &req.click_id {
        Referral::Click(id.as_str())
    } else if let Some(code) = &req.referral_code {
        Referral::Code(code.as_str())
    } else if let Some(id) = &req.affiliate_id {
        Referral::Affiliate(id.as_str())
    } else {
        Referral::None
    };
    let email = req.email.as_ref().map(|e| e.as_str().to_string());
    let existing = store::find_by_key(c, &prog.id, &req.key)?;
    let resolved = resolve(c, prog, &referral, now)?;
    if ignore_unattributed && resolved.is_none() && existing.is_none() {
        return Ok(None);
    }
    if let Some((aff, _)) = &resolved {
        check_self_referral(
            aff,
            email
                .as_deref()
                .or(existing.as_ref().and_then(|e| e.email.as_deref())),
        )?;
    }
    if let Some(mut row) = existing {
        let rebind = attribution::rebinds(prog, &row, &referral, resolved.as_ref().map(|(a, _)| a));
        if rebind || (row.affiliate_id.is_none() && resolved.is_some()) {
            if let Some((aff, click)) = resolved {
                if let Some(old) = &row.affiliate_id {
                    count_signup(c, &prog.id, old, now, -1)?;
                }
                row.affiliate_id = Some(aff.id.clone());
                row.click_id = click;
                store::update(c, &row)?;
                count_signup(c, &prog.id, &aff.id, now, 1)?;
            }
        }
        return Ok(Some((row, false)));
    }
    let row = CustomerRow {
        id: new_id(CustomerId::PREFIX),
        program_id: prog.id.clone(),
        customer_key: req.key.clone(),
        email,
        name: req.name.clone(),
        affiliate_id: resolved.as_ref().map(|(a, _)| a.id.clone()),
        click_id: resolved.as_ref().and_then(|(_, c)| c.clone()),
        stripe_customer_id: None,
        first_payment_at: None,
        created_at: now,
    };
    match crate::db::guarded(c, |c| store::insert(c, &row)) {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {
            // A concurrent request bound it first: first binding wins.
            let row = store::find_by_key(c, &prog.id, &req.key)?
                .ok_or_else(|| ApiError::internal("customer vanished after a conflict"))?;
            return Ok(Some((row, false)));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(aff) = &row.affiliate_id {
        count_signup(c, &prog.id, aff, now, 1)?;
    }
    events::record(
        c,
        &prog.id,
        "customer.created",
        &serde_json::json!({"customer": to_dto(&row)}),
        now,
    )?;
    Ok(Some((row, true)))
}

/// Counts `signups` (1, or -1 when a customer leaves the affiliate) on the affiliate and in
/// its rollup of the day `now` falls in.
fn count_signup(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    now: i64,
    signups: i64,
) -> Result<(), ApiError> {
    affiliates::bump_counters(c, affiliate_id, 0, signups, 0)?;
    rollups::add(
        c,
        program_id,
        affiliate_id,
        now,
        "",
        Delta {
            signups,
            ..Delta::default()
        },
    )?;
    Ok(())
}

/// Changes a customer's email or name (`PATCH /v1/customers/{key}`); its attribution stays.
pub fn update(
    c: &mut DbConn,
    program_id: &str,
    key: &str,
    patch: UpdateCustomer,
) -> Result<CustomerRow, ApiError> {
    if let Some(Some(n)) = &patch.name {
        check_len("name", n, 1, 200)?;
    }
    let mut row =
        store::find_by_key(c, program_id, key)?.ok_or_else(|| ApiError::not_found("customer"))?;
    if let Some(email) = patch.email {
        row.email = email.map(|e| e.as_str().to_string());
        if let Some(aff_id) = &row.affiliate_id {
            if let Some(aff) = affiliates::find(c, program_id, aff_id)? {
                check_self_referral(&aff, row.email.as_deref())?;
            }
        }
    }
    if let Some(name) = patch.name {
        row.name = name;
    }
    store::update(c, &row)?;
    Ok(row)
}
