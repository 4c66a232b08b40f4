//! Refunds and reversals: a sale refunded in part or whole (`POST
//! /v1/conversions/{id}/refunds`, `DELETE /v1/transactions/{key}`, Stripe's
//! `charge.refunded`), each once per refund id; its commissions reduced in proportion
//! (`reversed` at zero); a commission reversed by hand; and, for money already paid out,
//! a clawback (a negative adjustment netted from the next payout) instead of a change to
//! the paid commission.

use refgrow_types::api::CommissionKind;
use refgrow_types::commission::commission_after_refund;
use refgrow_types::money::{Currency, Money};

use crate::db::commissions::{self as store, CommissionRow};
use crate::db::conversions::{self as conversion_store, ConversionRow};
use crate::db::programs::ProgramRow;
use crate::db::refunds::{self as refund_store, NewRefund};
use crate::db::rollups;
use crate::db::rollups::Delta;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::services::commissions::{
    effective_amount, insert, load_locked, record_event, rollup_add, rollup_move, NewCommission,
};
use refgrow_types::api::ConversionStatus;

/// What a refund did.
pub struct Refunded {
    /// The conversion after it.
    pub conversion: ConversionRow,
    /// Its commissions after it.
    pub commissions: Vec<CommissionRow>,
    /// Clawbacks of money already paid.
    pub adjustments: Vec<CommissionRow>,
}

/// Refunds part (or, with `amount` None, the rest) of a sale. `dedupe_key` (an
/// `Idempotency-Key`, a Stripe refund id) makes a repeated refund a no-op.
pub fn refund(
    c: &mut DbConn,
    prog: &ProgramRow,
    conversion_id: &str,
    amount: Option<Money>,
    reason: Option<String>,
    dedupe_key: Option<String>,
    now: i64,
) -> Result<Refunded, ApiError> {
    if let Some(r) = &reason {
        crate::validate::check_len("reason", r, 1, 500)?;
    }
    // Locked: a concurrent refund of this sale waits here and then sees this one's total.
    let mut conv = conversion_store::find_for_update(c, &prog.id, conversion_id)?
        .ok_or_else(|| ApiError::not_found("conversion"))?;
    let currency = Currency::parse(&conv.currency).unwrap_or(Currency::USD);
    if let Some(a) = amount {
        if a.currency != currency {
            return Err(ApiError::invalid(
                "amount",
                format!("must be in the sale's currency, {currency}"),
            ));
        }
    }
    let left = conv.amount_minor - conv.refunded_minor;
    let refund_minor = match amount {
        Some(a) if a.minor <= 0 => return Err(ApiError::invalid("amount", "must be above zero")),
        Some(a) if a.minor > left => {
            return Err(ApiError::invalid(
                "amount",
                format!(
                    "is more than what is left to refund ({})",
                    Money::new(left, currency).amount()
                ),
            ))
        }
        Some(a) => a.minor,
        None if left <= 0 => {
            return Err(ApiError::conflict(
                "This sale has already been wholly refunded",
            ));
        }
        None => left,
    };
    let refund_id = new_id("re_");
    let inserted = refund_store::insert_new(
        c,
        &NewRefund {
            id: &refund_id,
            program_id: &prog.id,
            conversion_id: &conv.id,
            amount_minor: refund_minor,
            reason: reason.as_deref(),
            dedupe_key: dedupe_key.as_deref(),
            created_at: now,
        },
    )?;
    if !inserted {
        // This refund was applied before: answer with the state as it is.
        let commissions = store::of_conversion(c, &conv.id)?;
        return Ok(Refunded {
            conversion: conv,
            commissions,
            adjustments: Vec::new(),
        });
    }
    conv.refunded_minor += refund_minor;
    conv.status = if conv.refunded_minor >= conv.amount_minor {
        ConversionStatus::Refunded
    } else {
        ConversionStatus::PartiallyRefunded
    }
    .as_str()
    .to_string();
    conv.updated_at = now;
    conversion_store::update(c, &conv)?;
    rollups::add(
        c,
        &prog.id,
        &conv.affiliate_id,
        conv.created_at,
        &conv.currency,
        Delta {
            refunded: refund_minor,
            ..Delta::default()
        },
    )?;
    let (after, adjustments) = apply_refund(
        c,
        &prog.id,
        &conv.id,
        conv.amount_minor,
        conv.refunded_minor,
        &refund_id,
        reason.as_deref(),
        now,
    )?;
    Ok(Refunded {
        conversion: conv,
        commissions: after,
        adjustments,
    })
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
    record_event(c, program_id, "commission.reversed", &row, now)?;
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
        rollup_add(c, &row, d)?;
        let event = if row.status == "reversed" {
            "commission.reversed"
        } else {
            "commission.updated"
        };
        record_event(c, program_id, event, &row, now)?;
        after.push(row);
    }
    Ok((after, adjustments))
}
