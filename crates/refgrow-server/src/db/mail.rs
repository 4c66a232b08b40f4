//! The `mail_outbox` table: mail queued in the transaction that makes it, sent by the
//! background sender. A row is claimed by a compare-and-set of its next attempt time, so
//! one replica sends it. What is queued and when it is retried is `crate::services::mail`.

use diesel::prelude::*;

use super::schema::mail_outbox;
use super::DbConn;

/// A stored mail.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = mail_outbox, treat_none_as_default_value = false)]
pub struct MailRow {
    /// `mail_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// The invitation it carries, if any.
    pub invitation_id: Option<String>,
    /// The recipient.
    pub to_addr: String,
    /// The subject.
    pub subject: String,
    /// Plain text.
    pub text_body: String,
    /// HTML.
    pub html_body: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When it is next tried, ms.
    pub next_attempt_at: i64,
    /// Sent, ms.
    pub sent_at: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Created, ms.
    pub created_at: i64,
}

/// Inserts a mail.
pub fn insert(c: &mut DbConn, row: &MailRow) -> QueryResult<()> {
    diesel::insert_into(mail_outbox::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// The newest mail of an invitation, if any.
pub fn of_invitation(c: &mut DbConn, invitation_id: &str) -> QueryResult<Option<MailRow>> {
    mail_outbox::table
        .filter(mail_outbox::invitation_id.eq(invitation_id))
        .order(mail_outbox::created_at.desc())
        .first(c)
        .optional()
}

/// Claims up to `n` unsent rows due at `now`, oldest due first: each by a compare-and-set of
/// its next attempt time, moved to `lease_until` (ms). Returns the rows won, as they were
/// before the claim.
pub fn claim(c: &mut DbConn, now: i64, n: i64, lease_until: i64) -> QueryResult<Vec<MailRow>> {
    let due: Vec<MailRow> = mail_outbox::table
        .filter(mail_outbox::sent_at.is_null())
        .filter(mail_outbox::next_attempt_at.le(now))
        .order(mail_outbox::next_attempt_at.asc())
        .limit(n)
        .load(c)?;
    let mut out = Vec::new();
    for row in due {
        let won = diesel::update(
            mail_outbox::table
                .find(&row.id)
                .filter(mail_outbox::next_attempt_at.eq(row.next_attempt_at))
                .filter(mail_outbox::sent_at.is_null()),
        )
        .set(mail_outbox::next_attempt_at.eq(lease_until))
        .execute(c)?;
        if won == 1 {
            out.push(row);
        }
    }
    Ok(out)
}

/// Marks a row sent after `attempts` attempts, clearing its last error.
pub fn mark_sent(c: &mut DbConn, id: &str, attempts: i32, now: i64) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::sent_at.eq(Some(now)),
            mail_outbox::attempts.eq(attempts),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(c)
        .map(|_| ())
}

/// Records a failed attempt: the attempts so far, when it is next tried (ms), and why.
pub fn mark_failed(
    c: &mut DbConn,
    id: &str,
    attempts: i32,
    next_attempt_at: i64,
    error: String,
) -> QueryResult<()> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::attempts.eq(attempts),
            mail_outbox::next_attempt_at.eq(next_attempt_at),
            mail_outbox::last_error.eq(Some(error)),
        ))
        .execute(c)
        .map(|_| ())
}
