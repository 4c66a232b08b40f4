//! Invitations: batches of up to 25 addresses, cancellation, and acceptance by token, which
//! enrols the invitee as an affiliate (`source: invitation`) and records `affiliate.joined`.
//!
//! The token is 40 random base62 characters after `rginv_` (about 238 bits), shown once in
//! the create response and stored only as its SHA-256. Who wins is decided by the database:
//! one live invitation per email by the unique `pending_key`, one acceptance per invitation by
//! a compare-and-set UPDATE on its status.

use std::collections::HashSet;

use diesel::Connection;
use refgrow_types::api::{
    normalize_email, AcceptInvitation, AffiliateSource, CreateAffiliate, CreateInvitations, Email,
    Invitation, InvitationBatch, InvitationStatus, SkipReason, SkippedInvitation,
    MAX_INVITATIONS_PER_REQUEST,
};
use refgrow_types::error::ErrorCode;
use refgrow_types::{AffiliateId, InvitationId};

use crate::clock::{ms_to_datetime, opt_ms, DAY_MS};
use crate::db::affiliates::{self as affiliate_store, AffiliateRow};
use crate::db::invitations::{self as store, InvitationRow};
use crate::db::programs::ProgramRow;
use crate::db::{is_unique_violation, DbConn};
use crate::error::ApiError;
use crate::idgen::{hash_secret, new_id, random_base62};
use crate::services::{affiliates, events, program};
use crate::validate::check_len;

/// The prefix of invitation tokens (so a leaked one is recognisable).
pub const TOKEN_PREFIX: &str = "rginv_";

/// The longest token path segment looked up; anything longer is unknown.
const MAX_TOKEN_LEN: usize = 200;

/// The longest invitation message, in characters.
const MAX_MESSAGE_CHARS: usize = 1000;

/// A new invitation token.
fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_base62(40))
}

/// The accept endpoint of an invitation: `{public_base}/v1/invitations/{token}/accept`. The
/// SaaS's own onboarding page takes the token from it and POSTs the invitee's name there.
pub fn accept_url(public_base: &str, token: &str) -> String {
    format!("{public_base}/v1/invitations/{token}/accept")
}

/// The status an invitation shows at `now` (`expired` is computed).
pub fn status_of(row: &InvitationRow, now: i64) -> InvitationStatus {
    match row.status.as_str() {
        store::ACCEPTED => InvitationStatus::Accepted,
        store::CANCELLED => InvitationStatus::Cancelled,
        _ if row.expires_at <= now => InvitationStatus::Expired,
        _ => InvitationStatus::Pending,
    }
}

/// The API view of an invitation; `token` only right after creation.
pub fn to_dto(row: &InvitationRow, now: i64, token: Option<&str>, public_base: &str) -> Invitation {
    Invitation {
        id: InvitationId::from_trusted(row.id.clone()),
        email: row.email.clone(),
        status: status_of(row, now),
        message: row.message.clone(),
        created_at: ms_to_datetime(row.created_at),
        expires_at: ms_to_datetime(row.expires_at),
        accepted_at: opt_ms(row.accepted_at),
        cancelled_at: opt_ms(row.cancelled_at),
        affiliate_id: row.affiliate_id.clone().map(AffiliateId::from_trusted),
        sent_by: row
            .sent_by_key_id
            .clone()
            .map(|key_id| refgrow_types::api::InvitationSender {
                key_id,
                label: row.sent_by_label.clone(),
            }),
        token: token.map(str::to_string),
        accept_url: token.map(|t| accept_url(public_base, t)),
        mail: None,
    }
}

pub use refgrow_types::api::InvitationSender;

/// Creates the invitations of a batch, in one transaction, recording `invitation.created`
/// for each. Addresses that get none are reported in `skipped`; a batch of 0 or more than 25
/// addresses is refused whole.
pub fn create_batch(
    c: &mut DbConn,
    prog: &ProgramRow,
    req: &CreateInvitations,
    ttl_days: u32,
    now: i64,
    public_base: &str,
    sender: Option<&InvitationSender>,
) -> Result<InvitationBatch, ApiError> {
    if req.emails.is_empty() || req.emails.len() > MAX_INVITATIONS_PER_REQUEST {
        return Err(ApiError::invalid(
            "emails",
            format!("must hold 1 to {MAX_INVITATIONS_PER_REQUEST} addresses"),
        ));
    }
    let message = match &req.message {
        Some(m) => {
            check_len("message", m, 1, MAX_MESSAGE_CHARS)?;
            Some(m.clone())
        }
        None => None,
    };
    let expires_at = now.saturating_add(i64::from(ttl_days).saturating_mul(DAY_MS));
    c.transaction(|c| {
        let mut seen = HashSet::new();
        let mut created = Vec::new();
        let mut skipped = Vec::new();
        let mut skip = |email: String, reason| skipped.push(SkippedInvitation { email, reason });
        for raw in &req.emails {
            let Some(email) = normalize_email(raw) else {
                skip(raw.clone(), SkipReason::InvalidEmail);
                continue;
            };
            if !seen.insert(email.clone()) {
                skip(email, SkipReason::DuplicateInRequest);
                continue;
            }
            if affiliate_store::find_by_email(c, &prog.id, &email)?.is_some() {
                skip(email, SkipReason::AlreadyAffiliate);
                continue;
            }
            let key = store::pending_key(&prog.id, &email);
            // An expired invitation no longer blocks a new one.
            store::release_expired(c, &key, now)?;
            let token = new_token();
            let row = InvitationRow {
                id: new_id(InvitationId::PREFIX),
                program_id: prog.id.clone(),
                email: email.clone(),
                token_hash: hash_secret(&token),
                status: store::PENDING.to_string(),
                pending_key: Some(key),
                message: message.clone(),
                affiliate_id: None,
                created_at: now,
                expires_at,
                accepted_at: None,
                cancelled_at: None,
                sent_by_key_id: sender.map(|s| s.key_id.clone()),
                sent_by_label: sender.and_then(|s| s.label.clone()),
            };
            // A savepoint, so a duplicate does not abort the PostgreSQL transaction.
            match c.transaction(|c| store::insert(c, &row)) {
                Ok(()) => {}
                Err(e) if is_unique_violation(&e) => {
                    skip(email, SkipReason::PendingInvitation);
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let plain = to_dto(&row, now, None, public_base);
            events::record(
                c,
                &prog.id,
                "invitation.created",
                &serde_json::json!({ "invitation": plain }),
                now,
            )?;
            created.push(to_dto(&row, now, Some(&token), public_base));
        }
        Ok(InvitationBatch {
            invitations: created,
            skipped,
        })
    })
}

/// An invitation of the program, or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<InvitationRow, ApiError> {
    store::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("invitation"))
}

/// Refuses an invitation that can no longer be accepted or cancelled, saying why.
fn require_live(row: &InvitationRow, now: i64) -> Result<(), ApiError> {
    match status_of(row, now) {
        InvitationStatus::Pending => Ok(()),
        InvitationStatus::Accepted => Err(ApiError::conflict(
            "This invitation has already been accepted",
        )),
        InvitationStatus::Cancelled => Err(ApiError::conflict("This invitation was cancelled")),
        InvitationStatus::Expired => Err(ApiError::conflict(format!(
            "This invitation expired at {}",
            ms_to_datetime(row.expires_at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
    }
}

/// Cancels a pending invitation; any other status is `conflict`.
pub fn cancel(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    now: i64,
) -> Result<InvitationRow, ApiError> {
    c.transaction(|c| {
        if store::cancel(c, program_id, id, now)? == 0 {
            let row = load(c, program_id, id)?;
            require_live(&row, now)?;
            return Err(ApiError::conflict(
                "The invitation changed meanwhile; fetch it and try again",
            ));
        }
        load(c, program_id, id)
    })
}

/// Accepts an invitation by its token, in one transaction: marks it accepted (only if it is
/// still pending: the loser of two concurrent acceptances gets `conflict`), enrols the
/// affiliate under the program's approval rule and records `affiliate.joined`.
pub fn accept(
    c: &mut DbConn,
    token: &str,
    req: AcceptInvitation,
    now: i64,
    public_base: &str,
) -> Result<(ProgramRow, AffiliateRow), ApiError> {
    let unknown = || {
        ApiError::new(
            ErrorCode::ResourceNotFound,
            "No such invitation: the token is unknown",
        )
    };
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(unknown());
    }
    let hash = hash_secret(token);
    c.transaction(|c| {
        let row = store::find_by_token_hash(c, &hash)?.ok_or_else(unknown)?;
        require_live(&row, now)?;
        if store::mark_accepted(c, &row.id, now)? == 0 {
            // Someone else changed it between the read and the write: say what happened.
            let fresh = store::find(c, &row.program_id, &row.id)?.ok_or_else(unknown)?;
            require_live(&fresh, now)?;
            return Err(ApiError::conflict(
                "This invitation has already been accepted",
            ));
        }
        let prog = program::load(c, &row.program_id)?;
        let email = Email::parse(&row.email)
            .ok_or_else(|| ApiError::internal(format!("stored invitation email {}", row.id)))?;
        let affiliate = affiliates::create(
            c,
            &prog,
            CreateAffiliate {
                email,
                name: req.name,
                referral_code: req.referral_code,
                custom_fields: None,
                parent_affiliate_id: None,
                payment_method: req.payment_method,
                payment_details: req.payment_details,
            },
            AffiliateSource::Invitation,
            now,
        )?;
        store::set_affiliate(c, &row.id, &affiliate.id)?;
        events::affiliate_changed(c, &prog, &affiliate, "affiliate.joined", public_base, now)?;
        Ok((prog, affiliate))
    })
}
