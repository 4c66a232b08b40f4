//! The tables of the affiliate's side: `embed_settings` (allowed frame origins),
//! `embed_tenants` (the SaaS's ids of affiliates), `access_tokens` (dashboard tokens and
//! magic sign-in links, stored as hashes) and the customers list the dashboard shows.

use diesel::prelude::*;

use super::customers::CustomerRow;
use super::schema::{access_tokens, customers, embed_settings, embed_tenants};
use super::DbConn;

/// `access_tokens.kind` of a dashboard token.
pub const KIND_EMBED: &str = "embed";
/// `access_tokens.kind` of a magic sign-in link (single use).
pub const KIND_MAGIC: &str = "magic";

/// A stored token: only its SHA-256 is kept.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = access_tokens, treat_none_as_default_value = false)]
pub struct AccessTokenRow {
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// [`KIND_EMBED`] or [`KIND_MAGIC`].
    pub kind: String,
    /// Its program.
    pub program_id: String,
    /// The one affiliate it opens.
    pub affiliate_id: String,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Used (magic links), ms.
    pub used_at: Option<i64>,
}

/// The stored allowed origins of a program (a JSON array), if it set any.
pub fn origins(c: &mut DbConn, program_id: &str) -> QueryResult<Option<String>> {
    embed_settings::table
        .find(program_id)
        .select(embed_settings::origins)
        .first(c)
        .optional()
}

/// Replaces the allowed origins of a program.
pub fn set_origins(c: &mut DbConn, program_id: &str, json: &str, now: i64) -> QueryResult<()> {
    let n = diesel::update(embed_settings::table.find(program_id))
        .set((
            embed_settings::origins.eq(json),
            embed_settings::updated_at.eq(now),
        ))
        .execute(c)?;
    if n == 0 {
        diesel::insert_into(embed_settings::table)
            .values((
                embed_settings::program_id.eq(program_id),
                embed_settings::origins.eq(json),
                embed_settings::updated_at.eq(now),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// The affiliate a tenant id names.
pub fn tenant_affiliate(
    c: &mut DbConn,
    program_id: &str,
    tenant_id: &str,
) -> QueryResult<Option<String>> {
    embed_tenants::table
        .find((program_id, tenant_id))
        .select(embed_tenants::affiliate_id)
        .first(c)
        .optional()
}

/// Records the affiliate of a tenant id; a second one is a unique violation.
pub fn insert_tenant(
    c: &mut DbConn,
    program_id: &str,
    tenant_id: &str,
    affiliate_id: &str,
    now: i64,
) -> QueryResult<()> {
    diesel::insert_into(embed_tenants::table)
        .values((
            embed_tenants::program_id.eq(program_id),
            embed_tenants::tenant_id.eq(tenant_id),
            embed_tenants::affiliate_id.eq(affiliate_id),
            embed_tenants::created_at.eq(now),
        ))
        .execute(c)
        .map(|_| ())
}

/// Stores a token.
pub fn insert_token(c: &mut DbConn, row: &AccessTokenRow) -> QueryResult<()> {
    diesel::insert_into(access_tokens::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// A token by hash and kind.
pub fn find_token(c: &mut DbConn, hash: &str, kind: &str) -> QueryResult<Option<AccessTokenRow>> {
    access_tokens::table
        .find(hash)
        .filter(access_tokens::kind.eq(kind))
        .first(c)
        .optional()
}

/// Marks a magic link used, if it was not (compare-and-set): true when this call did.
pub fn use_token(c: &mut DbConn, hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        access_tokens::table
            .find(hash)
            .filter(access_tokens::used_at.is_null())
            .filter(access_tokens::expires_at.gt(now)),
    )
    .set(access_tokens::used_at.eq(Some(now)))
    .execute(c)
    .map(|n| n == 1)
}

/// Deletes tokens that expired before `cutoff`.
pub fn prune_tokens(c: &mut DbConn, cutoff: i64) -> QueryResult<usize> {
    diesel::delete(access_tokens::table.filter(access_tokens::expires_at.lt(cutoff))).execute(c)
}

/// The newest customers an affiliate referred, and how many there are.
pub fn referred(
    c: &mut DbConn,
    program_id: &str,
    affiliate_id: &str,
    limit: i64,
) -> QueryResult<(Vec<CustomerRow>, i64)> {
    let build = || {
        customers::table
            .filter(customers::program_id.eq(program_id.to_string()))
            .filter(customers::affiliate_id.eq(affiliate_id.to_string()))
            .into_boxed()
    };
    let total = build().count().get_result(c)?;
    let rows = build()
        .order((customers::created_at.desc(), customers::id.desc()))
        .limit(limit)
        .load(c)?;
    Ok((rows, total))
}

/// Every affiliate with this email, in any program: (program id, affiliate id).
pub fn affiliates_by_email(c: &mut DbConn, email: &str) -> QueryResult<Vec<(String, String)>> {
    use super::schema::affiliates;
    affiliates::table
        .filter(affiliates::email.eq(email))
        .select((affiliates::program_id, affiliates::id))
        .limit(50)
        .load(c)
}

/// How many tokens of `kind` an affiliate was given since `since` (ms).
pub fn issued_since(
    c: &mut DbConn,
    affiliate_id: &str,
    kind: &str,
    since: i64,
) -> QueryResult<i64> {
    access_tokens::table
        .filter(access_tokens::affiliate_id.eq(affiliate_id))
        .filter(access_tokens::kind.eq(kind))
        .filter(access_tokens::created_at.ge(since))
        .count()
        .get_result(c)
}
