//! Query strings of the list endpoints, rendered from the parameter structs shared with the
//! server (`refgrow_types::api::params`), so the names on the wire come from one place.

use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// Every query parameter name the list structs rendered here may carry. (`Call` keeps names
/// as `&'static str`; a name missing here is a bug caught by the tests below.)
const KNOWN: &[&str] = &[
    "limit",
    "offset",
    "status",
    "email",
    "affiliateId",
    "from",
    "to",
    "keyId",
    "resourceId",
    "action",
    "method",
    "type",
];

crate::pagination::paged!(
    refgrow_types::api::ListAffiliates,
    refgrow_types::api::ListCommissions,
    refgrow_types::api::ListConversions,
    refgrow_types::api::ListInvitations,
    refgrow_types::api::ListAuditLog,
);

/// Renders a parameter struct as query pairs: unset (`None`) fields are left out, strings
/// are sent as they are, numbers and booleans in their JSON form, timestamps as RFC 3339.
pub(crate) fn to_query<T: Serialize>(params: &T) -> Result<Vec<(&'static str, String)>, Error> {
    let value = serde_json::to_value(params)
        .map_err(|e| Error::Config(format!("the query cannot be encoded: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::Config("query parameters must be a struct".into()));
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let Some(name) = KNOWN.iter().copied().find(|k| *k == name) else {
            return Err(Error::Config(format!("unknown query parameter {name:?}")));
        };
        let value = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(_) | Value::Object(_) => {
                return Err(Error::Config(format!(
                    "the query parameter {name:?} is not a single value"
                )))
            }
        };
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        AffiliateStatus, CommissionStatus, InvitationStatus, ListAffiliates, ListAuditLog,
        ListCommissions, ListConversions, ListInvitations,
    };
    use crate::{AffiliateId, KeyId};

    fn sorted(mut q: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        q.sort();
        q
    }

    #[test]
    fn every_field_of_every_list_renders() -> Result<(), Error> {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05.5Z")
            .map_err(|e| Error::Config(e.to_string()))?
            .with_timezone(&chrono::Utc);
        let aff = AffiliateId::parse("aff_1").map_err(|e| Error::Config(e.to_string()))?;
        let q = to_query(&ListAffiliates {
            status: Some(AffiliateStatus::Suspended),
            email: Some("a+b@example.com".into()),
            limit: Some(100),
            offset: Some(7),
        })?;
        assert_eq!(
            sorted(q),
            vec![
                ("email", "a+b@example.com".into()),
                ("limit", "100".into()),
                ("offset", "7".into()),
                ("status", "suspended".into()),
            ]
        );
        let q = to_query(&ListCommissions {
            affiliate_id: Some(aff.clone()),
            status: Some(CommissionStatus::Pending),
            from: Some(t),
            to: Some(t),
            limit: Some(1),
            offset: Some(0),
        })?;
        assert_eq!(q.len(), 6);
        assert!(q.contains(&("affiliateId", "aff_1".into())));
        assert!(q.contains(&("from", "2026-01-02T03:04:05.500Z".into())));
        let q = to_query(&ListConversions {
            affiliate_id: Some(aff),
            limit: Some(2),
            offset: Some(3),
        })?;
        assert_eq!(q.len(), 3);
        let q = to_query(&ListInvitations {
            status: Some(InvitationStatus::Expired),
            limit: None,
            offset: None,
        })?;
        assert_eq!(q, vec![("status", "expired".to_string())]);
        let q = to_query(&ListAuditLog {
            limit: Some(10),
            offset: Some(20),
            key_id: Some(KeyId::parse("key_1").map_err(|e| Error::Config(e.to_string()))?),
            resource_id: Some("comm_1".into()),
            action: Some("POST /v1/commissions".into()),
            method: Some("POST".into()),
            from: Some(t),
            to: Some(t),
        })?;
        assert_eq!(q.len(), 8);
        assert!(q.contains(&("keyId", "key_1".into())));
        assert!(q.contains(&("resourceId", "comm_1".into())));
        assert!(to_query(&ListAffiliates::default())?.is_empty());
        Ok(())
    }
}
