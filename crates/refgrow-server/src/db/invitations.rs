//! The `invitations` table.
//!
//! Stored statuses are `pending`, `accepted` and `cancelled`; an invitation is `expired` when
//! it is pending and `expires_at <= now`, so expiry needs no job. `pending_key` is
//! `program_id|email` while an invitation can still be accepted and NULL otherwise; its
//! unique constraint allows one live invitation per email and program.

use diesel::prelude::*;

use super::schema::invitations;
use super::DbConn;

/// Stored status of an invitation waiting for its invitee.
pub const PENDING: &str = "pending";
/// Stored status of a redeemed invitation.
pub const ACCEPTED: &str = "accepted";
/// Stored status of a withdrawn invitation.
pub const CANCELLED: &str = "cancelled";

/// A stored invitation.
#[derive(Debug, Clone, Queryable, Insertable, Identifiable)]
#[diesel(table_name = invitations, treat_none_as_default_value = false)]
pub struct InvitationRow {
    /// `inv_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Lower-case email of the invitee.
    pub email: String,
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// `pending`, `accepted` or `cancelled`.
    pub status: String,
    /// `program_id|email` while live, else NULL (unique).
    pub pending_key: Option<String>,
    /// The program's note.
    pub message: Option<String>,
    /// The affiliate created on acceptance.
    pub affiliate_id: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Accepted, ms.
    pub accepted_at: Option<i64>,
    /// Cancelled, ms.
    pub cancelled_at: Option<i64>,
    /// The id of the API key that sent it.
    pub sent_by_key_id: Option<String>,
    /// That key's label when it sent it.
    pub sent_by_label: Option<String>,
}

/// The value of `pending_key` of a live invitation.
pub fn pending_key(program_id: &str, email: &str) -> String {
    format!("{program_id}|{email}")
}

/// Inserts an invitation; a live one for the same email is a unique violation.
pub fn insert(c: &mut DbConn, row: &InvitationRow) -> QueryResult<()> {
    diesel::insert_into(invitations::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// Frees the `pending_key` of an expired invitation, so the email can be invited again.
/// Returns how many rows changed (0 or 1).
pub fn release_expired(c: &mut DbConn, key: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .filter(invitations::pending_key.eq(key))
            .filter(invitations::expires_at.le(now)),
    )
    .set(invitations::pending_key.eq(None::<String>))
    .execute(c)
}

/// An invitation of the program.
pub fn find(c: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<InvitationRow>> {
    invitations::table
        .find(id)
        .filter(invitations::program_id.eq(program_id))
        .first(c)
        .optional()
}

/// The invitation a token hash belongs to, in any program.
pub fn find_by_token_hash(c: &mut DbConn, hash: &str) -> QueryResult<Option<InvitationRow>> {
    invitations::table
        .filter(invitations::token_hash.eq(hash))
        .first(c)
        .optional()
}

/// Which invitations a list shows, by computed status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Pending and not yet expired.
    Pending,
    /// Pending but past `expires_at`.
    Expired,
    /// Accepted.
    Accepted,
    /// Cancelled.
    Cancelled,
}

/// A page of the program's invitations, newest first, and the total matching.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    status: Option<StatusFilter>,
    now: i64,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<InvitationRow>, i64)> {
    let build = || {
        let mut q = invitations::table
            .filter(invitations::program_id.eq(program_id.to_string()))
            .into_boxed();
        match status {
            None => {}
            Some(StatusFilter::Pending) => {
                q = q
                    .filter(invitations::status.eq(PENDING))
                    .filter(invitations::expires_at.gt(now));
            }
            Some(StatusFilter::Expired) => {
                q = q
                    .filter(invitations::status.eq(PENDING))
                    .filter(invitations::expires_at.le(now));
            }
            Some(StatusFilter::Accepted) => q = q.filter(invitations::status.eq(ACCEPTED)),
            Some(StatusFilter::Cancelled) => q = q.filter(invitations::status.eq(CANCELLED)),
        }
        q
    };
    let total: i64 = build().count().get_result(c)?;
    let rows = build()
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .limit(i64::from(limit))
        .offset(offset as i64)
        .load(c)?;
    Ok((rows, total))
}

/// Cancels a live invitation: compare-and-set on `status = 'pending'` and not expired.
/// Returns how many rows changed (0: not live, or not in the program).
pub fn cancel(c: &mut DbConn, program_id: &str, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::program_id.eq(program_id))
            .filter(invitations::status.eq(PENDING))
            .filter(invitations::expires_at.gt(now)),
    )
    .set((
        invitations::status.eq(CANCELLED),
        invitations::cancelled_at.eq(Some(now)),
        invitations::pending_key.eq(None::<String>),
    ))
    .execute(c)
}

/// Marks a live invitation accepted: compare-and-set on `status = 'pending'` and not expired,
/// so of two concurrent acceptances exactly one changes the row. Returns the rows changed.
pub fn mark_accepted(c: &mut DbConn, id: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::status.eq(PENDING))
            .filter(invitations::expires_at.gt(now)),
    )
    .set((
        invitations::status.eq(ACCEPTED),
        invitations::accepted_at.eq(Some(now)),
        invitations::pending_key.eq(None::<String>),
    ))
    .execute(c)
}

/// Records the affiliate an accepted invitation created.
pub fn set_affiliate(c: &mut DbConn, id: &str, affiliate_id: &str) -> QueryResult<()> {
    diesel::update(invitations::table.find(id))
        .set(invitations::affiliate_id.eq(Some(affiliate_id)))
        .execute(c)
        .map(|_| ())
}
