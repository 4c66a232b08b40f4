//! Commissions: creation from a priced sale, manual ones, the status machine, reversal with
//! clawbacks, proportional reduction on refunds, and approval after the hold period.
//!
//! Every function runs inside the caller's transaction and keeps the daily rollups and the
//! event log in step with the rows it changes.

use refgrow_types::api::{Commission, CommissionKind, CommissionStatus};
use refgrow_types::commission::commission_after_refund;
use refgrow_types::money::{Currency, Money};
use refgrow_types::{AffiliateId, CommissionId, ConversionId, PayoutId};

use crate::clock::{ms_to_datetime, opt_ms, DAY_MS};
use crate::db::commissions::{self as store, CommissionRow};
use crate::db::rollups::{self, Delta};
use crate::db::{programs, DbConn};
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::services::events;

/// The API view of a commission.
pub fn to_dto(row: &CommissionRow) -> Commission {
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::USD);
    let m = |minor: i64| Money::new(minor, currency).amount();
    Commission {
        id: CommissionId::from_trusted(row.id.clone()),
        affiliate_id: AffiliateId::from_trusted(row.affiliate_id.clone()),
        conversion_id: row.conversion_id.clone().map(ConversionId::from_trusted),
        order_id: row.order_id.clone(),
        kind: CommissionKind::parse(&row.kind).unwrap_or(CommissionKind::Manual),
        amount: m(row.amount_minor),
        original_amount: m(row.original_minor),
        currency,
        status: CommissionStatus::parse(&row.status).unwrap_or(CommissionStatus::Pending),
        conversion_amount: row.conversion_amount_minor.map(m),
        description: row.description.clone(),
        payout_id: row.payout_id.clone().map(PayoutId::from_trusted),
        on_hold: row.on_hold,
        created_at: ms_to_datetime(row.created_at),
        updated_at: ms_to_datetime(row.updated_at),
        approved_at: opt_ms(row.approved_at),
        paid_at: opt_ms(row.paid_at),
        reversed_at: opt_ms(row.reversed_at),
        reason: row.reason.clone(),
    }
}

/// What a new commission is.
pub struct NewCommission<'a> {
    /// Program.
    pub program_id: &'a str,
    /// Earner.
    pub affiliate_id: &'a str,
    /// Sale.
    pub conversion_id: Option<&'a str>,
    /// Order id.
    pub order_id: Option<&'a str>,
    /// Kind.
    pub kind: CommissionKind,
    /// Uniqueness key.
    pub dedupe_key: String,
    /// Request hash (manual).
    pub request_hash: Option<String>,
    /// Amount.
    pub amount: Money,
    /// Sale amount.
    pub conversion_amount: Option<i64>,
    /// Note.
    pub description: Option<String>,
    /// Clawed-back commission (adjustments).
    pub source_commission_id: Option<&'a str>,
    /// Starts approved (hold of 0 days, adjustments).
    pub approved: bool,
}

/// Inserts a commission, files it in the rollups and records `commission.created`.
/// A duplicate dedupe key is a unique violation the caller handles.
pub fn insert(c: &mut DbConn, n: NewCommission<'_>, now: i64) -> Result<CommissionRow, ApiError> {
    let row = insert_row(c, n, now)?;
    rollups::add(
        c,
        &row.program_id,
        &row.affiliate_id,
        now,
        &row.currency,
        Delta::status(&row.status, row.amount_minor),
    )?;
    events::record(
        c,
        &row.program_id,
        "commission.created",
        &serde_json::json!({"commission": to_dto(&row)}),
        now,
    )?;
    Ok(row)
}

/// The row of [`insert`] alone: the caller files the rollups and records the event (the
/// sale path does both together with the conversion's, in fewer statements).
pub fn insert_row(
    c: &mut DbConn,
    n: NewCommission<'_>,
    now: i64,
) -> Result<CommissionRow, ApiError> {
    let row = new_row(n, now);
    store::insert(c, &row)?;
    Ok(row)
}

/// The row [`insert_row`] writes, not written (the sale path writes it with the rest of the
/// sale on PostgreSQL).
pub fn new_row(n: NewCommission<'_>, now: i64) -> CommissionRow {
    let status = if n.approved { "approved" } else { "pending" };
    CommissionRow {
        id: new_id(CommissionId::PREFIX),
        program_id: n.program_id.to_string(),
        affiliate_id: n.affiliate_id.to_string(),
        conversion_id: n.conversion_id.map(str::to_string),
        order_id: n.order_id.map(str::to_string),
        kind: n.kind.as_str().to_string(),
        dedupe_key: n.dedupe_key,
        request_hash: n.request_hash,
        amount_minor: n.amount.minor,
        original_minor: n.amount.minor,
        currency: n.amount.currency.code().to_string(),
        status: status.to_string(),
        conversion_amount_minor: n.conversion_amount,
        description: n.description,
        payout_id: None,
        on_hold: false,
        reason: None,
        source_commission_id: n.source_commission_id.map(str::to_string),
        created_at: now,
        updated_at: now,
        approved_at: if n.approved { Some(now) } else { None },
        paid_at: None,
        reversed_at: None,
    }
}

/// Files a status change of a commission in the rollups (under the day it was created).
fn rollup_move(
    c: &mut DbConn,
    row: &CommissionRow,
    from: &str,
    from_amount: i64,
) -> Result<(), ApiError> {
    let d = Delta::status(from, -from_amount).plus(Delta::status(&row.status, row.amount_minor));
    rollups::add(
        c,
        &row.program_id,
        &row.affiliate_id,
        row.created_at,
        &row.currency,
        d,
    )?;
    Ok(())
}

/// Loads a commission of the program or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<CommissionRow, ApiError> {
    store::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("commission"))
}

/// Loads a commission of the program for a change, its row locked until the transaction
/// ends (see [`store::find_for_update`]), or 404.
fn load_locked(c: &mut DbConn, program_id: &str, id: &str) -> Result<CommissionRow, ApiError> {
    store::find_for_update(c, program_id, id)?.ok_or_else(|| ApiError::not_found("commission"))
}

/// `PUT /commissions/{id}/status`: only the contract's moves; anything else is a conflict.
pub fn set_status(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    to: CommissionStatus,
    reason: Option<String>,
    now: i64,
) -> Result<CommissionRow, ApiError> {
    let mut row = load_locked(c, program_id, id)?;
    let from = CommissionStatus::parse(&row.status).unwrap_or(CommissionStatus::Pending);
    if !from.can_move_to(to) {
        return Err(ApiError::conflict(format!(
            "A commission cannot move from '{}' to '{}'",
            from.as_str(),
            to.as_str()
        ))
        .with_details(
            serde_json::json!({"field": "status", "from": from.as_str(), "to": to.as_str()}),
        ));
    }
    if row.payout_id.is_some() {
        return Err(ApiError::conflict(
            "This commission belongs to a payout; mark the payout paid instead",
        ));
    }
    if row.on_hold && to == CommissionStatus::Approved {
        return Err(ApiError::conflict(
            "This commission is on hold because of a dispute",
        ));
    }
    if let Some(r) = &reason {
        crate::validate::check_len("reason", r, 1, 500)?;
    }
    let before = row.status.clone();
    row.status = to.as_str().to_string();
    row.updated_at = now;
    match to {
        CommissionStatus::Approved => row.approved_at = Some(now),
        CommissionStatus::Paid => row.paid_at = Some(now),
        CommissionStatus::Rejected => row.reversed_at = Some(now),
        _ => {}
    }
    if reason.is_some() {
        row.reason = reason;
    }
    store::update(c, &row)?;
    rollup_move(c, &row, &before, row.amount_minor)?;
    events::record(
        c,
        program_id,
        "commission.updated",
        &serde_json::json!({"commission": to_dto(&row)}),
        now,
    )?;
    Ok(row)
}

/// What a commission still counts for: its amount, less clawbacks already taken when paid
/// or held by a payout (both keep their amount and get clawbacks instead).
pub fn effective_amount(c: &mut DbConn, row: &CommissionRow) -> Result<i64, ApiError> {
    if row.paid_at.is_some() || row.payout_id.is_some() {
        Ok(row.amount_minor + store::adjustments_of(c, &row.id)?)
    } else {
        Ok(row.amount_minor)
    }
}

/// Creates the clawback for money already paid out.
fn clawback(
    c: &mut DbConn,
    row: &CommissionRow,
    minor: i64,
    dedupe: String,
    now: i64,
) -> Result<Option<CommissionRow>, ApiError> {
    if minor <= 0 {
        return Ok(None);
    }
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::USD);
    let adj = insert(
        c,
        NewCommission {
            program_id: &row.program_id,
            affiliate_id: &row.affiliate_id,
            conversion_id: row.conversion_id.as_deref(),
            order_id: row.order_id.as_deref(),
            kind: CommissionKind::Adjustment,
            dedupe_key: dedupe,
            request_hash: None,
            amount: Money::new(-minor, currency),
            conversion_amount: row.conversion_amount_minor,
            description: Some(format!("Clawback of {}", row.id)),
            source_commission_id: Some(&row.id),
            approved: true,
        },
        now,
    )?;
    Ok(Some(adj))
}

/// `DELETE /commissions/{id}`: reverses; a paid one leaves a clawback for the next payout.
pub fn reverse(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    reason: Option<String>,
    now: i64,
) -> Result<(CommissionRow, Option<CommissionRow>), ApiError> {
    let mut row = load_locked(c, program_id, id)?;
    if matches!(row.status.as_str(), "reversed" | "rejected") {
        return Err(ApiError::conflict(format!(
            "This commission is already {}",
            row.status
        )));
    }
    if row.kind == "adjustment" {
        return Err(ApiError::conflict("Adjustments cannot be reversed"));
    }
    if row.payout_id.is_some() && row.status != "paid" {
        return Err(ApiError::conflict(
            "This commission belongs to an unpaid payout and cannot be changed",
        ));
    }
    let before = row.status.clone();
    let effective = effective_amount(c, &row)?;
    row.status = "reversed".into();
    row.reversed_at = Some(now);
    row.updated_at = now;
    row.reason = reason.or(Some("reversed".into()));
    store::update(c, &row)?;
    let adjustment = if before == "paid" {
        // Paid money stays counted as paid; the clawback nets it out of the next payout.
        clawback(c, &row, effective, format!("adj:{}:reverse", row.id), now)?
    } else {
        rollup_move(c, &row, &before, row.amount_minor)?;
        None
    };
    events::record(
        c,
        program_id,
        "commission.reversed",
        &serde_json::json!({"commission": to_dto(&row)}),
        now,
    )?;
    Ok((row, adjustment))
}

/// Reduces a conversion's commissions after its refunded total became `refunded_total`.
/// Unpaid commissions shrink (to `reversed` at zero); paid ones keep their amount and get a
/// clawback for the difference. Returns (commissions after, adjustments created).
#[allow(clippy::too_many_arguments)]
pub fn apply_refund(
    c: &mut DbConn,
    program_id: &str,
    conversion_id: &str,
    sale_minor: i64,
    refunded_total: i64,
    refund_id: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<(Vec<CommissionRow>, Vec<CommissionRow>), ApiError> {
    let mut after = Vec::new();
    let mut adjustments = Vec::new();
    for mut row in store::of_conversion_for_update(c, conversion_id)? {
        if matches!(row.status.as_str(), "reversed" | "rejected") {
            after.push(row);
            continue;
        }
        let target = commission_after_refund(row.original_minor, sale_minor, refunded_total);
        let current = effective_amount(c, &row)?;
        let reduction = current - target;
        if reduction <= 0 {
            after.push(row);
            continue;
        }
        if row.status == "paid" || row.payout_id.is_some() {
            if let Some(adj) = clawback(
                c,
                &row,
                reduction,
                format!("adj:{}:{refund_id}", row.id),
                now,
            )? {
                adjustments.push(adj);
            }
            after.push(row);
            continue;
        }
        let before_status = row.status.clone();
        let before_amount = row.amount_minor;
        row.amount_minor = target;
        row.updated_at = now;
        if target == 0 {
            row.status = "reversed".into();
            row.reversed_at = Some(now);
            row.reason = Some(reason.unwrap_or("refunded").to_string());
        }
        store::update(c, &row)?;
        // The money leaves its status and the whole reduction is reversed money, also when
        // it takes the commission to zero (it used to move 0 to `reversed` then, and the
        // reversed figures under-counted).
        let d = Delta::status(&before_status, -before_amount)
            .plus(Delta::status(&row.status, row.amount_minor))
            .plus(Delta {
                reversed: reduction,
                ..Delta::default()
            });
        rollups::add(
            c,
            &row.program_id,
            &row.affiliate_id,
            row.created_at,
            &row.currency,
            d,
        )?;
        let event = if row.status == "reversed" {
            "commission.reversed"
        } else {
            "commission.updated"
        };
        events::record(
            c,
            program_id,
            event,
            &serde_json::json!({"commission": to_dto(&row)}),
            now,
        )?;
        after.push(row);
    }
    Ok((after, adjustments))
}

/// Approves every pending commission whose hold period has passed, in every program.
/// Each row moves by compare-and-set, so replicas running this together approve each once.
pub fn approve_due(c: &mut DbConn, now: i64) -> Result<usize, ApiError> {
    use diesel::Connection;
    let mut approved = 0;
    for program_id in programs::all_ids(c)? {
        let Some(prog) = programs::find(c, &program_id)? else {
            continue;
        };
        let cutoff = now - i64::from(prog.hold_days.max(0)) * DAY_MS;
        loop {
            let due = store::due_for_approval(c, &program_id, cutoff, 500)?;
            if due.is_empty() {
                break;
            }
            let n = due.len();
            approved += c.transaction(|c| {
                rollups::deferred(c, |c| -> Result<usize, ApiError> {
                    let mut moved = 0;
                    for mut row in due {
                        if store::move_status(c, &row.id, "pending", "approved", now)? {
                            row.status = "approved".into();
                            row.approved_at = Some(now);
                            row.updated_at = now;
                            rollup_move(c, &row, "pending", row.amount_minor)?;
                            events::record(
                                c,
                                &program_id,
                                "commission.updated",
                                &serde_json::json!({"commission": to_dto(&row)}),
                                now,
                            )?;
                            moved += 1;
                        }
                    }
                    Ok(moved)
                })
            })?;
            if n < 500 {
                break;
            }
        }
    }
    Ok(approved)
}

/// Holds a conversion's open commissions (a dispute): they are not approved or paid out
/// until released. Paid, rejected and reversed ones are left alone. Returns how many.
pub fn hold_for_conversion(
    c: &mut DbConn,
    program_id: &str,
    conversion_id: &str,
    now: i64,
) -> Result<usize, ApiError> {
    let mut held = 0;
    for mut row in store::of_conversion_for_update(c, conversion_id)? {
        if row.on_hold
            || !matches!(row.status.as_str(), "pending" | "approved")
            || row.payout_id.is_some()
        {
            continue;
        }
        row.on_hold = true;
        row.reason = Some("disputed".into());
        row.updated_at = now;
        store::update(c, &row)?;
        events::record(
            c,
            program_id,
            "commission.updated",
            &serde_json::json!({"commission": to_dto(&row)}),
            now,
        )?;
        held += 1;
    }
    Ok(held)
}
