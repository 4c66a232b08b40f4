//! The `events` table: the event log, written by [`crate::services::events::record`] in the
//! transaction of the change it describes.

use diesel::prelude::*;

use super::schema::{events, webhook_deliveries};
use super::DbConn;

/// A stored event.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventRow {
    /// `evt_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// `conversion.created`, …
    pub event_type: String,
    /// The event's object, JSON.
    pub payload: String,
    /// When it happened, ms.
    pub created_at: i64,
}

/// Filters of the event log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this type.
    pub event_type: Option<String>,
    /// Created at or after (ms).
    pub from: Option<i64>,
    /// Created before (ms).
    pub to: Option<i64>,
}

/// Inserts an event.
pub fn insert(c: &mut DbConn, row: &EventRow) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// An event of the program.
pub fn find(c: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<EventRow>> {
    events::table
        .find(id)
        .filter(events::program_id.eq(program_id))
        .first(c)
        .optional()
}

/// Events by id (any program: callers pass ids they already scoped).
pub fn find_many(c: &mut DbConn, ids: &[String]) -> QueryResult<Vec<EventRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    events::table.filter(events::id.eq_any(ids)).load(c)
}

/// A page of the program's events, newest first, and how many match.
pub fn list(
    c: &mut DbConn,
    program_id: &str,
    filter: &Filter,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<EventRow>, i64)> {
    let query = || {
        let mut q = events::table
            .filter(events::program_id.eq(program_id.to_string()))
            .into_boxed();
        if let Some(t) = &filter.event_type {
            q = q.filter(events::event_type.eq(t.clone()));
        }
        if let Some(from) = filter.from {
            q = q.filter(events::created_at.ge(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(events::created_at.lt(to));
        }
        q
    };
    let total = query().count().get_result(c)?;
    let rows = query()
        .order((events::created_at.desc(), events::id.desc()))
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .load(c)?;
    Ok((rows, total))
}

/// An event row to insert.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `evt_…`.
    pub id: String,
    /// Its type.
    pub event_type: String,
    /// Its object, JSON.
    pub payload: String,
}

/// A delivery row to insert (pending, due now).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// `del_…`.
    pub id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event.
    pub event_id: String,
}

/// Events of one change and their deliveries, with ids, not written yet.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The program.
    pub program_id: String,
    /// When, ms.
    pub now: i64,
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// One per event and subscribed, enabled endpoint.
    pub deliveries: Vec<NewDelivery>,
}

/// Inserts prepared events and their deliveries: one statement each, whatever their number.
pub fn write_prepared(c: &mut DbConn, p: &Prepared) -> QueryResult<()> {
    let (program_id, now) = (p.program_id.as_str(), p.now);
    let event_rows: Vec<_> = p
        .events
        .iter()
        .map(|e| {
            (
                events::id.eq(e.id.as_str()),
                events::program_id.eq(program_id),
                events::event_type.eq(e.event_type.as_str()),
                events::payload.eq(e.payload.as_str()),
                events::created_at.eq(now),
            )
        })
        .collect();
    if !event_rows.is_empty() {
        super::insert_all!(c, events::table, &event_rows)?;
    }
    let deliveries: Vec<_> = p
        .deliveries
        .iter()
        .map(|d| {
            (
                webhook_deliveries::id.eq(d.id.as_str()),
                webhook_deliveries::program_id.eq(program_id),
                webhook_deliveries::endpoint_id.eq(d.endpoint_id.as_str()),
                webhook_deliveries::event_id.eq(d.event_id.as_str()),
                webhook_deliveries::status.eq("pending"),
                webhook_deliveries::attempts.eq(0),
                webhook_deliveries::next_attempt_at.eq(now),
                webhook_deliveries::created_at.eq(now),
                webhook_deliveries::updated_at.eq(now),
            )
        })
        .collect();
    if !deliveries.is_empty() {
        super::insert_all!(c, webhook_deliveries::table, &deliveries)?;
    }
    Ok(())
}
