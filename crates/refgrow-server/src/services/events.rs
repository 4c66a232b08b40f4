//! The event log and webhook outbox. [`record`] must be called inside the transaction of the
//! change it describes: the event row and one delivery row per subscribed, enabled endpoint
//! commit or roll back with that change, so nothing is announced that did not happen and
//! nothing that happened goes unannounced.

use diesel::prelude::*;
use refgrow_types::EventId;
use serde::Serialize;

use crate::db::affiliates::AffiliateRow;
use crate::db::programs::ProgramRow;
use crate::db::schema::{events, webhook_deliveries, webhook_endpoints};
use crate::db::{direct, DbConn};
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
    let endpoints: Vec<(String, Option<String>)> = direct!(c, |c| webhook_endpoints::table
        .filter(webhook_endpoints::program_id.eq(program_id))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((webhook_endpoints::id, webhook_endpoints::event_types))
        .load(c))?;
    // One statement for the events and one for their deliveries, whatever their number.
    let ids: Vec<String> = batch.iter().map(|_| new_id(EventId::PREFIX)).collect();
    let event_rows: Vec<_> = batch
        .iter()
        .zip(&ids)
        .map(|((event_type, payload), id)| {
            (
                events::id.eq(id.as_str()),
                events::program_id.eq(program_id),
                events::event_type.eq(*event_type),
                events::payload.eq(payload.as_str()),
                events::created_at.eq(now),
            )
        })
        .collect();
    if !event_rows.is_empty() {
        direct!(c, |c| diesel::insert_into(events::table)
            .values(&event_rows)
            .execute(c))?;
    }
    let mut deliveries = Vec::new();
    for ((event_type, _), id) in batch.iter().zip(&ids) {
        for (endpoint_id, filter) in &endpoints {
            if !subscribed(filter.as_deref(), event_type) {
                continue;
            }
            deliveries.push((
                webhook_deliveries::id.eq(new_id("del_")),
                webhook_deliveries::program_id.eq(program_id),
                webhook_deliveries::endpoint_id.eq(endpoint_id.as_str()),
                webhook_deliveries::event_id.eq(id.as_str()),
                webhook_deliveries::status.eq("pending"),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::created_at.eq(now),
                webhook_deliveries::updated_at.eq(now),
            ));
        }
    }
    if !deliveries.is_empty() {
        direct!(c, |c| diesel::insert_into(webhook_deliveries::table)
            .values(&deliveries)
            .execute(c))?;
    }
    Ok(ids)
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
    if let Some(n) = crate::db::stats_deltas::conversion_counts(c, &prog.id, &[row.id.clone()])?
        .remove(&row.id)
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
