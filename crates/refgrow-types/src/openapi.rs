//! OpenAPI schemas of the hand-written wire types (feature `openapi`): exact decimal amounts
//! are JSON numbers, currencies three letters, ids strings with their prefix.

use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::api::{Email, ReferralCode};
use crate::money::{Amount, Currency};

fn string(description: &str, pattern: Option<&str>, example: &str) -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
        .examples([serde_json::Value::String(example.to_string())]);
    if let Some(p) = pattern {
        b = b.pattern(Some(p));
    }
    RefOr::T(Schema::Object(b.build()))
}

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Number))
                .description(Some(
                    "An exact decimal amount in major units (99.99), with at most the currency's \
                     number of decimals; a string holding a decimal is accepted on input",
                ))
                .examples([serde_json::json!(99.99)])
                .build(),
        ))
    }
}
impl ToSchema for Amount {}

impl PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        string("An ISO 4217 currency code", Some("^[A-Za-z]{3}$"), "USD")
    }
}
impl ToSchema for Currency {}

impl PartialSchema for Email {
    fn schema() -> RefOr<Schema> {
        string(
            "An email address (stored lower-case)",
            None,
            "jane@example.com",
        )
    }
}
impl ToSchema for Email {}

impl PartialSchema for ReferralCode {
    fn schema() -> RefOr<Schema> {
        string(
            "A referral code: 3 to 32 letters, digits, '-' or '_' (compared case-insensitively)",
            Some("^[A-Za-z0-9_-]{3,32}$"),
            "JOHNDOE10",
        )
    }
}
impl ToSchema for ReferralCode {}

/// The schema of a prefixed id.
pub fn id_schema(prefix: &str) -> RefOr<Schema> {
    string(
        &format!("An opaque id beginning with '{prefix}'"),
        Some(&format!("^{prefix}[A-Za-z0-9_-]{{1,64}}$")),
        &format!("{prefix}abc123"),
    )
}
