//! The ledger check behind `GET /v1/reports/reconcile` and `refgrow-server verify`: the
//! invariants of docs/money.md recomputed from the money rows and compared with what is
//! stored, per affiliate and currency.
//!
//! 1. **Commissions from their sale.** An unpaid, unreversed sale or second-tier commission
//!    is worth `commission_after_refund(original, sale, refunded)`; a paid (or payout-held)
//!    one is worth that after its clawbacks; one reversed after payment is clawed back
//!    whole. When the program's rule has not changed since the commission was created and
//!    has no tiers, its original amount is priced again from the rule.
//! 2. **Refunds.** A sale's `refundedAmount` is the sum of its refund rows, never above the
//!    sale.
//! 3. **Rollups.** Every affiliate's rollup row (per UTC day and currency) holds the money of
//!    its rows (see [`crate::db::rollups::Delta`] for what each column holds), and the
//!    program's row of a day and currency is the sum of its affiliates'.
//! 4. **Payouts.** A payout's amount and count are the sum and number of the commissions and
//!    carried balances (adjustments) it holds; it holds no reversed or rejected commission
//!    that was not paid, and a paid payout holds no commission still `approved`.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use refgrow_types::api::{ReconcileCounts, ReconcileDifference, ReconcileReport};
use refgrow_types::commission::{commission_after_refund, percent_of, Sale};
use refgrow_types::money::{Amount, Currency, Money};
use refgrow_types::AffiliateId;
use rust_decimal::Decimal;

use crate::clock::{ms_to_datetime, DAY_MS};
use crate::db::commissions::CommissionRow;
use crate::db::conversions::ConversionRow;
use crate::db::payouts::PayoutRow;
use crate::db::programs::ProgramRow;
use crate::db::rollups::{day_of, Delta, PROGRAM_ROW};
use crate::db::schema::{
    commissions, conversions, daily_stats as ds, payouts, refunds, stats_deltas as sd,
};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::services::program;

/// The most differences one report lists (all are counted).
pub const MAX_LISTED: usize = 1000;

/// Collects differences.
struct Report {
    differences: Vec<ReconcileDifference>,
    count: u64,
}

/// A difference before it is listed.
struct Diff<'a> {
    check: &'a str,
    affiliate: Option<&'a str>,
    currency: Option<&'a str>,
    day: Option<i64>,
    field: &'a str,
    expected: i64,
    actual: i64,
    money: bool,
    rows: Vec<String>,
}

impl Report {
    fn push(&mut self, d: Diff<'_>) {
        self.count += 1;
        if self.differences.len() >= MAX_LISTED {
            return;
        }
        let currency = d.currency.and_then(|c| Currency::parse(c).ok());
        let show = |v: i64| match (d.money, currency) {
            (true, Some(cur)) => Money::new(v, cur).amount(),
            _ => Amount(Decimal::from(v)),
        };
        self.differences.push(ReconcileDifference {
            check: d.check.to_string(),
            affiliate_id: d
                .affiliate
                .filter(|a| *a != PROGRAM_ROW)
                .map(|a| AffiliateId::from_trusted(a.to_string())),
            currency,
            day: d
                .day
                .and_then(|day| ms_to_datetime(day * DAY_MS).date_naive().into()),
            field: d.field.to_string(),
            expected: show(d.expected),
            actual: show(d.actual),
            rows: d.rows,
        });
    }
}

/// A stored rollup row: affiliate, day, currency, then conversions, revenue, refunded,
/// pending, approved, paid and reversed.
type StoredRow = (String, i64, String, i64, i64, i64, i64, i64, i64, i64);

/// A rollup key: (affiliate, day, currency).
type Key = (String, i64, String);

/// What a commission contributes to its rollup row (see [`Delta`]'s documentation).
fn commission_delta(cm: &CommissionRow) -> Delta {
    let mut d = Delta {
        reversed: cm.original_minor - cm.amount_minor,
        ..Delta::default()
    };
    match cm.status.as_str() {
        "pending" => d.pending = cm.amount_minor,
        "approved" => d.approved = cm.amount_minor,
        "paid" => d.paid = cm.amount_minor,
        _ if cm.paid_at.is_some() => d.paid = cm.amount_minor,
        _ => d.reversed += cm.amount_minor,
    }
    d
}

/// Whether a sale counted as a conversion when recorded (it earned, perhaps zero).
fn counts_as_conversion(cv: &ConversionRow) -> bool {
    matches!(
        cv.no_commission_reason.as_deref(),
        None | Some("zero_amount")
    )
}

/// Checks one program. Reads only, in one snapshot (a `REPEATABLE READ` read-only
/// transaction on PostgreSQL, one read transaction on SQLite), so writes landing meanwhile
/// never show as differences.
pub fn program(c: &mut DbConn, program_id: &str) -> Result<ReconcileReport, ApiError> {
    use diesel::Connection;
    c.transaction(|c| {
        if let DbConn::Pg(pg) = c {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(pg)?;
        }
        snapshot(c, program_id)
    })
}

/// Every program's report, by program id (the `verify` command).
pub fn all(c: &mut DbConn) -> Result<Vec<(String, ReconcileReport)>, ApiError> {
    let mut out = Vec::new();
    for id in crate::db::programs::all_ids(c)? {
        let r = program(c, &id)?;
        out.push((id, r));
    }
    Ok(out)
}

fn snapshot(c: &mut DbConn, program_id: &str) -> Result<ReconcileReport, ApiError> {
    let prog = program::load(c, program_id)?;
    let comms: Vec<CommissionRow> = commissions::table
        .filter(commissions::program_id.eq(&prog.id))
        .load(c)?;
    let convs: Vec<ConversionRow> = conversions::table
        .filter(conversions::program_id.eq(&prog.id))
        .load(c)?;
    let refund_rows: Vec<(String, i64)> = refunds::table
        .filter(refunds::program_id.eq(&prog.id))
        .select((refunds::conversion_id, refunds::amount_minor))
        .load(c)?;
    let pays: Vec<PayoutRow> = payouts::table
        .filter(payouts::program_id.eq(&prog.id))
        .load(c)?;
    let stored: Vec<StoredRow> = ds::table
        .filter(ds::program_id.eq(&prog.id))
        .filter(ds::currency.ne(""))
        .select((
            ds::affiliate_id,
            ds::day,
            ds::currency,
            ds::conversions,
            ds::revenue_minor,
            ds::refunded_minor,
            ds::pending_minor,
            ds::approved_minor,
            ds::paid_minor,
            ds::reversed_minor,
        ))
        .load(c)?;
    // Sales append their rollup changes to `stats_deltas`, folded into `daily_stats` in the
    // background (fold and delete are one transaction, so this snapshot counts each change
    // exactly once): a rollup's stored figure is its row plus the deltas not folded yet,
    // added to the affiliate's row and to the program's `*` row as the fold does.
    let unfolded: Vec<StoredRow> = sd::table
        .filter(sd::program_id.eq(&prog.id))
        .filter(sd::currency.ne(""))
        .select((
            sd::affiliate_id,
            sd::day,
            sd::currency,
            sd::conversions,
            sd::revenue_minor,
            sd::refunded_minor,
            sd::pending_minor,
            sd::approved_minor,
            sd::paid_minor,
            sd::reversed_minor,
        ))
        .load(c)?;
    let as_program: Vec<StoredRow> = unfolded
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.0 = PROGRAM_ROW.to_string();
            r
        })
        .collect();
    let stored: Vec<StoredRow> = stored
        .into_iter()
        .chain(unfolded)
        .chain(as_program)
        .collect();
    let mut report = Report {
        differences: Vec::new(),
        count: 0,
    };
    let by_conv: HashMap<&str, &ConversionRow> =
        convs.iter().map(|cv| (cv.id.as_str(), cv)).collect();
    let mut clawbacks: HashMap<&str, (i64, Vec<String>)> = HashMap::new();
    for cm in comms.iter().filter(|cm| cm.kind == "adjustment") {
        if let Some(src) = cm.source_commission_id.as_deref() {
            let e = clawbacks.entry(src).or_default();
            e.0 += cm.amount_minor;
            e.1.push(cm.id.clone());
        }
    }
    check_commissions(&prog, &comms, &by_conv, &clawbacks, &mut report)?;
    check_refunds(&convs, &refund_rows, &mut report);
    let rollup_rows = check_rollups(&comms, &convs, &stored, &mut report);
    check_payouts(&pays, &comms, &mut report);
    Ok(ReconcileReport {
        ok: report.count == 0,
        checked: ReconcileCounts {
            commissions: comms.len() as u64,
            conversions: convs.len() as u64,
            payouts: pays.len() as u64,
            rollup_rows,
        },
        differences: report.differences,
        difference_count: report.count,
    })
}

fn check_commissions(
    prog: &ProgramRow,
    comms: &[CommissionRow],
    by_conv: &HashMap<&str, &ConversionRow>,
    clawbacks: &HashMap<&str, (i64, Vec<String>)>,
    report: &mut Report,
) -> Result<(), ApiError> {
    let rule = program::rule(prog).ok().filter(|r| r.tiers.is_empty());
    let home = program::currency(prog);
    for cm in comms {
        if cm.kind == "adjustment" {
            continue;
        }
        let (claw, mut claw_rows) = clawbacks.get(cm.id.as_str()).cloned().unwrap_or_default();
        let mut rows = vec![cm.id.clone()];
        rows.append(&mut claw_rows);
        let diff = |field, expected, actual, rows: Vec<String>| Diff {
            check: "commission_amount",
            affiliate: Some(&cm.affiliate_id),
            currency: Some(&cm.currency),
            day: Some(day_of(cm.created_at)),
            field,
            expected,
            actual,
            money: true,
            rows,
        };
        if cm.amount_minor < 0 || cm.amount_minor > cm.original_minor {
            report.push(diff(
                "amount",
                cm.original_minor,
                cm.amount_minor,
                rows.clone(),
            ));
        }
        let reversed = matches!(cm.status.as_str(), "reversed" | "rejected");
        let held = cm.paid_at.is_some() || cm.payout_id.is_some();
        if reversed && cm.paid_at.is_some() {
            // Reversed after payment: clawed back whole.
            if cm.amount_minor + claw != 0 {
                report.push(diff("effectiveAmount", 0, cm.amount_minor + claw, rows));
            }
            continue;
        }
        if reversed {
            continue;
        }
        let Some(cv) = cm.conversion_id.as_deref().and_then(|id| by_conv.get(id)) else {
            continue;
        };
        rows.push(cv.id.clone());
        let target = commission_after_refund(cm.original_minor, cv.amount_minor, cv.refunded_minor);
        let effective = if held {
            cm.amount_minor + claw
        } else {
            cm.amount_minor
        };
        if effective != target {
            report.push(diff("effectiveAmount", target, effective, rows.clone()));
        }
        // The rule, when it is still the one the commission was priced with.
        let Some(rule) = rule.as_ref().filter(|_| prog.updated_at <= cm.created_at) else {
            continue;
        };
        let Ok(cur) = Currency::parse(&cv.currency) else {
            continue;
        };
        let sale = Money::new(cv.amount_minor, cur);
        let expected = match cm.kind.as_str() {
            "sale" => {
                let p = rule.price(&Sale {
                    amount: sale,
                    program_currency: home,
                    product_id: cv.product_id.as_deref(),
                    prior_conversions: 0,
                    first_payment_at: None,
                    paid_at: ms_to_datetime(cm.created_at),
                });
                Some(p.affiliate.minor)
            }
            "second_tier" => rule
                .second_tier
                .as_ref()
                .map(|st| percent_of(cv.amount_minor, st.rate.value())),
            _ => None,
        };
        if let Some(expected) = expected.filter(|e| *e != cm.original_minor) {
            report.push(Diff {
                check: "commission_rule",
                field: "originalAmount",
                ..diff("originalAmount", expected, cm.original_minor, rows)
            });
        }
    }
    Ok(())
}

fn check_refunds(convs: &[ConversionRow], refund_rows: &[(String, i64)], report: &mut Report) {
    let mut sums: HashMap<&str, i64> = HashMap::new();
    for (conv, amount) in refund_rows {
        *sums.entry(conv.as_str()).or_default() += amount;
    }
    for cv in convs {
        let sum = sums.get(cv.id.as_str()).copied().unwrap_or(0);
        if sum != cv.refunded_minor || cv.refunded_minor > cv.amount_minor {
            report.push(Diff {
                check: "refund_total",
                affiliate: Some(&cv.affiliate_id),
                currency: Some(&cv.currency),
                day: Some(day_of(cv.created_at)),
                field: "refundedAmount",
                expected: sum.min(cv.amount_minor),
                actual: cv.refunded_minor,
                money: true,
                rows: vec![cv.id.clone()],
            });
        }
    }
}

/// The money columns compared, by name.
fn columns(d: &Delta) -> [(&'static str, i64, bool); 7] {
    [
        ("conversions", d.conversions, false),
        ("revenue", d.revenue, true),
        ("refunded", d.refunded, true),
        ("pending", d.pending, true),
        ("approved", d.approved, true),
        ("paid", d.paid, true),
        ("reversed", d.reversed, true),
    ]
}

fn check_rollups(
    comms: &[CommissionRow],
    convs: &[ConversionRow],
    stored: &[StoredRow],
    report: &mut Report,
) -> u64 {
    let mut expected: BTreeMap<Key, (Delta, Vec<String>)> = BTreeMap::new();
    for cm in comms {
        let key = (
            cm.affiliate_id.clone(),
            day_of(cm.created_at),
            cm.currency.clone(),
        );
        let e = expected.entry(key).or_default();
        e.0 = e.0.plus(commission_delta(cm));
        e.1.push(cm.id.clone());
    }
    for cv in convs {
        let key = (
            cv.affiliate_id.clone(),
            day_of(cv.created_at),
            cv.currency.clone(),
        );
        let e = expected.entry(key).or_default();
        e.0 = e.0.plus(Delta {
            conversions: i64::from(counts_as_conversion(cv)),
            revenue: cv.amount_minor,
            refunded: cv.refunded_minor,
            ..Delta::default()
        });
        e.1.push(cv.id.clone());
    }
    // The program's rows: the sums of its affiliates'.
    let mut program_rows: BTreeMap<Key, (Delta, Vec<String>)> = BTreeMap::new();
    for ((_, day, cur), (d, _)) in &expected {
        let e = program_rows
            .entry((PROGRAM_ROW.to_string(), *day, cur.clone()))
            .or_default();
        e.0 = e.0.plus(*d);
    }
    let mut actual: BTreeMap<Key, Delta> = BTreeMap::new();
    for (aff, day, cur, conversions, revenue, refunded, pending, approved, paid, reversed) in stored
    {
        let e = actual.entry((aff.clone(), *day, cur.clone())).or_default();
        *e = e.plus(Delta {
            conversions: *conversions,
            revenue: *revenue,
            refunded: *refunded,
            pending: *pending,
            approved: *approved,
            paid: *paid,
            reversed: *reversed,
            ..Delta::default()
        });
    }
    let mut keys: Vec<&Key> = expected.keys().chain(program_rows.keys()).collect();
    keys.extend(actual.keys());
    keys.sort();
    keys.dedup();
    for key in keys {
        let (want, rows, check) = match (expected.get(key), program_rows.get(key)) {
            (Some((d, rows)), _) => (*d, rows.clone(), "rollup_affiliate"),
            (None, Some((d, _))) => (*d, Vec::new(), "rollup_program"),
            (None, None) if key.0 == PROGRAM_ROW => {
                (Delta::default(), Vec::new(), "rollup_program")
            }
            (None, None) => (Delta::default(), Vec::new(), "rollup_affiliate"),
        };
        let have = actual.get(key).copied().unwrap_or_default();
        for ((field, w, money), (_, h, _)) in columns(&want).into_iter().zip(columns(&have)) {
            if w != h {
                report.push(Diff {
                    check,
                    affiliate: Some(&key.0),
                    currency: Some(&key.2),
                    day: Some(key.1),
                    field,
                    expected: w,
                    actual: h,
                    money,
                    rows: rows.clone(),
                });
            }
        }
    }
    stored.len() as u64
}

fn check_payouts(pays: &[PayoutRow], comms: &[CommissionRow], report: &mut Report) {
    let mut held: HashMap<&str, Vec<&CommissionRow>> = HashMap::new();
    for cm in comms {
        if let Some(p) = cm.payout_id.as_deref() {
            held.entry(p).or_default().push(cm);
        }
    }
    for p in pays {
        let inside = held.get(p.id.as_str()).cloned().unwrap_or_default();
        let sum: i64 = inside.iter().map(|cm| cm.amount_minor).sum();
        let mut rows = vec![p.id.clone()];
        rows.extend(inside.iter().map(|cm| cm.id.clone()));
        let diff = |check, field, expected, actual, money, rows| Diff {
            check,
            affiliate: Some(&p.affiliate_id),
            currency: Some(&p.currency),
            day: None,
            field,
            expected,
            actual,
            money,
            rows,
        };
        if sum != p.amount_minor {
            report.push(diff(
                "payout_total",
                "amount",
                sum,
                p.amount_minor,
                true,
                rows.clone(),
            ));
        }
        if inside.len() as i64 != p.commission_count {
            report.push(diff(
                "payout_total",
                "commissionCount",
                inside.len() as i64,
                p.commission_count,
                false,
                rows.clone(),
            ));
        }
        for cm in &inside {
            let bad = match cm.status.as_str() {
                "reversed" | "rejected" => cm.paid_at.is_none(),
                "approved" => p.status == "paid",
                "paid" => p.status != "paid",
                _ => true,
            };
            if bad || cm.affiliate_id != p.affiliate_id || cm.currency != p.currency {
                report.push(diff(
                    "payout_content",
                    "status",
                    0,
                    cm.amount_minor,
                    true,
                    vec![p.id.clone(), cm.id.clone()],
                ));
            }
        }
    }
}
