//! The `conversions` table.

use diesel::prelude::*;

use super::schema::conversions;
use super::DbConn;

/// A stored conversion (a sale or a transaction).
#[derive(Debug, Clone, Queryable, Insertable, AsChangeset, Identifiable, serde::Serialize)]
#[diesel(table_name = conversions, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ConversionRow {
    /// `conv_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// The referring affiliate.
    pub affiliate_id: String,
    /// The customer, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The customer's key, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_key: Option<String>,
    /// The affiliate's code when the sale was recorded.
    pub referral_code: String,
    /// The order id / transaction key, unique per program.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// SHA-256 of the request that created it (replays must match).
    pub request_hash: String,
    /// The sale, minor units.
    pub amount_minor: i64,
    /// The sale currency.
    pub currency: String,
    /// Refunded so far, minor units.
    pub refunded_minor: i64,
    /// Status wire name.
    pub status: String,
    /// The product that priced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Why it earned nothing, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_commission_reason: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
}

/// Inserts a conversion.
pub fn insert(c: &mut DbConn, row: &ConversionRow) -> QueryResult<()> {
    super::direct!(c, |c| diesel::insert_into(conversions::table)
        .values(row)
        .execute(c)
        .map(|_| ()))
}

/// Inserts a conversion unless its order id is already taken in the program (`ON CONFLICT
/// DO NOTHING`: no failed statement, so no savepoint is needed on PostgreSQL). Returns
/// whether it was inserted. On PostgreSQL an insert of an order id that a concurrent
/// transaction is inserting waits for that one to commit (then answers false) or roll back.
pub fn insert_new(c: &mut DbConn, row: &ConversionRow) -> QueryResult<bool> {
    super::direct!(c, |c| diesel::insert_into(conversions::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c)
        .map(|n| n > 0))
}

/// Writes every column back.
pub fn update(c: &mut DbConn, row: &ConversionRow) -> QueryResult<()> {
    // The changeset writes every column (None as NULL): its SQL is fixed.
    let q = super::fixed_update(conversions::table, conversions::id.eq(&row.id), row);
    super::direct!(c, |c| q.execute(c).map(|_| ()))
}

/// A conversion of the program.
pub fn find(c: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<ConversionRow>> {
    conversions::table
        .find(id)
        .filter(conversions::program_id.eq(program_id))
        .first(c)
        .optional()
}

/// A conversion of the program, its row locked until the transaction ends (`SELECT … FOR
/// UPDATE` on PostgreSQL; SQLite's single writer already serializes writes): refunds of
/// one sale, from the API or from Stripe, apply one after the other.
pub fn find_for_update(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
) -> QueryResult<Option<ConversionRow>> {
    let q = conversions::table
        .find(id.to_string())
        .filter(conversions::program_id.eq(program_id.to_string()));
    match c {
        DbConn::Pg(pg) => q.for_update().first(pg).optional(),
        DbConn::Sqlite(lite) => q.first(lite).optional(),
    }
}

/// A conversion of the program by order id / transaction key.
pub fn find_by_order(
    c: &mut DbConn,
    program_id: &str,
    order_id: &str,
) -> QueryResult<Option<ConversionRow>> {
    conversions::table
        .filter(conversions::program_id.eq(program_id))
        .filter(conversions::order_id.eq(order_id))
        .first(c)
        .optional()
}

/// The id of a customer's latest conversion of exactly `amount_minor` that is not wholly
/// refunded (newest by creation, then id).
pub fn latest_unrefunded_of_amount(
    c: &mut DbConn,
    program_id: &str,
    customer_id: &str,
    amount_minor: i64,
) -> QueryResult<Option<String>> {
    conversions::table
        .filter(conversions::program_id.eq(program_id))
        .filter(conversions::customer_id.eq(customer_id))
        .filter(conversions::amount_minor.eq(amount_minor))
        .filter(conversions::status.ne("refunded"))
        .order((conversions::created_at.desc(), conversions::id.desc()))
        .select(conversions::id)
        .first(c)
        .optional()
}

/// A page of the program's conversions, newest first, and the total.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: Option<&str>,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<ConversionRow>, i64)> {
    let build = || {
        let mut q = conversions::table
            .filter(conversions::program_id.eq(program_id.to_string()))
            .into_boxed();
        if let Some(a) = affiliate_id {
            q = q.filter(conversions::affiliate_id.eq(a.to_string()));
        }
        q
    };
    let total = build().count().get_result(c)?;
    let rows = build()
        .order((conversions::created_at.desc(), conversions::id.desc()))
        .limit(i64::from(limit))
        .offset(offset as i64)
        .load(c)?;
    Ok((rows, total))
}
