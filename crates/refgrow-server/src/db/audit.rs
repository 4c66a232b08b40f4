//! The `audit_log` table: one row per mutating call. The buffer that collects the entries and
//! writes them in batches is `crate::audit`; `GET /v1/audit-log` reads them with [`list`].

use diesel::prelude::*;

use super::schema::audit_log;
use super::DbConn;

/// An entry, as written and read back.
#[derive(Debug, Clone, Insertable, Queryable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct AuditRow {
    /// `aud_…`.
    pub id: String,
    /// The program of the key.
    pub program_id: String,
    /// The key that made the call (None for token-authenticated calls).
    pub key_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// `METHOD /route/{pattern}`.
    pub action: String,
    /// The resource acted on, when known.
    pub resource_id: Option<String>,
    /// The response status.
    pub status: i32,
    /// The request id.
    pub request_id: String,
    /// When, ms.
    pub created_at: i64,
}

/// Writes a batch of entries in one transaction.
pub fn insert_batch(c: &mut DbConn, batch: &[AuditRow]) -> QueryResult<()> {
    // Multi-row inserts (a statement per row was a round trip per audited request on
    // PostgreSQL); 500 rows of 10 columns stay far below either backend's bind limit.
    c.transaction(|c| {
        for chunk in batch.chunks(500) {
            super::direct!(c, |c| diesel::insert_into(audit_log::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    })
}

/// Which entries of a program [`list`] answers: each field set narrows it.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Made with this key.
    pub key_id: Option<String>,
    /// About this resource.
    pub resource_id: Option<String>,
    /// This action (`METHOD /route/{pattern}`).
    pub action: Option<String>,
    /// This HTTP method.
    pub method: Option<String>,
    /// Made at or after this time, ms.
    pub from: Option<i64>,
    /// Made before this time, ms.
    pub to: Option<i64>,
}

/// A page of the program's entries matching `filter`, newest first, and the total.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    filter: &AuditFilter,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<AuditRow>, i64)> {
    let build = || {
        let mut q = audit_log::table
            .filter(audit_log::program_id.eq(program_id.to_string()))
            .into_boxed();
        if let Some(k) = &filter.key_id {
            q = q.filter(audit_log::key_id.eq(k.clone()));
        }
        if let Some(r) = &filter.resource_id {
            q = q.filter(audit_log::resource_id.eq(r.clone()));
        }
        if let Some(a) = &filter.action {
            q = q.filter(audit_log::action.eq(a.clone()));
        }
        if let Some(m) = &filter.method {
            q = q.filter(audit_log::method.eq(m.clone()));
        }
        if let Some(f) = filter.from {
            q = q.filter(audit_log::created_at.ge(f));
        }
        if let Some(t) = filter.to {
            q = q.filter(audit_log::created_at.lt(t));
        }
        q
    };
    let total: i64 = build().count().get_result(c)?;
    let rows: Vec<AuditRow> = build()
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(i64::from(limit))
        .offset(offset as i64)
        .load(c)?;
    Ok((rows, total))
}
