//! The event log and webhook outbox. [`record`] must be called inside the transaction of the
//! change it describes: the event row and one delivery row per subscribed, enabled endpoint
//! commit or roll back with that change, so nothing is announced that did not happen and
//! nothing that happened goes unannounced.

use refgrow_types::EventId;
use serde::Serialize;

use crate::db::affiliates::AffiliateRow;
use crate::db::programs::ProgramRow;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::new_id;
use crate::services::affiliates;

/// Every event type the server emits.
pub const EVENT_TYPES: &[&str] = &[
    "affiliate.created",
    "affiliate.updated",
    "affiliate.joined",
    "invitation.created",
    "customer.created",
    "conversion.created",
    "commission.created",
    "commission.updated",
    "commission.reversed",
    "payout.created",
    "payout.paid",
];

/// Records an event and queues its deliveries. Returns the event id.
pub fn record<T: Serialize>(
    c: &mut DbConn,
    program_id: &str,
    event_type: &str,
    data: &T,
    now: i64,
) -> Result<String, ApiError> {
    let payload = serde_json::to_string(data).map_err(ApiError::internal)?;
    let mut ids = record_all(c, program_id, &[(event_type, payload)], now)?;
    ids.pop()
        .ok_or_else(|| ApiError::internal("no event recorded"))
}

/// Records several events of one change (in order) and queues their deliveries, reading the
/// program's endpoints once. Returns the event ids.
pub fn record_all(
    c: &mut DbConn,
    program_id: &str,
    batch: &[(&str, String)],
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let prepared = prepare(c, program_id, batch, now)?;
    write(c, &prepared)?;
    Ok(prepared.events.into_iter().map(|e| e.id).collect())
}

pub use crate::db::events::{write_prepared as write_rows, NewDelivery, NewEvent, Prepared};

/// Gives the events ids and reads which endpoints take them (one query); [`write()`] inserts
/// them, or the caller does with the rest of its change (the sale path on PostgreSQL).
pub fn prepare(
    c: &mut DbConn,
    program_id: &str,
    batch: &[(&str, String)],
    now: i64,
) -> Result<Prepared, ApiError> {
    let endpoints = crate::db::webhooks::enabled_filters(c, program_id)?;
    Ok(prepare_with(program_id, batch, now, &endpoints))
}

/// [`prepare`] with the program's enabled endpoints (id, filter) already read, in the same
/// transaction, by the caller.
pub fn prepare_with(
    program_id: &str,
    batch: &[(&str, String)],
    now: i64,
    endpoints: &[(String, Option<String>)],
) -> Prepared {
    let mut events = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::new();
    for (event_type, payload) in batch {
        let id = new_id(EventId::PREFIX);
        for (endpoint_id, filter) in endpoints {
            if subscribed(filter.as_deref(), event_type) {
                deliveries.push(NewDelivery {
                    id: new_id("del_"),
                    endpoint_id: endpoint_id.clone(),
                    event_id: id.clone(),
                });
            }
        }
        events.push(NewEvent {
            id,
            event_type: event_type.to_string(),
            payload: payload.clone(),
        });
    }
    Prepared {
        program_id: program_id.to_string(),
        now,
        events,
        deliveries,
    }
}

/// Inserts prepared events and their deliveries: one statement each, whatever their number.
pub fn write(c: &mut DbConn, p: &Prepared) -> Result<(), ApiError> {
    write_rows(c, p).map_err(ApiError::from)
}

/// Whether an endpoint's filter (a JSON array of types, or none for all) takes a type.
pub fn subscribed(filter: Option<&str>, event_type: &str) -> bool {
    match filter {
        None => true,
        Some(json) => serde_json::from_str::<Vec<String>>(json)
            .map(|types| types.iter().any(|t| t == event_type || t == "*"))
            .unwrap_or(true),
    }
}

/// Records `affiliate.created` / `affiliate.updated` / `affiliate.joined` with the affiliate.
pub fn affiliate_changed(
    c: &mut DbConn,
    prog: &ProgramRow,
    row: &AffiliateRow,
    event_type: &str,
    public_base: &str,
    now: i64,
) -> Result<(), ApiError> {
    let earnings = affiliates::earnings_for(
        c,
        std::slice::from_ref(&row.id),
        crate::services::program::currency(prog),
    )?
    .remove(&row.id)
    .unwrap_or_default();
    let mut row = row.clone();
    if let Some(n) =
        crate::db::stats_deltas::conversion_counts(c, &prog.id, &[row.id.clone()])?.remove(&row.id)
    {
        row.conversion_count = n;
    }
    let dto = affiliates::to_dto(&row, prog, earnings, public_base);
    record(
        c,
        &prog.id,
        event_type,
        &serde_json::json!({ "affiliate": dto }),
        now,
    )?;
    Ok(())
}
