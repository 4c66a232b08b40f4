//! The `daily_stats` table: per affiliate, per UTC day, per currency, kept current by every
//! write that changes a count or an amount. Stats endpoints read only this.
//!
//! Beside each affiliate's rows, the rows of affiliate id [`PROGRAM_ROW`] (`*`, which no
//! affiliate id can be) hold the whole program's sums, kept by the same writes, so the
//! program report reads one row per day and currency whatever the number of affiliates.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use super::clicks::ClickRow;
use super::schema::daily_stats as ds;
use super::DbConn;
use crate::clock::DAY_MS;

/// Changes to one rollup row.
///
/// The commission columns follow the money of each commission (filed under the day the
/// commission was created, in its currency):
/// - `pending`, `approved`, `paid` hold the current `amount` of the commissions in that
///   status; a commission reversed after it was paid stays in `paid` (its clawback, an
///   approved negative adjustment, nets it out);
/// - `reversed` holds all money that was earned and no longer is: every reduction by a
///   refund (`original - amount`, including the last one that takes it to zero) plus the
///   remaining amount of a commission reversed or rejected before it was paid.
///
/// So per commission: `reversed = (original - amount) + (amount if reversed or rejected and
/// never paid)`, the figure `refgrow-server verify` recomputes. Adding to a delta is
/// checked: [`Delta::checked_plus`] refuses a sum that does not fit an `i64`.
///
/// Serialized under the rollup columns' names (`revenue_minor`, …), as the batch statement
/// of [`super::sales`] reads it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Delta {
    /// Clicks.
    pub clicks: i64,
    /// Signups.
    pub signups: i64,
    /// Conversions.
    pub conversions: i64,
    /// Sales.
    #[serde(rename = "revenue_minor")]
    pub revenue: i64,
    /// Refunds.
    #[serde(rename = "refunded_minor")]
    pub refunded: i64,
    /// Commission money by status.
    #[serde(rename = "pending_minor")]
    pub pending: i64,
    /// Approved.
    #[serde(rename = "approved_minor")]
    pub approved: i64,
    /// Paid.
    #[serde(rename = "paid_minor")]
    pub paid: i64,
    /// Reversed or rejected.
    #[serde(rename = "reversed_minor")]
    pub reversed: i64,
}

impl Delta {
    /// Commission money of `minor` under a status (rejected counts as reversed).
    pub fn status(status: &str, minor: i64) -> Delta {
        let mut d = Delta::default();
        match status {
            "pending" => d.pending = minor,
            "approved" => d.approved = minor,
            "paid" => d.paid = minor,
            _ => d.reversed = minor,
        }
        d
    }

    /// The sum of two deltas, or `None` when a column would overflow an `i64`.
    pub fn checked_plus(self, o: Delta) -> Option<Delta> {
        Some(Delta {
            clicks: self.clicks.checked_add(o.clicks)?,
            signups: self.signups.checked_add(o.signups)?,
            conversions: self.conversions.checked_add(o.conversions)?,
            revenue: self.revenue.checked_add(o.revenue)?,
            refunded: self.refunded.checked_add(o.refunded)?,
            pending: self.pending.checked_add(o.pending)?,
            approved: self.approved.checked_add(o.approved)?,
            paid: self.paid.checked_add(o.paid)?,
            reversed: self.reversed.checked_add(o.reversed)?,
        })
    }

    /// The sum of two deltas, saturating at the ends of `i64` (never a wrap); amounts are
    /// bounded by `MAX_MINOR`, so only absurd histories come near.
    pub fn plus(self, o: Delta) -> Delta {
        Delta {
            clicks: self.clicks.saturating_add(o.clicks),
            signups: self.signups.saturating_add(o.signups),
            conversions: self.conversions.saturating_add(o.conversions),
            revenue: self.revenue.saturating_add(o.revenue),
            refunded: self.refunded.saturating_add(o.refunded),
            pending: self.pending.saturating_add(o.pending),
            approved: self.approved.saturating_add(o.approved),
            paid: self.paid.saturating_add(o.paid),
            reversed: self.reversed.saturating_add(o.reversed),
        }
    }
}

/// The UTC day number of a timestamp in ms.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The affiliate id of the rows that hold the whole program's sums.
pub const PROGRAM_ROW: &str = "*";

/// A rollup row's key: (program, affiliate, day, currency).
type RowKey = (String, String, i64, String);

thread_local! {
    /// The rollup additions of the write transaction running on this thread, when they are
    /// deferred (see [`deferred`]).
    static DEFERRED: RefCell<Option<BTreeMap<RowKey, Delta>>> = const { RefCell::new(None) };
}

/// Resets the deferred additions of this thread when dropped (also on a panic).
struct DeferGuard;

impl Drop for DeferGuard {
    fn drop(&mut self) {
        DEFERRED.with(|d| d.borrow_mut().take());
    }
}

/// Runs the body of one write transaction with its rollup additions deferred: [`add`] only
/// sums them per row, and they are written when `f` succeeds, in the one global order of
/// the rows (see `lock_order`), still inside the transaction.
///
/// On PostgreSQL every money write touches the program's rollup row and one or two
/// affiliates' rows; written as they came, two transactions could take them in opposite
/// orders (a sale files its second tier's row before its own, a refund the other way) and
/// deadlock. Written last and in one order, rollup rows are never part of a lock cycle, and
/// each is locked for the shortest time. A call inside another runs as part of it.
pub fn deferred<T, E: From<diesel::result::Error>>(
    c: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    let nested = DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_some() {
            true
        } else {
            *d = Some(BTreeMap::new());
            false
        }
    });
    if nested {
        return f(c);
    }
    let _guard = DeferGuard;
    let out = f(c)?;
    let mut pending: Vec<_> = DEFERRED
        .with(|d| d.borrow_mut().take())
        .unwrap_or_default()
        .into_iter()
        .collect();
    pending.sort_by(|(a, _), (b, _)| lock_order(a).cmp(&lock_order(b)));
    for ((program, affiliate, day, currency), d) in pending {
        if d != Delta::default() {
            add_row(c, &program, &affiliate, day, &currency, d)?;
        }
    }
    Ok(out)
}

/// The one order in which every writer of rollup rows takes them (the deferred additions
/// of a money write, the click flush and the fold of the sales' deltas, whose SQL sorts by
/// `(affiliate_id = '*'), program_id, affiliate_id, day, currency`): the affiliates' rows
/// first, by key, then the program's `*` rows. One order means no lock cycle on PostgreSQL.
fn lock_order(k: &RowKey) -> (bool, &str, &str, i64, &str) {
    (k.1 == PROGRAM_ROW, &k.0, &k.1, k.2, &k.3)
}

/// Runs `f` in a savepoint; when it fails, the rollup additions it deferred are dropped
/// with the rest of its work.
pub fn savepoint<T, E: From<diesel::result::Error>>(
    c: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::Connection;
    let before = DEFERRED.with(|d| d.borrow().clone());
    let out = c.transaction(f);
    if out.is_err() {
        DEFERRED.with(|d| *d.borrow_mut() = before);
    }
    out
}

/// Adds a delta to an affiliate's rollup row of a day and to the program's: at once, or at
/// the end of the transaction inside [`deferred`].
pub fn add(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    at_ms: i64,
    currency: &str,
    d: Delta,
) -> QueryResult<()> {
    let day = day_of(at_ms);
    let was_deferred = DEFERRED.with(|cell| match cell.borrow_mut().as_mut() {
        Some(map) => {
            for aff in [affiliate_id, PROGRAM_ROW] {
                let key = (
                    program_id.to_string(),
                    aff.to_string(),
                    day,
                    currency.to_string(),
                );
                let e = map.entry(key).or_default();
                *e = e.plus(d);
            }
            true
        }
        None => false,
    });
    if was_deferred {
        return Ok(());
    }
    add_row(c, program_id, affiliate_id, day, currency, d)?;
    add_row(c, program_id, PROGRAM_ROW, day, currency, d)
}

/// Adds a delta to one rollup row, creating it when missing (update first, then insert; a
/// concurrent insert from another replica is caught and the update retried).
pub(crate) fn add_row(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    day: i64,
    currency: &str,
    d: Delta,
) -> QueryResult<()> {
    for _ in 0..3 {
        let key = ds::program_id
            .eq(program_id)
            .and(ds::affiliate_id.eq(affiliate_id))
            .and(ds::day.eq(day))
            .and(ds::currency.eq(currency));
        let q = super::fixed_update(
            ds::table,
            key,
            (
                ds::clicks.eq(ds::clicks + d.clicks),
                ds::signups.eq(ds::signups + d.signups),
                ds::conversions.eq(ds::conversions + d.conversions),
                ds::revenue_minor.eq(ds::revenue_minor + d.revenue),
                ds::refunded_minor.eq(ds::refunded_minor + d.refunded),
                ds::pending_minor.eq(ds::pending_minor + d.pending),
                ds::approved_minor.eq(ds::approved_minor + d.approved),
                ds::paid_minor.eq(ds::paid_minor + d.paid),
                ds::reversed_minor.eq(ds::reversed_minor + d.reversed),
            ),
        );
        let n = super::direct!(c, |c| q.execute(c))?;
        if n > 0 {
            return Ok(());
        }
        let inserted = super::insert_unless_taken(c, |c| {
            super::direct!(c, |c| diesel::insert_into(ds::table)
                .values((
                    ds::program_id.eq(program_id),
                    ds::affiliate_id.eq(affiliate_id),
                    ds::day.eq(day),
                    ds::currency.eq(currency),
                    ds::clicks.eq(d.clicks),
                    ds::signups.eq(d.signups),
                    ds::conversions.eq(d.conversions),
                    ds::revenue_minor.eq(d.revenue),
                    ds::refunded_minor.eq(d.refunded),
                    ds::pending_minor.eq(d.pending),
                    ds::approved_minor.eq(d.approved),
                    ds::paid_minor.eq(d.paid),
                    ds::reversed_minor.eq(d.reversed),
                ))
                .execute(c))
        });
        if inserted? {
            return Ok(());
        }
    }
    Err(diesel::result::Error::RollbackTransaction)
}

/// Adds a batch of clicks, one row update per affiliate and day (and one per program and day).
pub fn add_clicks(c: &mut DbConn, batch: &[ClickRow]) -> QueryResult<()> {
    let mut groups: HashMap<(&str, &str, i64), i64> = HashMap::new();
    for click in batch {
        let day = day_of(click.created_at);
        let program = click.program_id.as_str();
        *groups
            .entry((program, click.affiliate_id.as_str(), day))
            .or_default() += 1;
        *groups.entry((program, PROGRAM_ROW, day)).or_default() += 1;
    }
    // The one order of every rollup writer (see [`lock_order`]), so two replicas flushing
    // clicks at once, or a flush and a fold, lock rows in the same order.
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|((program, affiliate, day), _)| {
        (*affiliate == PROGRAM_ROW, *program, *affiliate, *day)
    });
    for ((program, affiliate, day), n) in groups {
        let d = Delta {
            clicks: n,
            ..Delta::default()
        };
        add_row(c, program, affiliate, day, "", d)?;
    }
    Ok(())
}

/// One row of rollups as read back: (day, currency, delta).
pub type RollupRow = (i64, String, Delta);

/// Rollups of one affiliate (or of the whole program with [`PROGRAM_ROW`]) between two days,
/// inclusive: a range of the primary key, plus the changes not folded yet
/// ([`super::stats_deltas`]) read in the same statement (`UNION ALL`, one snapshot), so a
/// fold committing meanwhile is counted exactly once. A day and currency may come back in
/// several rows: callers add them up.
pub fn range(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    from_day: i64,
    to_day: i64,
) -> QueryResult<Vec<RollupRow>> {
    use super::schema::stats_deltas as sd;
    use diesel::query_dsl::CombineDsl;
    type Row = (i64, String, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let rolled = ds::table
        .filter(ds::program_id.eq(program_id))
        .filter(ds::affiliate_id.eq(affiliate_id))
        .filter(ds::day.ge(from_day))
        .filter(ds::day.le(to_day))
        .select((
            ds::day,
            ds::currency,
            ds::clicks,
            ds::signups,
            ds::conversions,
            ds::revenue_minor,
            ds::refunded_minor,
            ds::pending_minor,
            ds::approved_minor,
            ds::paid_minor,
            ds::reversed_minor,
        ));
    let deltas = sd::table
        .filter(sd::program_id.eq(program_id))
        .filter(sd::day.ge(from_day))
        .filter(sd::day.le(to_day))
        .select((
            sd::day,
            sd::currency,
            sd::clicks,
            sd::signups,
            sd::conversions,
            sd::revenue_minor,
            sd::refunded_minor,
            sd::pending_minor,
            sd::approved_minor,
            sd::paid_minor,
            sd::reversed_minor,
        ));
    let rows: Vec<Row> = if affiliate_id == PROGRAM_ROW {
        // The program's rows hold every affiliate's folded changes; the pending ones are
        // all of the program's deltas.
        super::direct!(c, |c| rolled.union_all(deltas).load(c))?
    } else {
        let deltas = deltas.filter(sd::affiliate_id.eq(affiliate_id));
        super::direct!(c, |c| rolled.union_all(deltas).load(c))?
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.0,
                r.1,
                Delta {
                    clicks: r.2,
                    signups: r.3,
                    conversions: r.4,
                    revenue: r.5,
                    refunded: r.6,
                    pending: r.7,
                    approved: r.8,
                    paid: r.9,
                    reversed: r.10,
                },
            )
        })
        .collect())
}
