//! Prefixed, opaque resource ids (`aff_…`, `comm_…`). Each kind is its own type, so an
//! affiliate id can never be passed where a commission id belongs, and a string with the
//! wrong prefix is refused at the edge with the contract's message.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an id string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a string beginning with '{prefix}'")]
pub struct IdError {
    /// The prefix the id must start with.
    pub prefix: &'static str,
}

/// Checks that `s` is `prefix` followed by 1..=64 ASCII letters, digits or `_`/`-`.
pub fn check_id(s: &str, prefix: &'static str) -> Result<(), IdError> {
    let rest = s.strip_prefix(prefix).ok_or(IdError { prefix })?;
    if rest.is_empty()
        || rest.len() > 64
        || !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(IdError { prefix });
    }
    Ok(())
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Parses and checks an id.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_id(s, $prefix)?;
                Ok(Self(s.to_string()))
            }

            /// Wraps a string already known to be valid (read back from storage).
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                crate::openapi::id_schema($prefix)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::api::common::deserialize_checked_str(
                    d,
                    concat!("a string beginning with '", $prefix, "'"),
                    |s| Self::parse(s).map_err(|e| e.to_string()),
                )
            }
        }
    };
}

define_id!(
    /// A program (one affiliate program of one SaaS product).
    ProgramId, "prog_");
define_id!(
    /// An affiliate.
    AffiliateId, "aff_");
define_id!(
    /// A recorded click on a referral link.
    ClickId, "click_");
define_id!(
    /// A referred customer.
    CustomerId, "cus_");
define_id!(
    /// A conversion (a sale or transaction).
    ConversionId, "conv_");
define_id!(
    /// A commission.
    CommissionId, "comm_");
define_id!(
    /// A payout.
    PayoutId, "po_");
define_id!(
    /// An affiliate invitation.
    InvitationId, "inv_");
define_id!(
    /// A webhook endpoint.
    WebhookEndpointId, "we_");
define_id!(
    /// An event in the event log.
    EventId, "evt_");
define_id!(
    /// An API key (its public id, never the secret).
    KeyId, "key_");
define_id!(
    /// One delivery attempt series of an event to an endpoint.
    DeliveryId, "del_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        assert!(AffiliateId::parse("aff_123abc").is_ok());
        let e = AffiliateId::parse("comm_123").unwrap_err();
        assert_eq!(e.to_string(), "must be a string beginning with 'aff_'");
        assert!(AffiliateId::parse("aff_").is_err());
        assert!(AffiliateId::parse("aff_a b").is_err());
        let json: Result<AffiliateId, _> = serde_json::from_str("42");
        assert!(json
            .unwrap_err()
            .to_string()
            .contains("beginning with 'aff_'"));
    }
}
