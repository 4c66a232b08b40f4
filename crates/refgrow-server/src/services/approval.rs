//! Approval: the commission status machine (`PUT /v1/commissions/{id}/status`, only the
//! contract's moves), approval once the program's hold period has passed (a background
//! job, safe on replicas), and holds while a sale is disputed.

use refgrow_types::api::CommissionStatus;

use crate::clock::DAY_MS;
use crate::db::commissions::{self as store, CommissionRow};
use crate::db::rollups;
use crate::db::{programs, DbConn};
use crate::error::ApiError;
use crate::services::commissions::{load_locked, record_event, rollup_move};

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
    record_event(c, program_id, "commission.updated", &row, now)?;
    Ok(row)
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
                            record_event(c, &program_id, "commission.updated", &row, now)?;
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
        record_event(c, program_id, "commission.updated", &row, now)?;
        held += 1;
    }
    Ok(held)
}
