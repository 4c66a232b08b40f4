//! Stripe: verifying `Stripe-Signature`, and turning Stripe events into customers,
//! transactions, refunds and holds.
//!
//! Each event is inserted into the `stripe_events` inbox (primary key: program and event id)
//! in the same transaction as its effects, so a redelivered event changes nothing and a crash
//! half-way leaves nothing half done. The mapping runs in a savepoint: when an event cannot be
//! applied (a self-referral, an unknown customer) the event is still stored with that outcome
//! and acknowledged, because Stripe retries anything but a 2xx and a retry cannot help.
//!
//! | event | effect |
//! |---|---|
//! | `checkout.session.completed` | binds the session's customer to the affiliate named by `client_reference_id`, `metadata.refgrow_click` or `metadata.referral` (a click id or a referral code) |
//! | `customer.created` | the same from the customer's `metadata` |
//! | `invoice.paid` | a transaction of that customer: `amount_paid` in the invoice currency, key = invoice id; zero-amount invoices earn nothing |
//! | `charge.refunded` | refunds the charge's sale in proportion to `amount_refunded` (cumulative, so repeated partial refunds work) |
//! | `charge.dispute.created` | holds the sale's commissions (no approval, no payout) |
//! | anything else | stored and acknowledged |

use hmac::{Hmac, Mac};
use refgrow_types::api::CreateCustomer;
use refgrow_types::api::ReferralCode;
use refgrow_types::commission::scale_minor;
use refgrow_types::money::{Currency, Money};
use refgrow_types::ClickId;
use serde_json::Value;
use sha2::Sha256;

use crate::db::customers as customer_store;
use crate::db::programs::ProgramRow;
use crate::db::stripe as stripe_store;
use crate::db::{affiliates as affiliate_store, DbConn};
use crate::error::ApiError;
use crate::services::conversions::{self, NewSale};
use crate::services::customers;

/// How far a signature's timestamp may be from now, as Stripe's libraries allow.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is missing or not `t=…,v1=…`.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// The timestamp is too far from now.
    #[error("the Stripe-Signature timestamp is outside the tolerance of {TOLERANCE_SECS} seconds")]
    Stale,
    /// No `v1` signature matches.
    #[error("no v1 signature in Stripe-Signature matches the program's signing secret")]
    Mismatch,
}

/// Verifies `Stripe-Signature` as Stripe documents it: HMAC-SHA256 of `"{t}.{body}"` with the
/// endpoint secret, hex, compared in constant time against every `v1` entry.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => timestamp = v.parse().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now_secs - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    for sig in &signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| SignatureError::Mismatch)?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(sig).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Signs a body as Stripe does (for tests and tools): the `Stripe-Signature` value.
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return format!("t={t}"),
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What handling an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Whether the event had been handled before (nothing was done now).
    pub duplicate: bool,
    /// A short description of the effect.
    pub outcome: String,
}

/// An id field that may be a string or an expanded object with an `id`.
fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Handles one verified event once. Runs inside the caller's transaction.
pub fn handle_event(
    c: &mut DbConn,
    prog: &ProgramRow,
    event: &Value,
    raw: &str,
    now: i64,
) -> Result<Handled, ApiError> {
    let event_id = event
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| ApiError::invalid("id", "the event has no id"))?;
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .filter(|s| s.len() <= 255)
        .ok_or_else(|| ApiError::invalid("type", "the event has no type"))?;
    if !stripe_store::insert_event(c, &prog.id, event_id, event_type, raw, now)? {
        let outcome = stripe_store::event_outcome(c, &prog.id, event_id)?;
        return Ok(Handled {
            duplicate: true,
            outcome,
        });
    }
    let object = event
        .pointer("/data/object")
        .cloned()
        .unwrap_or(Value::Null);
    let applied =
        crate::db::rollups::savepoint(c, |c| apply(c, prog, event_id, event_type, &object, now));
    let outcome = match applied {
        Ok(o) => o,
        Err(e)
            if matches!(
                e.code,
                refgrow_types::ErrorCode::ServerError
                    | refgrow_types::ErrorCode::ServiceUnavailable
            ) =>
        {
            return Err(e)
        }
        Err(e) => format!("not applied: {}", e.message),
    };
    stripe_store::set_outcome(c, &prog.id, event_id, &outcome)?;
    Ok(Handled {
        duplicate: false,
        outcome,
    })
}

/// The click ids an event may bind a customer with (`client_reference_id`,
/// `metadata.refgrow_click`, `metadata.referral` of its object), so the caller can make sure
/// they are committed before the event is applied.
pub fn click_ids_of(event: &Value) -> Vec<String> {
    let Some(object) = event.get("data").and_then(|d| d.get("object")) else {
        return Vec::new();
    };
    [
        str_at(object, &["client_reference_id"]),
        str_at(object, &["metadata", "refgrow_click"]),
        str_at(object, &["metadata", "referral"]),
    ]
    .into_iter()
    .flatten()
    .filter(|r| r.starts_with(ClickId::PREFIX))
    .map(str::to_string)
    .collect()
}

fn apply(
    c: &mut DbConn,
    prog: &ProgramRow,
    event_id: &str,
    event_type: &str,
    object: &Value,
    now: i64,
) -> Result<String, ApiError> {
    match event_type {
        "checkout.session.completed" => {
            let referral = str_at(object, &["client_reference_id"])
                .or_else(|| str_at(object, &["metadata", "refgrow_click"]))
                .or_else(|| str_at(object, &["metadata", "referral"]));
            let email = str_at(object, &["customer_details", "email"])
                .or_else(|| str_at(object, &["customer_email"]));
            bind(
                c,
                prog,
                object.get("customer"),
                object,
                referral,
                email,
                now,
            )
        }
        "customer.created" => {
            let referral = str_at(object, &["metadata", "refgrow_click"])
                .or_else(|| str_at(object, &["metadata", "referral"]));
            if referral.is_none() {
                return Ok("no referral in metadata".into());
            }
            let email = str_at(object, &["email"]);
            bind(c, prog, object.get("id"), object, referral, email, now)
        }
        "invoice.paid" => invoice_paid(c, prog, object, now),
        "charge.refunded" => charge_refunded(c, prog, event_id, object, now),
        "charge.dispute.created" => {
            let charge = object.get("charge").and_then(id_of);
            let Some(conv) = find_conversion_of_charge(c, prog, charge.as_deref(), None, object)?
            else {
                return Ok("no sale found for the disputed charge".into());
            };
            let n = crate::services::approval::hold_for_conversion(c, &prog.id, &conv, now)?;
            Ok(format!("held {n} commissions of {conv}"))
        }
        "customer.subscription.deleted" => Ok("recorded; earned commissions stay".into()),
        _ => Ok("stored; no effect".into()),
    }
}

/// Binds a Stripe customer (found by its Stripe id, or created) to the referral.
fn bind(
    c: &mut DbConn,
    prog: &ProgramRow,
    customer: Option<&Value>,
    object: &Value,
    referral: Option<&str>,
    email: Option<&str>,
    now: i64,
) -> Result<String, ApiError> {
    let Some(stripe_id) = customer.and_then(id_of) else {
        return Ok("no Stripe customer to bind".into());
    };
    if customer_store::find_by_stripe_id(c, &prog.id, &stripe_id)?.is_some() {
        return Ok(format!("customer {stripe_id} already bound"));
    }
    let key = str_at(object, &["metadata", "refgrow_customer_key"])
        .map(str::to_string)
        .unwrap_or_else(|| stripe_id.clone());
    let (click_id, referral_code) = match referral {
        Some(r) if r.starts_with(ClickId::PREFIX) => (ClickId::parse(r).ok(), None),
        Some(r) => (None, ReferralCode::parse(r)),
        None => (None, None),
    };
    let req = CreateCustomer {
        key,
        email: email.and_then(refgrow_types::api::Email::parse),
        name: str_at(object, &["customer_details", "name"])
            .or_else(|| str_at(object, &["name"]))
            .map(|s| s.chars().take(200).collect()),
        click_id,
        referral_code,
        affiliate_id: None,
    };
    let (mut row, _) = customers::bind(c, prog, &req, now)?;
    row.stripe_customer_id = Some(stripe_id.clone());
    customer_store::update(c, &row)?;
    Ok(match &row.affiliate_id {
        Some(a) => format!("customer {stripe_id} bound to {a}"),
        None => format!("customer {stripe_id} recorded, unattributed"),
    })
}

/// The Stripe amount and currency of an object, in ISO 4217 minor units.
///
/// Stripe's integer amounts are in the currency's ISO minor unit except for its special
/// cases ([`Currency::stripe_exponent`]): ISK and UGX arrive in hundredths, so 150000 ISK
/// from Stripe is 1500 ISK here. A hundredths amount that is not a whole number of units is
/// refused (Stripe itself only charges whole ISK and UGX).
pub fn stripe_money(object: &Value, field: &str) -> Result<Money, ApiError> {
    let currency = str_at(object, &["currency"])
        .and_then(|c| Currency::parse(c).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "currency",
                "the Stripe object has no valid ISO 4217 currency",
            )
        })?;
    let raw = object
        .get(field)
        .and_then(Value::as_i64)
        .filter(|m| *m >= 0)
        .ok_or_else(|| ApiError::invalid(field, "the Stripe object has no valid amount"))?;
    let extra = currency
        .stripe_exponent()
        .saturating_sub(currency.exponent());
    let div = 10i64.pow(extra);
    if raw % div != 0 {
        return Err(ApiError::invalid(
            field,
            format!("is not a whole number of {currency} (Stripe sends it in hundredths)"),
        ));
    }
    let minor = raw / div;
    if minor > refgrow_types::money::MAX_MINOR {
        return Err(ApiError::invalid(field, "is too large"));
    }
    Ok(Money::new(minor, currency))
}

fn invoice_paid(
    c: &mut DbConn,
    prog: &ProgramRow,
    invoice: &Value,
    now: i64,
) -> Result<String, ApiError> {
    let invoice_id = invoice
        .get("id")
        .and_then(id_of)
        .ok_or_else(|| ApiError::invalid("id", "the invoice has no id"))?;
    let amount = stripe_money(invoice, "amount_paid")?;
    if amount.minor == 0 {
        return Ok("zero-amount invoice earns nothing".into());
    }
    let Some(stripe_customer) = invoice.get("customer").and_then(id_of) else {
        return Ok("invoice has no customer".into());
    };
    let Some(customer) = customer_store::find_by_stripe_id(c, &prog.id, &stripe_customer)? else {
        return Ok(format!(
            "customer {stripe_customer} is not known to Refgrow"
        ));
    };
    let Some(affiliate_id) = customer.affiliate_id.clone() else {
        return Ok(format!("customer {stripe_customer} is not attributed"));
    };
    let affiliate = affiliate_store::find(c, &prog.id, &affiliate_id)?
        .ok_or_else(|| ApiError::not_found("affiliate"))?;
    let product = invoice
        .pointer("/lines/data/0/pricing/price_details/product")
        .or_else(|| invoice.pointer("/lines/data/0/price/product"))
        .and_then(id_of);
    let recorded = conversions::record_sale(
        c,
        prog,
        NewSale {
            affiliate,
            customer: Some(customer),
            order_id: Some(invoice_id.clone()),
            request_hash: crate::idgen::hash_secret(&format!("stripe-invoice\n{invoice_id}")),
            amount,
            product_id: product,
        },
        now,
    )?;
    // Remember the invoice's payment references, for refunds and disputes of its charge.
    let mut refs: Vec<String> = ["charge", "payment_intent"]
        .iter()
        .filter_map(|k| invoice.get(*k).and_then(id_of))
        .collect();
    if let Some(payments) = invoice.pointer("/payments/data").and_then(Value::as_array) {
        for p in payments {
            for k in ["charge", "payment_intent"] {
                refs.extend(p.pointer(&format!("/payment/{k}")).and_then(id_of));
            }
        }
    }
    for r in refs {
        stripe_store::insert_ref(c, &prog.id, &r, &recorded.conversion.id)?;
    }
    Ok(format!(
        "transaction {invoice_id} recorded as {}{}",
        recorded.conversion.id,
        if recorded.replay {
            " (already recorded)"
        } else {
            ""
        }
    ))
}

/// The conversion a charge paid for: by its invoice, by a remembered payment reference, or
/// else the customer's latest sale of the charge's amount that is not wholly refunded.
fn find_conversion_of_charge(
    c: &mut DbConn,
    prog: &ProgramRow,
    charge_id: Option<&str>,
    charge: Option<&Value>,
    fallback: &Value,
) -> Result<Option<String>, ApiError> {
    let source = charge.unwrap_or(fallback);
    if let Some(inv) = source.get("invoice").and_then(id_of) {
        if let Some(conv) = crate::db::conversions::find_by_order(c, &prog.id, &inv)? {
            return Ok(Some(conv.id));
        }
    }
    let mut refs: Vec<String> = charge_id.map(str::to_string).into_iter().collect();
    refs.extend(source.get("payment_intent").and_then(id_of));
    for r in &refs {
        let hit = stripe_store::conversion_of_ref(c, &prog.id, r)?;
        if hit.is_some() {
            return Ok(hit);
        }
    }
    let (Some(stripe_customer), Some(amount)) = (
        source.get("customer").and_then(id_of),
        source.get("amount").and_then(Value::as_i64),
    ) else {
        return Ok(None);
    };
    let Some(customer) = customer_store::find_by_stripe_id(c, &prog.id, &stripe_customer)? else {
        return Ok(None);
    };
    Ok(crate::db::conversions::latest_unrefunded_of_amount(
        c,
        &prog.id,
        &customer.id,
        amount,
    )?)
}

fn charge_refunded(
    c: &mut DbConn,
    prog: &ProgramRow,
    event_id: &str,
    charge: &Value,
    now: i64,
) -> Result<String, ApiError> {
    let charge_id = charge.get("id").and_then(id_of);
    let Some(conv_id) =
        find_conversion_of_charge(c, prog, charge_id.as_deref(), Some(charge), charge)?
    else {
        return Ok("no sale found for the refunded charge".into());
    };
    // Locked before the refunded total is read: two events of one charge arriving together
    // (each with the cumulative `amount_refunded`) then apply one after the other, and the
    // second finds nothing left to do.
    let conv = crate::db::conversions::find_for_update(c, &prog.id, &conv_id)?
        .ok_or_else(|| ApiError::not_found("conversion"))?;
    let charged = stripe_money(charge, "amount")?;
    let refunded = stripe_money(charge, "amount_refunded")?;
    if charged.minor <= 0 {
        return Ok("charge of zero".into());
    }
    // The share of the charge refunded so far, applied to the sale (exact in i128: a
    // Decimal product of two large amounts could overflow).
    let target = scale_minor(
        conv.amount_minor,
        refunded.minor.min(charged.minor),
        charged.minor,
    )
    .clamp(0, conv.amount_minor);
    let delta = target - conv.refunded_minor;
    if delta <= 0 {
        return Ok(format!(
            "{conv_id} already refunded to {}",
            conv.refunded_minor
        ));
    }
    let currency = Currency::parse(&conv.currency).unwrap_or(Currency::USD);
    let r = crate::services::refunds::refund(
        c,
        prog,
        &conv_id,
        Some(Money::new(delta, currency)),
        Some("refunded in Stripe".into()),
        Some(format!("stripe:{event_id}")),
        now,
    )?;
    Ok(format!(
        "refunded {} of {conv_id} ({})",
        Money::new(delta, currency).amount(),
        r.conversion.status
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_stripe() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_test", 1_700_000_000);
        assert_eq!(
            verify_signature(&header, body, "whsec_test", 1_700_000_100),
            Ok(())
        );
        assert_eq!(
            verify_signature(&header, body, "whsec_other", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, b"{}", "whsec_test", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, body, "whsec_test", 1_700_000_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature("garbage", body, "whsec_test", 0),
            Err(SignatureError::Malformed)
        );
        // Several v1 entries (during a secret roll): any match is enough.
        let good = header.split(",v1=").nth(1).unwrap();
        let several = format!("t=1700000000,v1={},v1={good},v0=abc", "00".repeat(32));
        assert_eq!(
            verify_signature(&several, body, "whsec_test", 1_700_000_000),
            Ok(())
        );
    }
}
