//! The `idempotency_keys` table: the saved answer of a POST sent with `Idempotency-Key`.
//!
//! The key is claimed by inserting its row first, inside the transaction that does the work;
//! a concurrent request with the same key waits on the primary key and then finds the saved
//! answer. Nothing is ever read-then-inserted.

use diesel::prelude::*;

use super::schema::idempotency_keys as ik;
use super::DbConn;

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// The key is new: do the work, then [`save`].
    Fresh,
    /// The key was used with the same request: this was its answer (status, JSON body).
    Replay(u16, String),
    /// The key was used with a different request.
    Mismatch,
}

/// Claims a key for a request hash.
pub fn claim(
    c: &mut DbConn,
    program_id: &str,
    key: &str,
    request_hash: &str,
    now: i64,
) -> QueryResult<Claim> {
    let inserted = super::insert_unless_taken(c, |c| {
        super::direct!(c, |c| diesel::insert_into(ik::table)
            .values((
                ik::program_id.eq(program_id),
                ik::idem_key.eq(key),
                ik::request_hash.eq(request_hash),
                ik::status_code.eq(0),
                ik::response_body.eq(""),
                ik::created_at.eq(now),
            ))
            .execute(c))
    });
    if inserted? {
        return Ok(Claim::Fresh);
    }
    let (hash, status, body): (String, i32, String) = ik::table
        .filter(ik::program_id.eq(program_id))
        .filter(ik::idem_key.eq(key))
        .select((ik::request_hash, ik::status_code, ik::response_body))
        .first(c)?;
    if hash == request_hash {
        Ok(Claim::Replay(status.clamp(0, 999) as u16, body))
    } else {
        Ok(Claim::Mismatch)
    }
}

/// Saves the answer of a claimed key.
pub fn save(
    c: &mut DbConn,
    program_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> QueryResult<()> {
    let q = super::fixed_update(
        ik::table,
        ik::program_id.eq(program_id).and(ik::idem_key.eq(key)),
        (
            ik::status_code.eq(i32::from(status)),
            ik::response_body.eq(body),
        ),
    );
    super::direct!(c, |c| q.execute(c).map(|_| ()))
}

/// Deletes the records made before `cutoff` (ms); returns how many.
pub fn prune(c: &mut DbConn, cutoff: i64) -> QueryResult<usize> {
    use super::schema::idempotency_keys as ik;
    diesel::delete(ik::table.filter(ik::created_at.lt(cutoff))).execute(c)
}
