//! Query parameters of the list endpoints, shared by the server and the SDK.
//!
//! Every field is optional; an unset field is not sent and the server's default applies
//! (`limit` 20, `offset` 0, no filter). Field names are camelCase on the wire, exactly the
//! names the server's list routes accept, and unknown parameters are refused. Timestamps are
//! sent as RFC 3339 in UTC (`2026-01-01T00:00:00Z`); the server also accepts a bare
//! `YYYY-MM-DD` date, which a client can send by building the query itself.
//!
//! ```
//! use refgrow_types::api::{AffiliateStatus, ListAffiliates};
//!
//! let active = ListAffiliates {
//!     status: Some(AffiliateStatus::Active),
//!     limit: Some(100),
//!     ..Default::default()
//! };
//! let query = serde_json::to_value(&active)?;
//! assert_eq!(query, serde_json::json!({"status": "active", "limit": 100}));
//! # Ok::<(), serde_json::Error>(())
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::{AffiliateStatus, CommissionStatus, InvitationStatus};
use crate::ids::{AffiliateId, KeyId};

/// Filters and paging of `GET /v1/affiliates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAffiliates {
    /// Only affiliates with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AffiliateStatus>,
    /// Only the affiliate with this email (compared case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Page size, 1..=100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Filters and paging of `GET /v1/commissions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCommissions {
    /// Only this affiliate's commissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<AffiliateId>,
    /// Only commissions with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CommissionStatus>,
    /// Only commissions created at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only commissions created before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1..=100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Filters and paging of `GET /v1/conversions` (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListConversions {
    /// Only this affiliate's sales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<AffiliateId>,
    /// Page size, 1..=100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Filters and paging of `GET /v1/affiliates/invitations` (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListInvitations {
    /// Only invitations with this status (`expired`: pending and past `expiresAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<InvitationStatus>,
    /// Page size, 1..=100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Filters and paging of `GET /v1/audit-log` (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListAuditLog {
    /// Page size, 1..=100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// How many to skip (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Only calls made with this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// Only calls that acted on this resource (`aff_…`, `comm_…`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Only this action, `METHOD /v1/route/{pattern}` (`POST /v1/affiliates`,
    /// `DELETE /v1/api-keys/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only this HTTP method: `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only calls made at or after this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only calls made before this instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_the_servers_and_unset_fields_are_left_out() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let q = ListCommissions {
            affiliate_id: AffiliateId::parse("aff_abc").ok(),
            status: Some(CommissionStatus::Approved),
            from: Some(t),
            to: None,
            limit: Some(5),
            offset: None,
        };
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            serde_json::json!({"affiliateId": "aff_abc", "status": "approved",
                "from": "2026-01-02T03:04:05Z", "limit": 5})
        );
        let a = ListAuditLog {
            key_id: KeyId::parse("key_1").ok(),
            resource_id: Some("aff_1".into()),
            method: Some("POST".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::json!({"keyId": "key_1", "resourceId": "aff_1", "method": "POST"})
        );
        assert_eq!(
            serde_json::to_value(ListAffiliates::default()).unwrap(),
            serde_json::json!({})
        );
    }

    #[test]
    fn round_trips_and_refuses_unknown_fields() {
        let q: ListInvitations =
            serde_json::from_value(serde_json::json!({"status": "pending", "offset": 3})).unwrap();
        assert_eq!(q.status, Some(InvitationStatus::Pending));
        assert_eq!(q.offset, Some(3));
        assert!(serde_json::from_value::<ListConversions>(
            serde_json::json!({"affiliate": "aff_1"})
        )
        .is_err());
        let back: ListConversions = serde_json::from_value(
            serde_json::to_value(ListConversions {
                affiliate_id: AffiliateId::parse("aff_9").ok(),
                limit: Some(1),
                offset: Some(2),
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(back.limit, Some(1));
    }
}
