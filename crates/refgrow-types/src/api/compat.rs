//! The request and answer bodies of the compatibility layer: the seed APIs' own shapes
//! (snake_case, nested keys, string amounts), accepted as their documents print them and
//! mapped by the server onto the native `/v1` calls (see `docs/compat.md`).
//!
//! Not glob re-exported from [`crate::api`]: their names would read like native types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::affiliates::{AffiliateSource, AffiliateStatus, Country};
use crate::money::{Amount, Currency};

/// `POST /api/commissions` (the integration guide): a sale of an affiliate. `amount` is the
/// **sale** amount there (the guide's "sale amount"), as is `saleAmount`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuideCommission {
    /// The affiliate (`aff_…`).
    pub affiliate_id: crate::AffiliateId,
    /// The sale amount (the guide's name for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// The sale amount (the native name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_amount: Option<Amount>,
    /// Your order id: the sale's identity (a repeat is a replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The product, for per-product rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
}

/// `POST /v1/conversions` (LinkJolt): a referred sale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkjoltConversion {
    /// The affiliate's tracking code (a referral code) or a click id (`click_…`).
    pub tracking_code: String,
    /// The sale amount (number or decimal string).
    pub order_value: Amount,
    /// Your order id: the sale's identity (a repeat is a replay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The buyer's email (self-referrals are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    /// The sale's currency; the program's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
}

/// A conversion in LinkJolt's flat shape: the answer to `POST /v1/conversions` and the
/// `data` of a `linkjolt`-format `conversion.created` delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkjoltConversionData {
    /// `conv_…`.
    pub conversion_id: String,
    /// `aff_…`.
    pub affiliate_id: String,
    /// What the affiliate earned.
    pub commission_amount: Amount,
    /// The sale amount.
    pub order_value: Amount,
    /// The sale currency.
    pub currency: Currency,
    /// Your order id.
    pub order_id: Option<String>,
    /// When recorded.
    pub timestamp: DateTime<Utc>,
}

/// A money total with its text (`{"amount": 1250.75, "currency": "USD", "formatted":
/// "$1,250.75"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormattedAmount {
    /// Major units.
    pub amount: Amount,
    /// ISO 4217 code.
    pub currency: Currency,
    /// For people.
    pub formatted: String,
}

/// The user of a store affiliate's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreUser {
    /// Full name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// A store affiliate's nested account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreAccount {
    /// The user profile.
    pub user: StoreUser,
    /// Display name.
    pub pseudo: String,
    /// Country, when known.
    pub country: Option<Country>,
}

/// An affiliate in the store-affiliate API's shape (`GET /v1/affiliates/{affiliateCode}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreAffiliate {
    /// `aff_…` (Refgrow's id; the store API's `saff_` prefix is not used).
    pub id: String,
    /// The referral code.
    pub code: String,
    /// `active`, `suspended`, `pending` or `blocked`.
    pub status: AffiliateStatus,
    /// `api`, `invitation` or `stripe`.
    pub source: AffiliateSource,
    /// Referral link visits.
    pub total_visits: i64,
    /// Completed sales.
    pub total_sales: i64,
    /// Commission earned (pending, approved and paid).
    pub total_earnings: FormattedAmount,
    /// Who they are.
    pub account: StoreAccount,
    /// The referral link.
    pub referral_link: String,
    /// When suspended (null when not).
    pub suspended_at: Option<DateTime<Utc>>,
    /// Why suspended (null when not).
    pub suspended_reason: Option<String>,
    /// When enrolled.
    pub created_at: DateTime<Utc>,
}

/// `{"affiliate": {...}}` in the store shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreAffiliateResponse {
    /// The affiliate.
    pub affiliate: StoreAffiliate,
}

/// A key in a nested object (`{"key": "..."}`), as Partnero nests its references.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyRef {
    /// The key; empty or absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `partner` of a Partnero customer: the partner's key (the referral code from the
/// `partnero_partner` cookie). Other fields the examples print are accepted and ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartneroPartner {
    /// The partner's key (a referral code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /v1/customers` in Partnero's shape (told apart from the native body by `partner`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartneroCustomer {
    /// The referring partner; without a key the signup is acknowledged and not stored.
    #[serde(default)]
    pub partner: PartneroPartner,
    /// Your id of the customer.
    pub key: String,
    /// Email; `""` is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name; `""` is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A Partnero customer as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartneroCustomerData {
    /// Your id of the customer.
    pub key: String,
    /// Email.
    pub email: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The partner it is attributed to (`{"key": code}`), or null.
    pub partner: Option<KeyRef>,
    /// True when nothing was stored (no partner key, or an unknown one).
    pub ignored: bool,
    /// True when a delete found and removed it (delete answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// `{"customer": {...}}` in Partnero's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartneroCustomerResponse {
    /// The customer.
    pub customer: PartneroCustomerData,
}

/// `POST /v1/transactions` in Partnero's shape (told apart by `customer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartneroTransaction {
    /// The customer (`{"key": ...}` from the customer call).
    pub customer: KeyRef,
    /// Your payment id (recommended: without it a retry counts again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The full purchase amount (string or number); the reward is computed by the rule.
    pub amount: Amount,
    /// Its currency; the program's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Product id (per-product rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Product type (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    /// What happened (`sale`; informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// A Partnero transaction as answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartneroTransactionData {
    /// The payment id.
    pub key: String,
    /// The customer.
    pub customer: KeyRef,
    /// The amount.
    pub amount: Option<Amount>,
    /// The partner's reward for it (0 when none).
    pub commission_amount: Option<Amount>,
    /// The product id.
    pub product_id: Option<String>,
    /// The product type.
    pub product_type: Option<String>,
    /// The action.
    pub action: Option<String>,
    /// True when nothing was recorded (unknown or unattributed customer, or an unknown key
    /// on delete).
    pub ignored: bool,
    /// True when a delete reversed it (delete answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// `{"transaction": {...}}` in Partnero's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartneroTransactionResponse {
    /// The transaction.
    pub transaction: PartneroTransactionData,
}

/// `DELETE /v1/transactions` and `DELETE /v1/customers` (Partnero): the key in the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartneroKey {
    /// The transaction's or customer's key.
    pub key: String,
}

/// `camelCase` → `snake_case`.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for ch in key.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The `data` of an event in LinkJolt's flat shape: the event's object (`{"conversion":
/// {...}}` → its fields) with snake_case names, `id`/`xId` as `x_id`, and the event's
/// `timestamp`. A conversion's `amount` is its `order_value` and `commission` its
/// `commission_amount`, as LinkJolt names them.
pub fn linkjolt_data(payload: &super::webhooks::WebhookPayload) -> serde_json::Value {
    use serde_json::{Map, Value};
    let (kind, inner) = match payload.data.as_object() {
        Some(o) if o.len() == 1 => {
            let (k, v) = o
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap_or_default();
            (k, v)
        }
        _ => (String::new(), payload.data.clone()),
    };
    let mut out = Map::new();
    if let Value::Object(fields) = inner {
        for (k, v) in fields {
            let name = match (kind.as_str(), k.as_str()) {
                (_, "id") if !kind.is_empty() => format!("{}_id", snake(&kind)),
                ("conversion", "amount") => "order_value".into(),
                ("conversion", "commission") => "commission_amount".into(),
                _ => snake(&k),
            };
            out.insert(name, v);
        }
    } else if !kind.is_empty() {
        out.insert(snake(&kind), inner);
    }
    out.insert(
        "timestamp".into(),
        serde_json::to_value(payload.timestamp).unwrap_or(Value::Null),
    );
    Value::Object(out)
}

/// A whole delivery body in LinkJolt's shape: `{"event": type, "data": {...}}`.
pub fn linkjolt_payload(payload: &super::webhooks::WebhookPayload) -> serde_json::Value {
    serde_json::json!({"event": payload.event_type, "data": linkjolt_data(payload)})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_conversion_is_flattened_as_linkjolt_names_it() {
        let p = crate::api::WebhookPayload {
            event_type: "conversion.created".into(),
            timestamp: "2025-01-15T10:30:00Z".parse().unwrap(),
            data: serde_json::json!({"conversion": {"conversionId": "conv_1", "affiliateId": "aff_2",
                "amount": "99.99", "commission": "29.99", "orderId": "o1"}}),
        };
        let v = linkjolt_payload(&p);
        assert_eq!(v["event"], "conversion.created");
        assert_eq!(v["data"]["conversion_id"], "conv_1");
        assert_eq!(v["data"]["affiliate_id"], "aff_2");
        assert_eq!(v["data"]["order_value"], "99.99");
        assert_eq!(v["data"]["commission_amount"], "29.99");
        assert_eq!(v["data"]["order_id"], "o1");
        assert_eq!(v["data"]["timestamp"], "2025-01-15T10:30:00Z");
        let a = crate::api::WebhookPayload {
            event_type: "affiliate.joined".into(),
            timestamp: "2025-01-15T10:30:00Z".parse().unwrap(),
            data: serde_json::json!({"affiliate": {"id": "aff_2", "referralCode": "X1"}}),
        };
        let v = linkjolt_payload(&a);
        assert_eq!(v["data"]["affiliate_id"], "aff_2");
        assert_eq!(v["data"]["referral_code"], "X1");
    }
}
