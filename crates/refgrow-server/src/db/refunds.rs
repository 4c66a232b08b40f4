//! The `refunds` table: one row per refund of a sale, unique per program and dedupe key (an
//! `Idempotency-Key`, a Stripe refund id), so a repeated refund is found instead of applied
//! twice. What a refund does to the sale and its commissions is `crate::services::refunds`.

use diesel::prelude::*;

use super::schema::refunds;
use super::DbConn;

/// A refund to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewRefund<'a> {
    /// `re_…`.
    pub id: &'a str,
    /// Its program.
    pub program_id: &'a str,
    /// The sale refunded.
    pub conversion_id: &'a str,
    /// How much, in minor units of the sale's currency.
    pub amount_minor: i64,
    /// Why.
    pub reason: Option<&'a str>,
    /// What makes a repeat of it a no-op.
    pub dedupe_key: Option<&'a str>,
    /// When, ms.
    pub created_at: i64,
}

/// Inserts a refund unless the program has one of its dedupe key. Returns whether it was
/// inserted. The insert is [`super::guarded`], so a duplicate leaves the caller's
/// transaction usable.
pub fn insert_new(c: &mut DbConn, r: &NewRefund<'_>) -> QueryResult<bool> {
    super::insert_unless_taken(c, |c| {
        diesel::insert_into(refunds::table)
            .values((
                refunds::id.eq(r.id),
                refunds::program_id.eq(r.program_id),
                refunds::conversion_id.eq(r.conversion_id),
                refunds::amount_minor.eq(r.amount_minor),
                refunds::reason.eq(r.reason),
                refunds::dedupe_key.eq(r.dedupe_key),
                refunds::created_at.eq(r.created_at),
            ))
            .execute(c)
    })
}
