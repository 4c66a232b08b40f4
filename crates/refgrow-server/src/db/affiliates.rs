//! The `affiliates` table.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::{affiliates, commissions};
use super::DbConn;

/// A stored affiliate.
#[derive(Debug, Clone, Queryable, Insertable, AsChangeset, Identifiable)]
#[diesel(table_name = affiliates, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct AffiliateRow {
    /// `aff_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Lower-case email, unique per program.
    pub email: String,
    /// Name.
    pub name: String,
    /// Status wire name.
    pub status: String,
    /// Source wire name.
    pub source: String,
    /// Upper-case code, unique per program.
    pub referral_code: String,
    /// Suspended, ms.
    pub suspended_at: Option<i64>,
    /// Why suspended.
    pub suspended_reason: Option<String>,
    /// Recruiting affiliate.
    pub parent_affiliate_id: Option<String>,
    /// Custom fields, JSON object.
    pub custom_fields: String,
    /// Payment method.
    pub payment_method: Option<String>,
    /// Payment details.
    pub payment_details: Option<String>,
    /// Clicks counted.
    pub click_count: i64,
    /// Customers bound.
    pub signup_count: i64,
    /// Conversions that earned.
    pub conversion_count: i64,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
}

/// Inserts an affiliate.
pub fn insert(c: &mut DbConn, row: &AffiliateRow) -> QueryResult<()> {
    super::direct!(c, |c| diesel::insert_into(affiliates::table)
        .values(row)
        .execute(c)
        .map(|_| ()))
}

/// Writes every column back but the counters, which only move by increments
/// ([`bump_counters`], the folding of [`super::stats_deltas`]): a row read before a
/// concurrent increment must not write its older count back over it.
pub fn update(c: &mut DbConn, row: &AffiliateRow) -> QueryResult<()> {
    use affiliates as a;
    // The changeset writes every column (None as NULL): its SQL is fixed.
    let q = super::fixed_update(
        a::table,
        a::id.eq(&row.id),
        (
            a::email.eq(&row.email),
            a::name.eq(&row.name),
            a::status.eq(&row.status),
            a::source.eq(&row.source),
            a::referral_code.eq(&row.referral_code),
            a::suspended_at.eq(row.suspended_at),
            a::suspended_reason.eq(&row.suspended_reason),
            a::parent_affiliate_id.eq(&row.parent_affiliate_id),
            a::custom_fields.eq(&row.custom_fields),
            a::payment_method.eq(&row.payment_method),
            a::payment_details.eq(&row.payment_details),
            a::updated_at.eq(row.updated_at),
        ),
    );
    super::direct!(c, |c| q.execute(c).map(|_| ()))
}

/// An affiliate of the program.
pub fn find(c: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<AffiliateRow>> {
    super::direct!(c, |c| affiliates::table
        .find(id)
        .filter(affiliates::program_id.eq(program_id))
        .first(c)
        .optional())
}

/// What the sale path reads first on PostgreSQL: an affiliate, its program and the
/// program's enabled webhook endpoints (id, filter).
pub type SaleContext = (
    AffiliateRow,
    super::programs::ProgramRow,
    Vec<(String, Option<String>)>,
);

/// The program's enabled webhook endpoints as a JSON array of `[id, event_types]`, a
/// correlated subquery of a query that joins `programs`.
///
/// Written as an expression of its own rather than a `sql()` literal: diesel never keeps
/// the prepared statement of a query holding a literal, so the sale path's first query was
/// parsed, analysed and planned by PostgreSQL on every sale (a sixth of the server's CPU
/// under `bench-tracking`, perf); with this type the query has a static id and is prepared
/// once per connection.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct EnabledEndpointsJson;

impl diesel::expression::Expression for EnabledEndpointsJson {
    type SqlType = diesel::sql_types::Text;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for EnabledEndpointsJson {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(
            "(SELECT COALESCE(json_agg(json_build_array(e.id, e.event_types)), '[]')::text \
             FROM webhook_endpoints e WHERE e.program_id = programs.id AND e.enabled)",
        );
        Ok(())
    }
}

impl<QS> diesel::expression::SelectableExpression<QS> for EnabledEndpointsJson {}
impl<QS> diesel::expression::AppearsOnTable<QS> for EnabledEndpointsJson {}
impl<GB> diesel::expression::ValidGrouping<GB> for EnabledEndpointsJson {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

/// An affiliate of the program, the program and its enabled webhook endpoints, in one query
/// on PostgreSQL (one round trip where the sale path would otherwise make three).
pub fn find_with_program(
    c: &mut diesel::pg::PgConnection,
    program_id: &str,
    id: &str,
) -> QueryResult<Option<SaleContext>> {
    use super::schema::programs;
    let row: Option<(AffiliateRow, super::programs::ProgramRow, String)> = affiliates::table
        .inner_join(programs::table.on(programs::id.eq(affiliates::program_id)))
        .filter(affiliates::id.eq(id))
        .filter(affiliates::program_id.eq(program_id))
        .select((
            affiliates::all_columns,
            programs::all_columns,
            EnabledEndpointsJson,
        ))
        .first(c)
        .optional()?;
    row.map(sale_context).transpose()
}

/// A row of the sale path's query, its endpoints decoded from their JSON.
fn sale_context(
    (a, p, endpoints): (AffiliateRow, super::programs::ProgramRow, String),
) -> QueryResult<SaleContext> {
    Ok((a, p, decode_endpoints(&endpoints)?))
}

/// The `[id, event_types]` pairs of [`EnabledEndpointsJson`].
fn decode_endpoints(json: &str) -> QueryResult<Vec<(String, Option<String>)>> {
    serde_json::from_str(json).map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}

/// [`find_with_program`] for many affiliates (the sale writer reads every affiliate of a
/// batch at once), keyed by (program id, affiliate id): an affiliate is found only under its
/// own program.
///
/// Two statements rather than one join: PostgreSQL plans a query naming an array of ids
/// anew on every call (its generic plan would scan the whole table), and planning the join
/// with the endpoints' subquery cost more than running it (`pg_stat_statements`: 0.24 ms
/// of planning for 0.09 ms of execution per batch). The affiliates alone plan in a fifth
/// of that; each program (a batch names one, as a rule) is read by its id, a statement
/// PostgreSQL plans once per connection.
pub fn find_many_with_program(
    c: &mut diesel::pg::PgConnection,
    ids: &[&str],
) -> QueryResult<std::collections::HashMap<(String, String), SaleContext>> {
    use super::schema::programs;
    let found: Vec<AffiliateRow> = affiliates::table
        .filter(affiliates::id.eq_any(ids))
        .load(c)?;
    // Each program once, its endpoints decoded once; None: no such program.
    type Program = Option<(super::programs::ProgramRow, Vec<(String, Option<String>)>)>;
    let mut programs_of: std::collections::HashMap<String, Program> =
        std::collections::HashMap::new();
    let mut out = std::collections::HashMap::with_capacity(found.len());
    for a in found {
        let program = match programs_of.entry(a.program_id.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let row: Option<(super::programs::ProgramRow, String)> = programs::table
                    .filter(programs::id.eq(&a.program_id))
                    .select((programs::all_columns, EnabledEndpointsJson))
                    .first(c)
                    .optional()?;
                let program = match row {
                    Some((p, endpoints)) => Some((p, decode_endpoints(&endpoints)?)),
                    None => None,
                };
                e.insert(program)
            }
        };
        if let Some((p, endpoints)) = program {
            out.insert(
                (a.program_id.clone(), a.id.clone()),
                (a, p.clone(), endpoints.clone()),
            );
        }
    }
    Ok(out)
}

/// An affiliate of the program by referral code (upper-case).
pub fn find_by_code(
    c: &mut DbConn,
    program_id: &str,
    code: &str,
) -> QueryResult<Option<AffiliateRow>> {
    affiliates::table
        .filter(affiliates::program_id.eq(program_id))
        .filter(affiliates::referral_code.eq(code))
        .first(c)
        .optional()
}

/// The id of the affiliate, of any program, holding a code: codes are unique per deployment
/// (so `/r/{code}` names one affiliate of one program).
pub fn code_holder(c: &mut DbConn, code: &str) -> QueryResult<Option<String>> {
    affiliates::table
        .filter(affiliates::referral_code.eq(code))
        .select(affiliates::id)
        .first(c)
        .optional()
}

/// An affiliate of the program by email (lower-case).
pub fn find_by_email(
    c: &mut DbConn,
    program_id: &str,
    email: &str,
) -> QueryResult<Option<AffiliateRow>> {
    affiliates::table
        .filter(affiliates::program_id.eq(program_id))
        .filter(affiliates::email.eq(email))
        .first(c)
        .optional()
}

/// Whether a referral code is taken in the program.
pub fn code_taken(c: &mut DbConn, program_id: &str, code: &str) -> QueryResult<bool> {
    find_by_code(c, program_id, code).map(|r| r.is_some())
}

/// Filters of a list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Status wire name.
    pub status: Option<String>,
    /// Exact (lower-case) email.
    pub email: Option<String>,
}

/// A page of the program's affiliates, newest first, and the total matching.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    f: &Filter,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<AffiliateRow>, i64)> {
    let build = || {
        let mut q = affiliates::table
            .filter(affiliates::program_id.eq(program_id.to_string()))
            .into_boxed();
        if let Some(s) = &f.status {
            q = q.filter(affiliates::status.eq(s.clone()));
        }
        if let Some(e) = &f.email {
            q = q.filter(affiliates::email.eq(e.clone()));
        }
        q
    };
    let total: i64 = build().count().get_result(c)?;
    let rows = build()
        .order((affiliates::created_at.desc(), affiliates::id.desc()))
        .limit(i64::from(limit))
        .offset(offset as i64)
        .load(c)?;
    Ok((rows, total))
}

/// Sums of an affiliate's commissions by status, in one currency: (status, minor units).
pub fn earnings(
    c: &mut DbConn,
    ids: &[String],
    currency: &str,
) -> QueryResult<Vec<(String, String, i64)>> {
    commissions::table
        .filter(commissions::affiliate_id.eq_any(ids))
        .filter(commissions::currency.eq(currency))
        .group_by((commissions::affiliate_id, commissions::status))
        .select((
            commissions::affiliate_id,
            commissions::status,
            sql::<BigInt>("CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT)"),
        ))
        .load(c)
}

/// Adds to an affiliate's counters.
pub fn bump_counters(
    c: &mut DbConn,
    id: &str,
    clicks: i64,
    signups: i64,
    conversions: i64,
) -> QueryResult<()> {
    let q = super::fixed_update(
        affiliates::table,
        affiliates::id.eq(id),
        (
            affiliates::click_count.eq(affiliates::click_count + clicks),
            affiliates::signup_count.eq(affiliates::signup_count + signups),
            affiliates::conversion_count.eq(affiliates::conversion_count + conversions),
        ),
    );
    super::direct!(c, |c| q.execute(c).map(|_| ()))
}
