//! Conversions and transactions: recording a sale once, pricing it with the program's rule,
//! and creating the commissions it earns (the referring affiliate's and the second tier's).
//!
//! Idempotency is decided by the `UNIQUE (program_id, order_id)` constraint, never by a read
//! before the write: the conversion row is inserted with `ON CONFLICT DO NOTHING`, and an
//! order id already taken makes the call a replay (same request hash) or a conflict (another
//! body). On PostgreSQL a concurrent insert of the same order id waits for the first one's
//! commit, then finds it.
//!
//! A sale updates no shared row: its counts and amounts go to the rollups and to the
//! affiliate's counter as appended deltas ([`crate::db::stats_deltas`]), so concurrent sales
//! of one affiliate, or of one program, do not queue on each other's locks. The one
//! exception is the price of a rule with tiers, which depends on how many earning sales the
//! affiliate had before: that sale locks the affiliate's row before counting (see
//! [`crate::db::stats_deltas::locked_conversion_count`]), so concurrent sales of one
//! affiliate are counted one after the other and each tier boundary is exact.

use refgrow_types::api::{CommissionKind, Conversion, ConversionStatus};
use refgrow_types::commission::{CommissionRule, Sale};
use refgrow_types::money::{Currency, Money};
use refgrow_types::{AffiliateId, CommissionId, ConversionId};

use crate::clock::ms_to_datetime;
use crate::db::affiliates::{self as affiliate_store, AffiliateRow};
use crate::db::commissions::{self as commission_store, CommissionRow};
use crate::db::conversions::{self as store, ConversionRow};
use crate::db::customers::{self as customer_store, CustomerRow};
use crate::db::programs::ProgramRow;
use crate::db::rollups::{self, Delta};
pub use crate::db::sales::SaleWrite;
use crate::db::stats_deltas::{self, Change};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::services::commissions::{self, NewCommission};
use crate::services::{events, program};
use crate::validate::check_len;

/// A sale to record, already attributed to an affiliate.
pub struct NewSale {
    /// The referring affiliate.
    pub affiliate: AffiliateRow,
    /// The customer, when known (recurring rules count from its first payment).
    pub customer: Option<CustomerRow>,
    /// The order id or transaction key: the sale's identity within the program.
    pub order_id: Option<String>,
    /// SHA-256 of what the caller sent, to tell a replay from a different sale.
    pub request_hash: String,
    /// The sale.
    pub amount: Money,
    /// The product, for per-product rules.
    pub product_id: Option<String>,
}

/// What recording a sale did.
pub struct Recorded {
    /// The conversion.
    pub conversion: ConversionRow,
    /// Its commissions (sale and second tier).
    pub commissions: Vec<CommissionRow>,
    /// Whether this was a replay of a sale recorded before.
    pub replay: bool,
}

/// Why a sale of this affiliate earns nothing regardless of the rule.
fn status_blocks_earning(aff: &AffiliateRow) -> Option<String> {
    match aff.status.as_str() {
        "active" => None,
        other => Some(format!("affiliate_{other}")),
    }
}

/// The sale recorded before under `order_id`, answered as a replay, or a conflict when it
/// was recorded with other values (`request_hash`).
pub fn replay_of(
    c: &mut DbConn,
    program_id: &str,
    order_id: &str,
    request_hash: &str,
) -> Result<Recorded, ApiError> {
    let existing = store::find_by_order(c, program_id, order_id)?
        .ok_or_else(|| ApiError::internal("conversion vanished after a conflict"))?;
    if existing.request_hash != request_hash {
        return Err(ApiError::conflict(
            "A sale with this order id (or transaction key) was already recorded with other values",
        )
        .with_details(
            serde_json::json!({"field": "orderId", "issue": "already used for another sale"}),
        ));
    }
    let commissions = commission_store::of_conversion(c, &existing.id)?;
    Ok(Recorded {
        conversion: existing,
        commissions,
        replay: true,
    })
}

/// The affiliate as this sale sees it, and its earning conversions before this sale when
/// the price depends on them (a rule with tiers, for a sale that earns); else 0, and nothing
/// is locked.
fn affiliate_and_count(
    c: &mut DbConn,
    prog: &ProgramRow,
    rule: &CommissionRule,
    row: &AffiliateRow,
    first_payment_at: Option<i64>,
    now: i64,
    may_lock: bool,
) -> Result<Option<(AffiliateRow, u64)>, ApiError> {
    let may_earn = rule.payment_earns(first_payment_at.map(ms_to_datetime), ms_to_datetime(now));
    if rule.tiers.is_empty() || !may_earn || status_blocks_earning(row).is_some() {
        return Ok(Some((row.clone(), 0)));
    }
    if !may_lock {
        return Ok(None);
    }
    let count = stats_deltas::locked_conversion_count(c, &prog.id, &row.id)?;
    // Read again after the lock: a suspension committed meanwhile applies.
    let fresh = affiliate_store::find(c, &prog.id, &row.id)?
        .ok_or_else(|| ApiError::not_found("affiliate"))?;
    Ok(Some((fresh, count.max(0) as u64)))
}

/// Adds a change to the list, merged with an earlier one of the same affiliate and currency.
fn push_change(changes: &mut Vec<Change>, affiliate_id: &str, day: i64, currency: &str, d: Delta) {
    match changes
        .iter_mut()
        .find(|ch| ch.affiliate_id == affiliate_id && ch.currency == currency)
    {
        Some(ch) => ch.delta = ch.delta.plus(d),
        None => changes.push(Change {
            affiliate_id: affiliate_id.to_string(),
            day,
            currency: currency.to_string(),
            delta: d,
        }),
    }
}

/// Records a sale once and creates what it earns. Must run inside a transaction.
pub fn record_sale(
    c: &mut DbConn,
    prog: &ProgramRow,
    sale: NewSale,
    now: i64,
) -> Result<Recorded, ApiError> {
    record_sale_with(c, prog, sale, now, None)
}

/// [`record_sale`], with the program's enabled webhook endpoints (id, filter) when the
/// caller read them already in this transaction.
pub fn record_sale_with(
    c: &mut DbConn,
    prog: &ProgramRow,
    sale: NewSale,
    now: i64,
    endpoints: Option<&[(String, Option<String>)]>,
) -> Result<Recorded, ApiError> {
    let customer = sale.customer.clone();
    let order = sale.order_id.clone().unwrap_or_default();
    let request_hash = sale.request_hash.clone();
    let planned = plan_sale(c, prog, sale, now, endpoints, true)?
        .ok_or_else(|| ApiError::internal("a sale planned with its lock needs no other"))?;
    // Everything is known: write it, or find that the order id was taken (a replay).
    let inserted = match c {
        DbConn::Pg(pg) => {
            crate::db::sales::write_pg(pg, &[&planned])?.contains(&planned.conversion.id)
        }
        DbConn::Sqlite(_) => {
            let inserted = store::insert_new(c, &planned.conversion)?;
            if inserted {
                for cm in &planned.commissions {
                    commission_store::insert(c, cm)?;
                }
                stats_deltas::append(c, &prog.id, &planned.changes)?;
                events::write(c, &planned.events)?;
            }
            inserted
        }
    };
    if !inserted {
        return replay_of(c, &prog.id, &order, &request_hash);
    }
    if let Some(mut cu) = customer {
        if cu.first_payment_at.is_none() {
            cu.first_payment_at = Some(now);
            customer_store::update(c, &cu)?;
        }
    }
    Ok(recorded(planned))
}

/// A sale just written, as the caller answers it.
pub fn recorded(planned: SaleWrite) -> Recorded {
    Recorded {
        conversion: planned.conversion,
        commissions: planned.commissions,
        replay: false,
    }
}

/// Prices a sale and builds every row it writes, without writing: the conversion, its
/// commissions, its rollup deltas and its events. `may_lock` says whether the caller is in
/// a transaction that may lock the affiliate's row: a rule with tiers prices a sale by the
/// affiliate's earlier sales, counted under that lock; without it such a sale is not
/// planned (None), and the caller records it in a transaction ([`record_sale`]).
pub fn plan_sale(
    c: &mut DbConn,
    prog: &ProgramRow,
    sale: NewSale,
    now: i64,
    endpoints: Option<&[(String, Option<String>)]>,
    may_lock: bool,
) -> Result<Option<SaleWrite>, ApiError> {
    let rule = program::rule(prog)?;
    let first_payment_at = sale.customer.as_ref().and_then(|cu| cu.first_payment_at);
    let Some((aff, prior)) = affiliate_and_count(
        c,
        prog,
        &rule,
        &sale.affiliate,
        first_payment_at,
        now,
        may_lock,
    )?
    else {
        return Ok(None);
    };
    let pricing = rule.price(&Sale {
        amount: sale.amount,
        program_currency: program::currency(prog),
        product_id: sale.product_id.as_deref(),
        prior_conversions: prior,
        first_payment_at: first_payment_at.map(ms_to_datetime),
        paid_at: ms_to_datetime(now),
    });
    let blocked = status_blocks_earning(&aff);
    let no_commission_reason = if let Some(b) = &blocked {
        Some(b.clone())
    } else if !pricing.earns {
        Some("outside_recurring_window".to_string())
    } else if pricing.affiliate.minor == 0 {
        Some("zero_amount".to_string())
    } else {
        None
    };
    let row = ConversionRow {
        id: new_id(ConversionId::PREFIX),
        program_id: prog.id.clone(),
        affiliate_id: aff.id.clone(),
        customer_id: sale.customer.as_ref().map(|cu| cu.id.clone()),
        customer_key: sale.customer.as_ref().map(|cu| cu.customer_key.clone()),
        referral_code: aff.referral_code.clone(),
        order_id: sale.order_id.clone(),
        request_hash: sale.request_hash.clone(),
        amount_minor: sale.amount.minor,
        currency: sale.amount.currency.code().to_string(),
        refunded_minor: 0,
        status: ConversionStatus::Completed.as_str().to_string(),
        product_id: sale.product_id.clone(),
        no_commission_reason,
        created_at: now,
        updated_at: now,
    };
    let earns = blocked.is_none() && pricing.earns;
    let approved = prog.hold_days <= 0;
    let mut created = Vec::new();
    if earns && pricing.affiliate.minor > 0 {
        created.push(commissions::new_row(
            NewCommission {
                program_id: &prog.id,
                affiliate_id: &aff.id,
                conversion_id: Some(&row.id),
                order_id: row.order_id.as_deref(),
                kind: CommissionKind::Sale,
                dedupe_key: format!("sale:{}", row.id),
                request_hash: None,
                amount: pricing.affiliate,
                conversion_amount: Some(row.amount_minor),
                description: None,
                source_commission_id: None,
                approved,
            },
            now,
        ));
    }
    if let (true, Some(second), Some(parent_id)) = (
        earns,
        pricing.second_tier,
        aff.parent_affiliate_id.as_deref(),
    ) {
        let parent = affiliate_store::find(c, &prog.id, parent_id)?;
        if let Some(parent) = parent.filter(|p| p.status == "active") {
            created.push(commissions::new_row(
                NewCommission {
                    program_id: &prog.id,
                    affiliate_id: &parent.id,
                    conversion_id: Some(&row.id),
                    order_id: row.order_id.as_deref(),
                    kind: CommissionKind::SecondTier,
                    dedupe_key: format!("second:{}", row.id),
                    request_hash: None,
                    amount: second,
                    conversion_amount: Some(row.amount_minor),
                    description: Some(format!("Second tier of {}", aff.id)),
                    source_commission_id: None,
                    approved,
                },
                now,
            ));
        }
    }
    // The rollups and the affiliate's counter (a delta's `conversions` is both): the sale
    // and its commissions, one appended row per affiliate and currency.
    let day = rollups::day_of(now);
    let mut changes: Vec<Change> = Vec::with_capacity(2);
    push_change(
        &mut changes,
        &aff.id,
        day,
        &row.currency,
        Delta {
            conversions: i64::from(earns),
            revenue: row.amount_minor,
            ..Delta::default()
        },
    );
    for cm in &created {
        let d = Delta::status(&cm.status, cm.amount_minor);
        push_change(&mut changes, &cm.affiliate_id, day, &cm.currency, d);
    }
    let dto = to_dto(&row, &created);
    let mut batch: Vec<(&str, String)> = Vec::with_capacity(created.len() + 1);
    for cm in &created {
        let payload = serde_json::json!({"commission": commissions::to_dto(cm)});
        batch.push(("commission.created", payload.to_string()));
    }
    batch.push((
        "conversion.created",
        serde_json::json!({ "conversion": dto }).to_string(),
    ));
    let prepared = match endpoints {
        Some(eps) => events::prepare_with(&prog.id, &batch, now, eps),
        None => events::prepare(c, &prog.id, &batch, now)?,
    };
    Ok(Some(SaleWrite {
        conversion: row,
        commissions: created,
        changes,
        events: prepared,
    }))
}

/// The product that prices a conversion: the first line with a per-product rule, else the
/// first line.
pub fn pick_product(
    prog: &ProgramRow,
    products: Option<&[refgrow_types::api::ConversionProduct]>,
) -> Result<Option<String>, ApiError> {
    let Some(products) = products else {
        return Ok(None);
    };
    if products.len() > 100 {
        return Err(ApiError::invalid("products", "must have at most 100 lines"));
    }
    for (i, p) in products.iter().enumerate() {
        check_len(&format!("products[{i}].id"), &p.id, 1, 200)?;
    }
    let rule = program::rule(prog)?;
    Ok(products
        .iter()
        .find(|p| rule.products.contains_key(&p.id))
        .or(products.first())
        .map(|p| p.id.clone()))
}

/// The sale amount in its currency (the program's when none is given).
pub fn sale_money(
    amount: refgrow_types::Amount,
    currency: Option<Currency>,
    prog: &ProgramRow,
) -> Result<Money, ApiError> {
    let currency = currency.unwrap_or_else(|| program::currency(prog));
    Money::from_major(amount.value(), currency)
        .map_err(|e| ApiError::invalid("amount", e.to_string()))
}

/// The API view of a conversion with its commissions (the referring affiliate's is shown).
pub fn to_dto(row: &ConversionRow, comms: &[CommissionRow]) -> Conversion {
    let currency = Currency::parse(&row.currency).unwrap_or(Currency::USD);
    let sale_comm = comms
        .iter()
        .find(|cm| cm.kind == CommissionKind::Sale.as_str() && cm.affiliate_id == row.affiliate_id);
    let (commission, commission_currency) = match sale_comm {
        Some(cm) => {
            let cur = Currency::parse(&cm.currency).unwrap_or(currency);
            (Money::new(cm.amount_minor, cur).amount(), cur)
        }
        None => (Money::new(0, currency).amount(), currency),
    };
    Conversion {
        conversion_id: ConversionId::from_trusted(row.id.clone()),
        affiliate_id: AffiliateId::from_trusted(row.affiliate_id.clone()),
        referral_code: row.referral_code.clone(),
        amount: Money::new(row.amount_minor, currency).amount(),
        currency,
        commission,
        commission_currency,
        commission_id: sale_comm.map(|cm| CommissionId::from_trusted(cm.id.clone())),
        order_id: row.order_id.clone(),
        customer_key: row.customer_key.clone(),
        refunded_amount: Money::new(row.refunded_minor, currency).amount(),
        status: ConversionStatus::parse(&row.status).unwrap_or(ConversionStatus::Completed),
        no_commission_reason: row.no_commission_reason.clone(),
        timestamp: ms_to_datetime(row.created_at),
    }
}

/// A conversion of the program or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<ConversionRow, ApiError> {
    store::find(c, program_id, id)?.ok_or_else(|| ApiError::not_found("conversion"))
}
