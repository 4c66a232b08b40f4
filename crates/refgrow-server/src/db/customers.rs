//! The `customers` table.

use diesel::prelude::*;

use super::schema::customers;
use super::DbConn;

/// A stored customer.
#[derive(Debug, Clone, Queryable, Insertable, AsChangeset, Identifiable)]
#[diesel(table_name = customers, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct CustomerRow {
    /// `cus_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// The SaaS's id for the user, unique per program.
    pub customer_key: String,
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The referring affiliate.
    pub affiliate_id: Option<String>,
    /// The click that bound it.
    pub click_id: Option<String>,
    /// Stripe's customer id (`cus_…` of Stripe), when known.
    pub stripe_customer_id: Option<String>,
    /// First payment, ms.
    pub first_payment_at: Option<i64>,
    /// Created, ms.
    pub created_at: i64,
}

/// Inserts a customer.
pub fn insert(c: &mut DbConn, row: &CustomerRow) -> QueryResult<()> {
    diesel::insert_into(customers::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// Writes every column back.
pub fn update(c: &mut DbConn, row: &CustomerRow) -> QueryResult<()> {
    // The changeset writes every column (None as NULL): its SQL is fixed.
    let q = super::fixed_update(customers::table, customers::id.eq(&row.id), row);
    super::direct!(c, |c| q.execute(c).map(|_| ()))
}

/// A customer of the program by key.
pub fn find_by_key(
    c: &mut DbConn,
    program_id: &str,
    key: &str,
) -> QueryResult<Option<CustomerRow>> {
    super::direct!(c, |c| customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::customer_key.eq(key))
        .first(c)
        .optional())
}

/// A customer of the program by Stripe customer id.
pub fn find_by_stripe_id(
    c: &mut DbConn,
    program_id: &str,
    stripe_id: &str,
) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::stripe_customer_id.eq(stripe_id))
        .first(c)
        .optional()
}

/// Deletes a customer.
pub fn delete(c: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(customers::table.find(id)).execute(c)
}
