//! Invitations: a program asks people by email to join as affiliates; each invitation carries
//! a single-use token that the invitee redeems to become an affiliate (`source: invitation`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::ReferralCode;
use crate::ids::{AffiliateId, InvitationId};

/// The most addresses one `POST /v1/affiliates/invitations` may carry.
pub const MAX_INVITATIONS_PER_REQUEST: usize = 25;

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Sent, not yet accepted, not past `expiresAt`.
    Pending,
    /// Redeemed: `affiliateId` names the affiliate it created.
    Accepted,
    /// Still pending when `expiresAt` passed; it can no longer be accepted.
    Expired,
    /// Withdrawn by the program before it was accepted.
    Cancelled,
}

impl InvitationStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Expired => "expired",
            InvitationStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => InvitationStatus::Pending,
            "accepted" => InvitationStatus::Accepted,
            "expired" => InvitationStatus::Expired,
            "cancelled" => InvitationStatus::Cancelled,
            _ => return None,
        })
    }
}

/// An invitation as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    /// `inv_…`.
    pub id: InvitationId,
    /// The invitee, lower-case.
    pub email: String,
    /// Where it stands; `expired` is computed from `expiresAt`.
    pub status: InvitationStatus,
    /// The program's note to the invitee, if any.
    pub message: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// After this it can no longer be accepted.
    pub expires_at: DateTime<Utc>,
    /// When accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When cancelled.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The affiliate created by accepting it.
    pub affiliate_id: Option<AffiliateId>,
    /// Who sent it: the API key that created it (absent for invitations older than this
    /// field).
    #[serde(default)]
    pub sent_by: Option<InvitationSender>,
    /// The secret that accepts the invitation. Only in the create response: the server keeps
    /// nothing but its hash, so it cannot be shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `REFGROW_PUBLIC_URL/invitations/{token}/accept`, the link to send the invitee. Only in
    /// the create response, like `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
    /// The invitation mail, when the server sends mail (`REFGROW_SMTP_URL`): shown by the
    /// fetch and list calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<InvitationMail>,
}

/// Where the mail of an invitation stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitationMail {
    /// `queued` (not sent yet; `lastError` says why when an attempt failed) or `sent`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
}

/// The API key that sent an invitation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitationSender {
    /// `key_…`.
    pub key_id: String,
    /// The key's label when it sent the invitation.
    pub label: Option<String>,
}

/// `{"invitation": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationResponse {
    /// The invitation.
    pub invitation: Invitation,
}

/// A page of invitations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationList {
    /// The items, newest first.
    pub invitations: Vec<Invitation>,
    /// How many match in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// `POST /v1/affiliates/invitations`: invite up to 25 people at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInvitations {
    /// 1..=25 addresses. Invalid, repeated, already enrolled or already invited addresses are
    /// skipped (and reported), not refused.
    pub emails: Vec<String>,
    /// A note to the invitees, 1..=1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why an address of a batch got no invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// An affiliate of the program already has this email.
    AlreadyAffiliate,
    /// A pending, unexpired invitation to this email exists.
    PendingInvitation,
    /// Not an email address.
    InvalidEmail,
    /// The address came earlier in the same request.
    DuplicateInRequest,
}

impl SkipReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::AlreadyAffiliate => "already_affiliate",
            SkipReason::PendingInvitation => "pending_invitation",
            SkipReason::InvalidEmail => "invalid_email",
            SkipReason::DuplicateInRequest => "duplicate_in_request",
        }
    }
}

/// An address of a batch that got no invitation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkippedInvitation {
    /// The address (normalized when it is one; as sent when it is not).
    pub email: String,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// The answer to `POST /v1/affiliates/invitations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationBatch {
    /// The invitations created, each with its `token` and `acceptUrl`, in request order.
    pub invitations: Vec<Invitation>,
    /// The addresses skipped, in request order.
    pub skipped: Vec<SkippedInvitation>,
}

/// `POST /v1/invitations/{token}/accept`: the invitee's details. The email is the
/// invitation's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptInvitation {
    /// 1..=200 characters.
    pub name: String,
    /// A code of the invitee's choosing; one is generated from the name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<ReferralCode>,
    /// How the affiliate is paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// Where the affiliate is paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_details: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Expired,
            InvitationStatus::Cancelled,
        ] {
            assert_eq!(InvitationStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(InvitationStatus::parse("sent"), None);
    }

    #[test]
    fn skip_reasons_use_wire_names() {
        let json = serde_json::to_string(&SkipReason::DuplicateInRequest).unwrap_or_default();
        assert_eq!(json, "\"duplicate_in_request\"");
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let r: Result<CreateInvitations, _> =
            serde_json::from_str(r#"{"emails": ["a@x.io"], "mesage": "hi"}"#);
        assert!(r.is_err());
        let r: Result<AcceptInvitation, _> = serde_json::from_str(r#"{"name": "A", "email": "x"}"#);
        assert!(r.is_err());
    }
}
