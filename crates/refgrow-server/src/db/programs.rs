//! The `programs` table.

use diesel::prelude::*;

use super::schema::programs;
use super::DbConn;

/// A stored program.
#[derive(Debug, Clone, Queryable, Insertable, AsChangeset, Identifiable)]
#[diesel(table_name = programs, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ProgramRow {
    /// `prog_…`.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Currency code.
    pub currency: String,
    /// Where links land.
    pub website_url: Option<String>,
    /// Attribution window.
    pub cookie_days: i32,
    /// `first_click` or `last_click`.
    pub attribution: String,
    /// Hold period.
    pub hold_days: i32,
    /// Payout threshold in minor units of `currency`.
    pub min_payout_minor: i64,
    /// Whether new affiliates start active.
    pub auto_approve_affiliates: bool,
    /// The commission rule as JSON.
    pub commission_rule: String,
    /// Stripe's signing secret.
    pub stripe_webhook_secret: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Updated, ms.
    pub updated_at: i64,
    /// Whether signups without a referral are acknowledged without being stored.
    pub ignore_unattributed: bool,
}

/// Inserts a program.
pub fn insert(c: &mut DbConn, row: &ProgramRow) -> QueryResult<()> {
    diesel::insert_into(programs::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// Finds a program by id.
pub fn find(c: &mut DbConn, id: &str) -> QueryResult<Option<ProgramRow>> {
    programs::table.find(id).first::<ProgramRow>(c).optional()
}

/// Finds a program by id or, failing that, by name.
pub fn find_by_id_or_name(c: &mut DbConn, id_or_name: &str) -> QueryResult<Option<ProgramRow>> {
    if let Some(p) = find(c, id_or_name)? {
        return Ok(Some(p));
    }
    programs::table
        .filter(programs::name.eq(id_or_name))
        .first::<ProgramRow>(c)
        .optional()
}

/// Writes every column of a program back.
pub fn update(c: &mut DbConn, row: &ProgramRow) -> QueryResult<()> {
    diesel::update(programs::table.find(&row.id))
        .set(row)
        .execute(c)
        .map(|_| ())
}

/// All program ids (for jobs).
pub fn all_ids(c: &mut DbConn) -> QueryResult<Vec<String>> {
    programs::table.select(programs::id).load(c)
}

/// Programs by id, on SQLite only: there one server process owns the file and every change
/// of a program goes through [`update`], which clears the cache, so it is exact (the command
/// line only creates programs, whose new ids cannot be cached yet). A write batch that fails
/// to commit clears it too. PostgreSQL, with its replicas, always reads the row.
pub mod cache {
    use std::sync::OnceLock;

    use super::ProgramRow;

    /// At most this many programs are cached (moka evicts the least used past it).
    const MAX_PROGRAMS: u64 = 10_000;

    fn cache() -> &'static moka::sync::Cache<String, ProgramRow> {
        static CACHE: OnceLock<moka::sync::Cache<String, ProgramRow>> = OnceLock::new();
        CACHE.get_or_init(|| moka::sync::Cache::new(MAX_PROGRAMS))
    }

    /// A cached program.
    pub fn get(id: &str) -> Option<ProgramRow> {
        cache().get(id)
    }

    /// Remembers a program.
    pub fn put(row: &ProgramRow) {
        cache().insert(row.id.clone(), row.clone());
    }

    /// Forgets every program (reads after this never see an entry put before it).
    pub fn clear() {
        cache().invalidate_all();
    }
}
