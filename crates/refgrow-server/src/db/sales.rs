//! A whole sale written in one statement on PostgreSQL: the conversion (unless its order id
//! is taken), its commissions, its rollup deltas, its events and their deliveries.
//!
//! Each of those was its own round trip to the server, and on a small machine a sale's cost
//! is mostly round trips (two context switches and a protocol exchange each): one
//! data-modifying `WITH` statement does them all, the rows passed as JSON arrays and
//! expanded by `jsonb_populate_recordset`. Every insert but the conversion's is guarded by
//! the conversion's `RETURNING`: when the order id is taken (`ON CONFLICT DO NOTHING`), the
//! statement inserts nothing and counts 0, and the caller answers a replay. Columns
//! are named, so columns added later take their defaults. SQLite runs the same inserts one
//! by one (they are function calls there, not round trips).

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::{json, Value};

use super::commissions::CommissionRow;
use super::conversions::ConversionRow;
use super::events::Prepared;
use super::stats_deltas::Change;

const WRITE_SALES: &str = "\
WITH conv AS (
  INSERT INTO conversions (id, program_id, affiliate_id, customer_id, customer_key,
    referral_code, order_id, request_hash, amount_minor, currency, refunded_minor, status,
    product_id, no_commission_reason, created_at, updated_at)
  SELECT id, program_id, affiliate_id, customer_id, customer_key, referral_code, order_id,
    request_hash, amount_minor, currency, refunded_minor, status, product_id,
    no_commission_reason, created_at, updated_at
  FROM jsonb_populate_recordset(NULL::conversions, $1::jsonb)
  ORDER BY program_id, order_id, id
  ON CONFLICT DO NOTHING
  RETURNING id
), comm AS (
  INSERT INTO commissions (id, program_id, affiliate_id, conversion_id, order_id, kind,
    dedupe_key, request_hash, amount_minor, original_minor, currency, status,
    conversion_amount_minor, description, payout_id, on_hold, reason, source_commission_id,
    created_at, updated_at, approved_at, paid_at, reversed_at)
  SELECT id, program_id, affiliate_id, conversion_id, order_id, kind, dedupe_key,
    request_hash, amount_minor, original_minor, currency, status, conversion_amount_minor,
    description, payout_id, on_hold, reason, source_commission_id, created_at, updated_at,
    approved_at, paid_at, reversed_at
  FROM jsonb_populate_recordset(NULL::commissions, $2::jsonb)
  WHERE conversion_id IN (SELECT id FROM conv)
), deltas AS (
  INSERT INTO stats_deltas (program_id, affiliate_id, day, currency, clicks, signups,
    conversions, revenue_minor, refunded_minor, pending_minor, approved_minor, paid_minor,
    reversed_minor)
  SELECT d.program_id, d.affiliate_id, d.day, d.currency, d.clicks, d.signups, d.conversions,
    d.revenue_minor, d.refunded_minor, d.pending_minor, d.approved_minor, d.paid_minor,
    d.reversed_minor
  FROM jsonb_array_elements($3::jsonb) x,
    LATERAL jsonb_populate_record(NULL::stats_deltas, x) d
  WHERE x->>'sale' IN (SELECT id FROM conv)
), ev AS (
  INSERT INTO events (id, program_id, event_type, payload, created_at)
  SELECT e.id, e.program_id, e.event_type, e.payload, e.created_at
  FROM jsonb_array_elements($4::jsonb) x,
    LATERAL jsonb_populate_record(NULL::events, x) e
  WHERE x->>'sale' IN (SELECT id FROM conv)
  RETURNING id
), dl AS (
  INSERT INTO webhook_deliveries (id, program_id, endpoint_id, event_id, status, attempts,
    next_attempt_at, created_at, updated_at)
  SELECT d.id, d.program_id, d.endpoint_id, d.event_id, d.status, d.attempts,
    d.next_attempt_at, d.created_at, d.updated_at
  FROM jsonb_populate_recordset(NULL::webhook_deliveries, $5::jsonb) d
  WHERE d.event_id IN (SELECT id FROM ev)
)
SELECT id FROM conv";

/// The statement with its five JSON arguments. Its SQL never changes, so diesel prepares it
/// once per connection and keeps it (a `sql_query` would be parsed and planned by the
/// server on every sale).
struct WriteSale {
    args: [String; 5],
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for WriteSale {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        // `$n` in the text is the n-th argument; each appears once, in order.
        let mut rest = WRITE_SALES;
        let mut next = 0;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let arg = self
                .args
                .get(next)
                .ok_or_else(|| diesel::result::Error::QueryBuilderError("too many $".into()))?;
            out.push_bind_param::<Text, _>(arg)?;
            next += 1;
            rest = &rest[at + 2..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// No static id: diesel keys the prepared statement by its SQL text, which is fixed.
impl diesel::query_builder::QueryId for WriteSale {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for WriteSale {
    type SqlType = Text;
}

impl RunQueryDsl<PgConnection> for WriteSale {}

fn conversion_json(r: &ConversionRow) -> Value {
    json!({
        "id": r.id, "program_id": r.program_id, "affiliate_id": r.affiliate_id,
        "customer_id": r.customer_id, "customer_key": r.customer_key,
        "referral_code": r.referral_code, "order_id": r.order_id,
        "request_hash": r.request_hash, "amount_minor": r.amount_minor,
        "currency": r.currency, "refunded_minor": r.refunded_minor, "status": r.status,
        "product_id": r.product_id, "no_commission_reason": r.no_commission_reason,
        "created_at": r.created_at, "updated_at": r.updated_at,
    })
}

fn commission_json(r: &CommissionRow) -> Value {
    json!({
        "id": r.id, "program_id": r.program_id, "affiliate_id": r.affiliate_id,
        "conversion_id": r.conversion_id, "order_id": r.order_id, "kind": r.kind,
        "dedupe_key": r.dedupe_key, "request_hash": r.request_hash,
        "amount_minor": r.amount_minor, "original_minor": r.original_minor,
        "currency": r.currency, "status": r.status,
        "conversion_amount_minor": r.conversion_amount_minor, "description": r.description,
        "payout_id": r.payout_id, "on_hold": r.on_hold, "reason": r.reason,
        "source_commission_id": r.source_commission_id, "created_at": r.created_at,
        "updated_at": r.updated_at, "approved_at": r.approved_at, "paid_at": r.paid_at,
        "reversed_at": r.reversed_at,
    })
}

fn change_json(program_id: &str, ch: &Change) -> Value {
    let d = ch.delta;
    json!({
        "program_id": program_id, "affiliate_id": ch.affiliate_id, "day": ch.day,
        "currency": ch.currency, "clicks": d.clicks, "signups": d.signups,
        "conversions": d.conversions, "revenue_minor": d.revenue,
        "refunded_minor": d.refunded, "pending_minor": d.pending,
        "approved_minor": d.approved, "paid_minor": d.paid, "reversed_minor": d.reversed,
    })
}

/// Everything one sale writes, computed before it is written.
#[derive(Debug)]
pub struct SaleWrite {
    /// The conversion.
    pub conversion: ConversionRow,
    /// Its commissions.
    pub commissions: Vec<CommissionRow>,
    /// Its rollup deltas.
    pub changes: Vec<Change>,
    /// Its events and their deliveries.
    pub events: Prepared,
}

/// Writes sales in one statement (see the module): each sale whose conversion was inserted
/// is written whole, each whose order id was taken not at all. Returns the ids of the
/// conversions inserted. A single statement is atomic: outside a transaction it commits
/// (or fails) as one.
pub fn write_pg(c: &mut PgConnection, sales: &[&SaleWrite]) -> QueryResult<Vec<String>> {
    let mut convs = Vec::with_capacity(sales.len());
    let mut comms = Vec::new();
    let mut deltas = Vec::new();
    let mut evs = Vec::new();
    let mut dels = Vec::new();
    for sale in sales {
        let conversion = &sale.conversion;
        let sale_id = conversion.id.as_str();
        let program_id = conversion.program_id.as_str();
        convs.push(conversion_json(conversion));
        comms.extend(sale.commissions.iter().map(commission_json));
        deltas.extend(sale.changes.iter().map(|ch| {
            let mut v = change_json(program_id, ch);
            v["sale"] = json!(sale_id);
            v
        }));
        let events = &sale.events;
        evs.extend(events.events.iter().map(|e| {
            json!({"id": e.id, "program_id": events.program_id, "event_type": e.event_type,
                   "payload": e.payload, "created_at": events.now, "sale": sale_id})
        }));
        dels.extend(events.deliveries.iter().map(|d| {
            json!({"id": d.id, "program_id": events.program_id, "endpoint_id": d.endpoint_id,
                   "event_id": d.event_id, "status": "pending", "attempts": 0,
                   "next_attempt_at": events.now, "created_at": events.now,
                   "updated_at": events.now})
        }));
    }
    let q = WriteSale {
        args: [
            Value::Array(convs).to_string(),
            Value::Array(comms).to_string(),
            Value::Array(deltas).to_string(),
            Value::Array(evs).to_string(),
            Value::Array(dels).to_string(),
        ],
    };
    q.load(c)
}
