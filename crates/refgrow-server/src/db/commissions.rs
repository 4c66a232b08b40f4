//! The `commissions` table: sale, second-tier, manual and adjustment rows.

use diesel::prelude::*;

use super::schema::commissions;
use super::DbConn;

/// A stored commission.
#[derive(Debug, Clone, Queryable, Insertable, AsChangeset, Identifiable, serde::Serialize)]
#[diesel(table_name = commissions, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct CommissionRow {
    /// `comm_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Who earns it.
    pub affiliate_id: String,
    /// The sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_id: Option<String>,
    /// The sale's order id or the manual commission's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Kind wire name.
    pub kind: String,
    /// Unique per program: what makes this commission the only one of its kind.
    pub dedupe_key: String,
    /// SHA-256 of the creating request (manual commissions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
    /// Worth now, minor units.
    pub amount_minor: i64,
    /// Worth at creation, minor units.
    pub original_minor: i64,
    /// Currency.
    pub currency: String,
    /// Status wire name.
    pub status: String,
    /// The sale amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_amount_minor: Option<i64>,
    /// A note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The payout holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_id: Option<String>,
    /// Held by a dispute.
    pub on_hold: bool,
    /// Why rejected or reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For adjustments: the commission clawed back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_commission_id: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
    /// Approved, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<i64>,
    /// Paid, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    /// Reversed, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversed_at: Option<i64>,
}

/// Inserts a commission.
pub fn insert(c: &mut DbConn, row: &CommissionRow) -> QueryResult<()> {
    super::direct!(c, |c| diesel::insert_into(commissions::table)
        .values(row)
        .execute(c)
        .map(|_| ()))
}

/// Writes every column back.
pub fn update(c: &mut DbConn, row: &CommissionRow) -> QueryResult<()> {
    // The changeset writes every column (None as NULL): its SQL is fixed.
    let q = super::fixed_update(commissions::table, commissions::id.eq(&row.id), row);
    super::direct!(c, |c| q.execute(c).map(|_| ()))
}

/// A commission of the program.
pub fn find(c: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<CommissionRow>> {
    commissions::table
        .find(id)
        .filter(commissions::program_id.eq(program_id))
        .first(c)
        .optional()
}

/// A commission of the program, its row locked until the transaction ends (`SELECT … FOR
/// UPDATE` on PostgreSQL; SQLite's single writer already serializes writes). Every
/// read-modify-write of a commission (status change, reversal, refund, hold) reads it
/// through this, so two of them, or one and a payout run's compare-and-set, never both
/// act on the same old row.
pub fn find_for_update(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
) -> QueryResult<Option<CommissionRow>> {
    let q = commissions::table
        .find(id.to_string())
        .filter(commissions::program_id.eq(program_id.to_string()));
    match c {
        DbConn::Pg(pg) => q.for_update().first(pg).optional(),
        DbConn::Sqlite(lite) => q.first(lite).optional(),
    }
}

/// The commissions of a conversion (sale and second tier), oldest first, locked like
/// [`find_for_update`].
pub fn of_conversion_for_update(
    c: &mut DbConn,
    conversion_id: &str,
) -> QueryResult<Vec<CommissionRow>> {
    let q = commissions::table
        .filter(commissions::conversion_id.eq(conversion_id.to_string()))
        .filter(commissions::kind.ne("adjustment"))
        .order((commissions::created_at.asc(), commissions::id.asc()));
    match c {
        DbConn::Pg(pg) => q.for_update().load(pg),
        DbConn::Sqlite(lite) => q.load(lite),
    }
}

/// A commission of the program by its dedupe key.
pub fn find_by_dedupe(
    c: &mut DbConn,
    program_id: &str,
    key: &str,
) -> QueryResult<Option<CommissionRow>> {
    commissions::table
        .filter(commissions::program_id.eq(program_id))
        .filter(commissions::dedupe_key.eq(key))
        .first(c)
        .optional()
}

/// The commissions of a conversion (sale and second tier), oldest first.
pub fn of_conversion(c: &mut DbConn, conversion_id: &str) -> QueryResult<Vec<CommissionRow>> {
    super::direct!(c, |c| commissions::table
        .filter(commissions::conversion_id.eq(conversion_id))
        .filter(commissions::kind.ne("adjustment"))
        .order((commissions::created_at.asc(), commissions::id.asc()))
        .load(c))
}

/// The sum of the adjustments already taken from a commission (negative or zero).
pub fn adjustments_of(c: &mut DbConn, commission_id: &str) -> QueryResult<i64> {
    let amounts: Vec<i64> = commissions::table
        .filter(commissions::source_commission_id.eq(commission_id))
        .select(commissions::amount_minor)
        .load(c)?;
    Ok(amounts.into_iter().sum())
}

/// Filters of a list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only this affiliate's.
    pub affiliate_id: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Created at or after, ms.
    pub from: Option<i64>,
    /// Created before, ms.
    pub to: Option<i64>,
}

/// A page of the program's commissions, newest first, and the total.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    f: &Filter,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<CommissionRow>, i64)> {
    let build = || {
        let mut q = commissions::table
            .filter(commissions::program_id.eq(program_id.to_string()))
            .into_boxed();
        if let Some(a) = &f.affiliate_id {
            q = q.filter(commissions::affiliate_id.eq(a.clone()));
        }
        if let Some(s) = &f.status {
            q = q.filter(commissions::status.eq(s.clone()));
        }
        if let Some(from) = f.from {
            q = q.filter(commissions::created_at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(commissions::created_at.lt(to));
        }
        q
    };
    let total = build().count().get_result(c)?;
    let rows = build()
        .order((commissions::created_at.desc(), commissions::id.desc()))
        .limit(i64::from(limit))
        .offset(offset as i64)
        .load(c)?;
    Ok((rows, total))
}

/// Pending commissions created before `cutoff` in a program, not held, oldest first.
pub fn due_for_approval(
    c: &mut DbConn,
    program_id: &str,
    cutoff: i64,
    limit: i64,
) -> QueryResult<Vec<CommissionRow>> {
    commissions::table
        .filter(commissions::program_id.eq(program_id))
        .filter(commissions::status.eq("pending"))
        .filter(commissions::on_hold.eq(false))
        .filter(commissions::created_at.le(cutoff))
        .order((commissions::created_at.asc(), commissions::id.asc()))
        .limit(limit)
        .load(c)
}

/// Moves a commission from one status to another only if it still has the first: the
/// compare-and-set that keeps concurrent replicas from moving it twice. Returns whether it
/// moved.
pub fn move_status(c: &mut DbConn, id: &str, from: &str, to: &str, now: i64) -> QueryResult<bool> {
    let target = commissions::table
        .find(id)
        .filter(commissions::status.eq(from))
        .filter(commissions::payout_id.is_null());
    let n = match to {
        "approved" => diesel::update(target)
            .set((
                commissions::status.eq(to),
                commissions::approved_at.eq(Some(now)),
                commissions::updated_at.eq(now),
            ))
            .execute(c)?,
        _ => diesel::update(target)
            .set((commissions::status.eq(to), commissions::updated_at.eq(now)))
            .execute(c)?,
    };
    Ok(n > 0)
}

/// Sums of paid commissions that were reversed afterwards (still counted as paid), by
/// affiliate.
pub fn reversed_after_payment(
    c: &mut DbConn,
    ids: &[String],
    currency: &str,
) -> QueryResult<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = commissions::table
        .filter(commissions::affiliate_id.eq_any(ids))
        .filter(commissions::currency.eq(currency))
        .filter(commissions::status.eq("reversed"))
        .filter(commissions::paid_at.is_not_null())
        .select((commissions::affiliate_id, commissions::amount_minor))
        .load(c)?;
    Ok(rows)
}
