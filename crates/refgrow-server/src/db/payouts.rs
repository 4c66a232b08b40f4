//! The `payouts` table, and the commission queries of payouts: what is payable, taking
//! commissions into a payout (compare-and-set), and paying them.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::schema::{affiliates, commissions, payouts};
use super::DbConn;

/// A stored payout.
#[derive(Debug, Clone, Queryable, Insertable, AsChangeset, Identifiable)]
#[diesel(table_name = payouts, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct PayoutRow {
    /// `po_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Who is paid.
    pub affiliate_id: String,
    /// Currency code.
    pub currency: String,
    /// Net amount, minor units.
    pub amount_minor: i64,
    /// How many commissions it holds.
    pub commission_count: i64,
    /// `pending` or `paid`.
    pub status: String,
    /// The caller's payment reference.
    pub reference: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
    /// Paid, ms.
    pub paid_at: Option<i64>,
}

/// Inserts a payout.
pub fn insert(c: &mut DbConn, row: &PayoutRow) -> QueryResult<()> {
    diesel::insert_into(payouts::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// A payout of the program.
pub fn find(c: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<PayoutRow>> {
    payouts::table
        .find(id)
        .filter(payouts::program_id.eq(program_id))
        .first(c)
        .optional()
}

/// Filters of a list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this affiliate's.
    pub affiliate_id: Option<String>,
}

/// A page of the program's payouts, newest first, and the total.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<PayoutRow>, i64)> {
    let build = || {
        let mut q = payouts::table
            .filter(payouts::program_id.eq(program_id.to_string()))
            .into_boxed();
        if let Some(s) = &f.status {
            q = q.filter(payouts::status.eq(s.clone()));
        }
        if let Some(a) = &f.affiliate_id {
            q = q.filter(payouts::affiliate_id.eq(a.clone()));
        }
        q
    };
    let total = build().count().get_result(c)?;
    let rows = build()
        .order((payouts::created_at.desc(), payouts::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(c)?;
    Ok((rows, total))
}

/// A commission that a payout run may take: (id, affiliate, currency, amount, created).
pub type Payable = (String, String, String, i64, i64);

/// The program's approved, not held, not yet taken commissions (adjustments included) of
/// active affiliates, grouped by affiliate and currency, oldest first.
pub fn payable(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: Option<&str>,
) -> QueryResult<Vec<Payable>> {
    let active = affiliates::table
        .filter(affiliates::program_id.eq(program_id.to_string()))
        .filter(affiliates::status.eq("active"))
        .select(affiliates::id);
    // Literal SQL (not bound parameters) so the partial index `commissions_payable` applies.
    let mut q = commissions::table
        .filter(commissions::program_id.eq(program_id.to_string()))
        .filter(sql::<Bool>(
            "status = 'approved' AND payout_id IS NULL AND on_hold = FALSE",
        ))
        .filter(commissions::affiliate_id.eq_any(active))
        .select((
            commissions::id,
            commissions::affiliate_id,
            commissions::currency,
            commissions::amount_minor,
            commissions::created_at,
        ))
        .into_boxed();
    if let Some(a) = affiliate_id {
        q = q.filter(commissions::affiliate_id.eq(a.to_string()));
    }
    q.order((
        commissions::affiliate_id.asc(),
        commissions::currency.asc(),
        commissions::created_at.asc(),
        commissions::id.asc(),
    ))
    .load(c)
}

/// How many ids go into one `IN (…)`: far below both backends' limits on bound parameters.
const CHUNK: usize = 500;

/// Takes commissions into a payout, each only if it is still approved, not held and in no
/// payout: the compare-and-set that keeps two runs from taking one commission twice.
/// Returns how many were taken; fewer than `ids.len()` means another run got there first.
pub fn assign(c: &mut DbConn, payout_id: &str, ids: &[String], now: i64) -> QueryResult<usize> {
    let mut taken = 0;
    for chunk in ids.chunks(CHUNK) {
        taken += diesel::update(
            commissions::table
                .filter(commissions::id.eq_any(chunk))
                .filter(commissions::payout_id.is_null())
                .filter(commissions::status.eq("approved"))
                .filter(commissions::on_hold.eq(false)),
        )
        .set((
            commissions::payout_id.eq(payout_id),
            commissions::updated_at.eq(now),
        ))
        .execute(c)?;
    }
    Ok(taken)
}

/// Locks commissions a payout run may take, in the order every other locking read of
/// commissions uses (created, then id), on PostgreSQL; SQLite has a single writer. Taking
/// them in `assign`'s arbitrary order could deadlock with a refund locking a sale's two
/// commissions (its affiliate's and its second tier's) the other way round.
pub fn lock_in_order(c: &mut DbConn, mut ids: Vec<(i64, String)>) -> QueryResult<()> {
    let DbConn::Pg(pg) = c else {
        return Ok(());
    };
    ids.sort();
    for chunk in ids.chunks(CHUNK) {
        let chunk: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
        commissions::table
            .filter(commissions::id.eq_any(chunk))
            .order((commissions::created_at.asc(), commissions::id.asc()))
            .select(commissions::id)
            .for_update()
            .load::<String>(pg)?;
    }
    Ok(())
}

/// A commission of a payout: (id, affiliate, currency, amount, created, status).
pub type Held = (String, String, String, i64, i64, String);

/// The commissions of a payout, oldest first.
pub fn commissions_of(c: &mut DbConn, payout_id: &str) -> QueryResult<Vec<Held>> {
    commissions::table
        .filter(commissions::payout_id.eq(payout_id))
        .select((
            commissions::id,
            commissions::affiliate_id,
            commissions::currency,
            commissions::amount_minor,
            commissions::created_at,
            commissions::status,
        ))
        .order((commissions::created_at.asc(), commissions::id.asc()))
        .load(c)
}

/// Marks a pending payout paid, only if it is still pending. Returns whether it moved.
pub fn mark_paid(c: &mut DbConn, id: &str, reference: Option<&str>, now: i64) -> QueryResult<bool> {
    let n = diesel::update(
        payouts::table
            .find(id)
            .filter(payouts::status.eq("pending")),
    )
    .set((
        payouts::status.eq("paid"),
        payouts::paid_at.eq(Some(now)),
        payouts::reference.eq(reference),
        payouts::updated_at.eq(now),
    ))
    .execute(c)?;
    Ok(n > 0)
}

/// Moves the approved commissions of a payout to `paid`. Returns how many moved.
pub fn pay_commissions(c: &mut DbConn, payout_id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        commissions::table
            .filter(commissions::payout_id.eq(payout_id))
            .filter(commissions::status.eq("approved")),
    )
    .set((
        commissions::status.eq("paid"),
        commissions::paid_at.eq(Some(now)),
        commissions::updated_at.eq(now),
    ))
    .execute(c)
}

/// The program's payouts of a status (all when `None`), oldest first, at most `limit`.
pub fn for_export(
    c: &mut DbConn,
    program_id: &str,
    status: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<PayoutRow>> {
    let mut q = payouts::table
        .filter(payouts::program_id.eq(program_id.to_string()))
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(payouts::status.eq(s.to_string()));
    }
    q.order((payouts::created_at.asc(), payouts::id.asc()))
        .limit(limit)
        .load(c)
}

/// Who gets paid: (id, email, name, payment method, payment details) of some affiliates.
pub type Recipient = (String, String, String, Option<String>, Option<String>);

/// The recipients of a set of affiliates of the program.
pub fn recipients(c: &mut DbConn, program_id: &str, ids: &[String]) -> QueryResult<Vec<Recipient>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        out.extend(
            affiliates::table
                .filter(affiliates::program_id.eq(program_id.to_string()))
                .filter(affiliates::id.eq_any(chunk))
                .select((
                    affiliates::id,
                    affiliates::email,
                    affiliates::name,
                    affiliates::payment_method,
                    affiliates::payment_details,
                ))
                .load::<Recipient>(c)?,
        );
    }
    Ok(out)
}
