//! Commissions: creation from a priced sale and manual ones, their API view, and how a status
//! change is filed in the rollups. The status machine and approval are in
//! [`super::approval`]; reversal, refunds and clawbacks in [`super::refunds`].
//!
//! Every function runs inside the caller's transaction and keeps the daily rollups and the
//! event log in step with the rows it changes.

use refgrow_types::api::{Commission, CommissionKind, CommissionStatus};
use refgrow_types::money::{Currency, Money};
use refgrow_types::{AffiliateId, CommissionId, ConversionId, PayoutId};

use crate::clock::{ms_to_datetime, opt_ms};
use crate::db::commissions::{self as store, CommissionRow};
use crate::db::rollups::{self, Delta};
use crate::db::DbConn;
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
    record_event(c, &row.program_id, "commission.created", &row, now)?;
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
pub fn rollup_move(
    c: &mut DbConn,
    row: &CommissionRow,
    from: &str,
    from_amount: i64,
) -> Result<(), ApiError> {
    let d = Delta::status(from, -from_amount).plus(Delta::status(&row.status, row.amount_minor));
    rollup_add(c, row, d)
}

/// Files `d` in the rollups of the commission's affiliate, under the day it was created.
pub fn rollup_add(c: &mut DbConn, row: &CommissionRow, d: Delta) -> Result<(), ApiError> {
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

/// Records `event_type` (`commission.updated`, …) with the commission's API view.
pub fn record_event(
    c: &mut DbConn,
    program_id: &str,
    event_type: &str,
    row: &CommissionRow,
    now: i64,
) -> Result<(), ApiError> {
    events::record(
        c,
        program_id,
        event_type,
        &serde_json::json!({"commission": to_dto(row)}),
        now,
    )?;
    Ok(())
}

/// Loads a commission of the program or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<CommissionRow, ApiError> {
    store::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("commission"))
}

/// Loads a commission of the program for a change, its row locked until the transaction
/// ends (see [`store::find_for_update`]), or 404.
pub fn load_locked(c: &mut DbConn, program_id: &str, id: &str) -> Result<CommissionRow, ApiError> {
    store::find_for_update(c, program_id, id)?.ok_or_else(|| ApiError::not_found("commission"))
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

/// `POST /v1/commissions` once its body is checked: a manual commission of `given` to the
/// affiliate (`field` "amount"), idempotent by `orderId`; or (`field` "saleAmount") a sale
/// of the affiliate of `given`, recorded as every sale is (the program's rule, tiers,
/// per-product rules, the second tier, `orderId` idempotency), answered by the affiliate's
/// commission. Returns the commission and whether it was recorded before (a replay of the
/// same request).
pub fn create_manual(
    c: &mut DbConn,
    program_id: &str,
    body: &refgrow_types::api::CreateCommission,
    field: &'static str,
    given: refgrow_types::Amount,
    request_hash: String,
    now: i64,
) -> Result<(CommissionRow, bool), ApiError> {
    use diesel::Connection;
    let prog = crate::services::program::load(c, program_id)?;
    let amount = Money::from_major(given.value(), crate::services::program::currency(&prog))
        .map_err(|e| ApiError::invalid(field, e.to_string()))?;
    if amount.minor == 0 {
        return Err(ApiError::invalid(field, "must be above zero"));
    }
    let aff = crate::services::affiliates::load(c, &prog.id, body.affiliate_id.as_str())
        .map_err(|_| ApiError::invalid("affiliateId", "no such affiliate in this program"))?;
    if aff.status != "active" {
        return Err(ApiError::conflict(format!(
            "This affiliate is {} and cannot earn commissions; only active affiliates earn",
            aff.status
        ))
        .with_details(
            serde_json::json!({"field": "affiliateId", "issue": format!("affiliate is {}", aff.status)}),
        ));
    }
    if field == "saleAmount" {
        let aff_id = aff.id.clone();
        let recorded = crate::services::conversions::record_sale(
            c,
            &prog,
            crate::services::conversions::NewSale {
                affiliate: aff,
                customer: None,
                order_id: body.order_id.clone(),
                request_hash,
                amount,
                product_id: body.product_id.clone(),
            },
            now,
        )?;
        let own = recorded
            .commissions
            .into_iter()
            .find(|cm| cm.affiliate_id == aff_id)
            .ok_or_else(|| {
                ApiError::invalid(
                    "saleAmount",
                    "the program's commission rule pays nothing for this sale",
                )
            })?;
        return Ok((own, recorded.replay));
    }
    let dedupe = match &body.order_id {
        Some(o) => format!("manual:{o}"),
        None => format!("manual:{}", new_id("")),
    };
    // A savepoint: a taken order id fails the insert, and the replay is read after it.
    let inserted = c.transaction(|c| {
        insert(
            c,
            NewCommission {
                program_id: &prog.id,
                affiliate_id: &aff.id,
                conversion_id: None,
                order_id: body.order_id.as_deref(),
                kind: CommissionKind::Manual,
                dedupe_key: dedupe.clone(),
                request_hash: Some(request_hash.clone()),
                amount,
                conversion_amount: None,
                description: body.description.clone(),
                source_commission_id: None,
                approved: prog.hold_days <= 0,
            },
            now,
        )
    });
    match inserted {
        Ok(row) => Ok((row, false)),
        Err(e) if e.code == refgrow_types::ErrorCode::Conflict => {
            let existing = store::find_by_dedupe(c, &prog.id, &dedupe)?
                .ok_or_else(|| ApiError::internal("commission vanished after a conflict"))?;
            if existing.request_hash.as_deref() != Some(request_hash.as_str()) {
                return Err(ApiError::conflict(
                    "A manual commission with this orderId already exists with other values",
                )
                .with_details(serde_json::json!({"field": "orderId", "issue": "already used"})));
            }
            Ok((existing, true))
        }
        Err(e) => Err(e),
    }
}
