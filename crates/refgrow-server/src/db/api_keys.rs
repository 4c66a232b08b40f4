//! The `api_keys` table. Only hashes of keys are stored.

use diesel::prelude::*;

use super::schema::api_keys;
use super::DbConn;

/// A stored key.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = api_keys, treat_none_as_default_value = false)]
pub struct ApiKeyRow {
    /// `key_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// A label of the owner's.
    pub label: Option<String>,
    /// SHA-256 of the secret, hex.
    pub key_hash: String,
    /// The first characters of the secret, to recognize it.
    pub key_prefix: String,
    /// `read,write` or `read`.
    pub scopes: String,
    /// Created, ms.
    pub created_at: i64,
    /// Last used, ms.
    pub last_used_at: Option<i64>,
    /// Revoked, ms.
    pub revoked_at: Option<i64>,
    /// Requests per second (None: the server default; 0: unlimited).
    pub rate_limit_per_sec: Option<i32>,
    /// When it stops working, ms (None: never).
    pub expires_at: Option<i64>,
}

/// Inserts a key.
pub fn insert(c: &mut DbConn, row: &ApiKeyRow) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// The live (not revoked) key with this hash.
pub fn find_live_by_hash(c: &mut DbConn, hash: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .filter(api_keys::revoked_at.is_null())
        .first::<ApiKeyRow>(c)
        .optional()
}

/// A program's keys, newest first.
pub fn list(c: &mut DbConn, program_id: &str) -> QueryResult<Vec<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::program_id.eq(program_id))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .load(c)
}

/// Finds a key by id.
pub fn find(c: &mut DbConn, id: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table.find(id).first(c).optional()
}

/// Revokes a key; returns whether a live key was revoked.
pub fn revoke(c: &mut DbConn, id: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        api_keys::table
            .find(id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(now)))
    .execute(c)
    .map(|n| n > 0)
}

/// Records use of a key.
pub fn touch(c: &mut DbConn, id: &str, now: i64) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(Some(now)))
        .execute(c)
        .map(|_| ())
}

/// Sets when a key stops working (None: never).
pub fn set_expiry(c: &mut DbConn, id: &str, at: Option<i64>) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::expires_at.eq(at))
        .execute(c)
        .map(|_| ())
}

/// Sets a key's own rate limit (None: the server default).
pub fn set_rate_limit(c: &mut DbConn, id: &str, per_sec: Option<i32>) -> QueryResult<()> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::rate_limit_per_sec.eq(per_sec))
        .execute(c)
        .map(|_| ())
}
