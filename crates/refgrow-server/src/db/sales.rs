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
use serde::Serialize;

use super::commissions::CommissionRow;
use super::conversions::ConversionRow;
use super::events::Prepared;
use super::rollups::Delta;
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
  SELECT d.program_id, d.affiliate_id, d.day, d.currency, sum(d.clicks)::bigint,
    sum(d.signups)::bigint, sum(d.conversions)::bigint, sum(d.revenue_minor)::bigint,
    sum(d.refunded_minor)::bigint, sum(d.pending_minor)::bigint,
    sum(d.approved_minor)::bigint, sum(d.paid_minor)::bigint, sum(d.reversed_minor)::bigint
  FROM jsonb_array_elements($3::jsonb) x,
    LATERAL jsonb_populate_record(NULL::stats_deltas, x) d
  WHERE x->>'sale' IN (SELECT id FROM conv)
  GROUP BY d.program_id, d.affiliate_id, d.day, d.currency
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

/// A rollup delta of a sale, named by its sale: the statement sums the deltas of the sales
/// it inserts by (affiliate, day, currency), so a batch of sales of one affiliate writes one.
#[derive(Serialize)]
struct DeltaArg<'a> {
    sale: &'a str,
    program_id: &'a str,
    affiliate_id: &'a str,
    day: i64,
    currency: &'a str,
    #[serde(flatten)]
    delta: Delta,
}

/// An event of a sale, named by its sale.
#[derive(Serialize)]
struct EventArg<'a> {
    sale: &'a str,
    id: &'a str,
    program_id: &'a str,
    event_type: &'a str,
    payload: &'a str,
    created_at: i64,
}

/// A delivery of an event (pending, due now).
#[derive(Serialize)]
struct DeliveryArg<'a> {
    id: &'a str,
    program_id: &'a str,
    endpoint_id: &'a str,
    event_id: &'a str,
    status: &'static str,
    attempts: i32,
    next_attempt_at: i64,
    created_at: i64,
    updated_at: i64,
}

fn to_json<T: Serialize>(rows: &[T]) -> QueryResult<String> {
    serde_json::to_string(rows).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
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
        convs.push(conversion);
        comms.extend(sale.commissions.iter());
        deltas.extend(sale.changes.iter().map(|ch| DeltaArg {
            sale: sale_id,
            program_id,
            affiliate_id: &ch.affiliate_id,
            day: ch.day,
            currency: &ch.currency,
            delta: ch.delta,
        }));
        let events = &sale.events;
        evs.extend(events.events.iter().map(|e| EventArg {
            sale: sale_id,
            id: &e.id,
            program_id: &events.program_id,
            event_type: &e.event_type,
            payload: &e.payload,
            created_at: events.now,
        }));
        dels.extend(events.deliveries.iter().map(|d| DeliveryArg {
            id: &d.id,
            program_id: &events.program_id,
            endpoint_id: &d.endpoint_id,
            event_id: &d.event_id,
            status: "pending",
            attempts: 0,
            next_attempt_at: events.now,
            created_at: events.now,
            updated_at: events.now,
        }));
    }
    let q = WriteSale {
        args: [
            to_json(&convs)?,
            to_json(&comms)?,
            to_json(&deltas)?,
            to_json(&evs)?,
            to_json(&dels)?,
        ],
    };
    q.load(c)
}
