//! Email, optional: with `REFGROW_SMTP_URL` set, invitations and portal sign-in links are
//! sent (plain text and HTML) through a maintained mailer (lettre, rustls). Mail is written
//! to the `mail_outbox` table in the transaction that makes it, and a background task sends
//! what is due: a failing SMTP server delays mail (retries back off from 5 seconds to an
//! hour) but loses none, and the last error is kept on the row, where the invitation's API
//! view shows it. Replicas share the table; each row is claimed by a compare-and-set on its
//! next attempt time, so one replica sends it. Without the setting nothing is queued and the
//! API returns the URLs, as before.

use crate::db::mail as store;
use crate::db::programs::ProgramRow;
use crate::db::DbConn;
use crate::error::ApiError;

/// A stored mail (the row lives in [`crate::db::mail`]).
pub use crate::db::mail::MailRow;

/// A mail to queue.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its program.
    pub program_id: String,
    /// The invitation it carries.
    pub invitation_id: Option<String>,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The mail of a portal sign-in link.
pub fn sign_in(prog: &ProgramRow, to: &str, link: &str, minutes: u64) -> Outgoing {
    Outgoing {
        program_id: prog.id.clone(),
        invitation_id: None,
        to: to.to_string(),
        subject: format!("Your sign-in link for {}", prog.name),
        text: format!(
            "Hello,\n\nFollow this link to open your {} affiliate dashboard:\n\n{link}\n\n\
             It works once, for {minutes} minutes. If you did not ask for it, ignore this mail.\n",
            prog.name
        ),
        html: format!(
            "<p>Hello,</p><p>Follow this link to open your {} affiliate dashboard:</p>\
             <p><a href=\"{}\">Sign in</a></p><p>It works once, for {minutes} minutes. If you \
             did not ask for it, ignore this mail.</p>",
            escape(&prog.name),
            escape(link)
        ),
    }
}

/// The mail of an invitation.
pub fn invitation(
    prog: &ProgramRow,
    invitation_id: &str,
    to: &str,
    accept_url: &str,
    note: Option<&str>,
) -> Outgoing {
    let note_text = note.map(|n| format!("\n{n}\n")).unwrap_or_default();
    let note_html = note
        .map(|n| format!("<blockquote>{}</blockquote>", escape(n)))
        .unwrap_or_default();
    Outgoing {
        program_id: prog.id.clone(),
        invitation_id: Some(invitation_id.to_string()),
        to: to.to_string(),
        subject: format!("You are invited to the {} affiliate program", prog.name),
        text: format!(
            "Hello,\n\n{} invites you to join its affiliate program.\n{note_text}\n\
             Accept here:\n\n{accept_url}\n",
            prog.name
        ),
        html: format!(
            "<p>Hello,</p><p>{} invites you to join its affiliate program.</p>{note_html}\
             <p><a href=\"{}\">Accept the invitation</a></p>",
            escape(&prog.name),
            escape(accept_url)
        ),
    }
}

/// Queues a mail (in the caller's transaction).
pub fn enqueue(c: &mut DbConn, m: &Outgoing, now: i64) -> Result<(), ApiError> {
    store::insert(
        c,
        &MailRow {
            id: crate::idgen::new_id("mail_"),
            program_id: m.program_id.clone(),
            invitation_id: m.invitation_id.clone(),
            to_addr: m.to.clone(),
            subject: m.subject.clone(),
            text_body: m.text.clone(),
            html_body: m.html.clone(),
            attempts: 0,
            next_attempt_at: now,
            sent_at: None,
            last_error: None,
            created_at: now,
        },
    )?;
    Ok(())
}

/// Whether mail is sent (`REFGROW_SMTP_URL` is set).
pub fn enabled(config: &crate::config::Config) -> bool {
    config
        .affiliate_side
        .smtp_url
        .as_ref()
        .and_then(|u| u.value())
        .is_some()
}

/// Queues the mail of every invitation of a new batch.
pub fn enqueue_invitations(
    c: &mut DbConn,
    prog: &ProgramRow,
    batch: &refgrow_types::api::InvitationBatch,
    now: i64,
) -> Result<(), ApiError> {
    for inv in &batch.invitations {
        if let Some(url) = &inv.accept_url {
            let m = invitation(
                prog,
                inv.id.as_str(),
                &inv.email,
                url,
                inv.message.as_deref(),
            );
            enqueue(c, &m, now)?;
        }
    }
    Ok(())
}

/// The API view of an invitation's mail, if it has one.
pub fn status_of_invitation(
    c: &mut DbConn,
    invitation_id: &str,
) -> Result<Option<refgrow_types::api::InvitationMail>, ApiError> {
    Ok(
        of_invitation(c, invitation_id)?.map(|m| refgrow_types::api::InvitationMail {
            status: if m.sent_at.is_some() {
                "sent"
            } else {
                "queued"
            }
            .to_string(),
            attempts: m.attempts,
            last_error: m.last_error,
            sent_at: m.sent_at.map(crate::clock::ms_to_datetime),
        }),
    )
}

/// The newest mail of an invitation, if any.
pub fn of_invitation(c: &mut DbConn, invitation_id: &str) -> Result<Option<MailRow>, ApiError> {
    Ok(store::of_invitation(c, invitation_id)?)
}

/// The delay before attempt `attempts + 1`: 5 s doubling, at most an hour.
pub fn backoff_ms(attempts: i32) -> i64 {
    let shift = attempts.clamp(0, 20) as u32;
    (5_000_i64 << shift).min(3_600_000)
}

/// How long a claimed row is left alone while it is being sent.
const LEASE_MS: i64 = 60_000;

/// Claims up to `n` due rows: each by a compare-and-set of its next attempt time.
pub fn claim(c: &mut DbConn, now: i64, n: i64) -> Result<Vec<MailRow>, ApiError> {
    Ok(store::claim(c, now, n, now + LEASE_MS)?)
}

/// The message of a row, from `from`.
pub fn build(from: &str, row: &MailRow) -> Result<lettre::Message, String> {
    use lettre::message::MultiPart;
    lettre::Message::builder()
        .from(
            from.parse()
                .map_err(|e| format!("REFGROW_MAIL_FROM: {e}"))?,
        )
        .to(row.to_addr.parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(row.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            row.text_body.clone(),
            row.html_body.clone(),
        ))
        .map_err(|e| e.to_string())
}

/// Marks a row sent.
pub fn mark_sent(c: &mut DbConn, id: &str, attempts: i32, now: i64) -> Result<(), ApiError> {
    Ok(store::mark_sent(c, id, attempts, now)?)
}

/// Records a failed attempt: the error, and the next attempt after the back-off.
pub fn mark_failed(
    c: &mut DbConn,
    id: &str,
    attempts: i32,
    now: i64,
    error: &str,
) -> Result<(), ApiError> {
    let error: String = error.chars().take(500).collect();
    Ok(store::mark_failed(
        c,
        id,
        attempts,
        now + backoff_ms(attempts - 1),
        error,
    )?)
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(30), 3_600_000);
    }
}
