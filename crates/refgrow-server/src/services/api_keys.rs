//! API keys: creating one (the secret is shown once, only its hash is stored).

use crate::db::{api_keys, DbConn};
use crate::error::ApiError;
use crate::idgen::{hash_secret, new_id, random_base62};

/// Creates a key for a program: returns (id, secret).
pub fn create_key(
    c: &mut DbConn,
    program_id: &str,
    label: Option<String>,
    read_only: bool,
    now: i64,
) -> Result<(String, String), ApiError> {
    let secret = format!("rg_{}", random_base62(40));
    let row = api_keys::ApiKeyRow {
        id: new_id("key_"),
        program_id: program_id.to_string(),
        label,
        key_hash: hash_secret(&secret),
        key_prefix: secret.chars().take(10).collect(),
        scopes: if read_only { "read" } else { "read,write" }.to_string(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
        rate_limit_per_sec: None,
        expires_at: None,
    };
    api_keys::insert(c, &row)?;
    Ok((row.id, secret))
}
