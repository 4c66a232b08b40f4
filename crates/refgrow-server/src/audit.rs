//! The append-only audit log of every mutating call (POST, PUT, PATCH, DELETE): which key,
//! what action (method and route), which resource, the outcome, the request id and the time.
//!
//! Entries are made by the request middleware once the response is known and written in
//! batches by the same buffered-writer mechanism as clicks ([`crate::buffer`]), so auditing
//! adds no write transaction to the request path; a graceful stop writes what is buffered.
//! The buffer is bounded ([`MAX_HELD`]): while the database cannot take entries for that
//! long, further ones are dropped and counted (`refgrow_audit_dropped_total`), never the
//! calls they record. `GET /v1/audit-log` reads them back. Their ids come from
//! [`crate::idgen::new_id`] like every other id, and sort in the order they were made.

use std::time::Duration;

use serde_json::Value;

use crate::buffer::table::TableStore;
use crate::buffer::{Buffer, BufferCounters, BufferSettings, Row, StopReport};
use crate::db::Db;
use crate::error::ApiError;

/// The most entries held in memory before they are written.
pub const MAX_HELD: usize = 200_000;
/// The flusher does not wait for its interval once this many entries wait.
const FLUSH_AT: usize = 5_000;

/// An entry waiting to be written (the row lives in [`crate::db::audit`]).
pub use crate::db::audit::AuditRow;

/// A new entry id: `aud_…`, sortable like every id ([`crate::idgen::new_id`]).
pub fn new_id() -> String {
    crate::idgen::new_id("aud_")
}

impl Row for AuditRow {
    fn key(&self) -> &str {
        &self.id
    }
}

/// The audit log table as the buffer's store.
fn store(db: &Db) -> TableStore<AuditRow> {
    TableStore::new(db.clone(), crate::db::audit::insert_batch)
}

/// The buffer; clones share it.
#[derive(Clone)]
pub struct AuditBuffer {
    buffer: Buffer<AuditRow>,
}

impl AuditBuffer {
    /// An empty buffer counting into `counters`.
    pub fn new(counters: BufferCounters) -> Self {
        AuditBuffer {
            buffer: Buffer::new(
                BufferSettings {
                    name: "audit entries",
                    max_held: MAX_HELD,
                    flush_at: Some(FLUSH_AT),
                },
                None,
                counters,
            ),
        }
    }

    /// Queues an entry; when the buffer is full it is dropped, counted and logged.
    pub fn push(&self, row: AuditRow) {
        if self.buffer.push(row).is_err() {
            self.buffer
                .counters()
                .dropped
                .with_label_values(&["buffer_full"])
                .inc();
            log::error!("the audit buffer is full ({MAX_HELD} entries): an entry was dropped");
        }
    }

    /// How many entries wait.
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The counters.
    pub fn counters(&self) -> &BufferCounters {
        self.buffer.counters()
    }

    /// Writes every waiting entry now.
    pub async fn flush(&self, db: &Db) -> Result<usize, ApiError> {
        self.buffer.flush(&store(db)).await
    }

    /// The graceful stop: writes what is held, retrying until `timeout`.
    pub async fn stop(&self, db: &Db, timeout: Duration) -> StopReport {
        self.buffer.stop(&store(db), timeout).await
    }
}

/// Writes the buffer every `every` (sooner when many entries wait) until the process stops.
pub fn spawn_flusher(buffer: AuditBuffer, db: Db, every: Duration) {
    crate::buffer::spawn_flusher(buffer.buffer, store(&db), every, |e: &ApiError| {
        // The outage is logged once, by the database's circuit breaker.
        if !e.is_db_down() {
            log::warn!("writing the audit log failed, will retry: {e}");
        }
    });
}

/// The id of the resource a response body is about: `data.id`, a top-level `…Id` of
/// `data`, or the `id` of the first object inside `data` (`{"affiliate": {"id": …}}`).
pub fn resource_id_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let data = v.get("data")?.as_object()?;
    if let Some(id) = data.get("id").and_then(Value::as_str) {
        return Some(id.to_string());
    }
    for key in ["conversionId", "clickId", "eventId"] {
        if let Some(id) = data.get(key).and_then(Value::as_str) {
            return Some(id.to_string());
        }
    }
    data.values().find_map(|v| match v {
        Value::Object(o) => o
            .get("id")
            .or_else(|| o.get("conversionId"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_resource_of_a_response() {
        let id = |s: &str| resource_id_of(s.as_bytes());
        assert_eq!(
            id(r#"{"success":true,"data":{"affiliate":{"id":"aff_1"}}}"#).as_deref(),
            Some("aff_1")
        );
        assert_eq!(
            id(r#"{"success":true,"data":{"conversionId":"conv_1"}}"#).as_deref(),
            Some("conv_1")
        );
        assert_eq!(
            id(r#"{"success":true,"data":{"id":"po_1"}}"#).as_deref(),
            Some("po_1")
        );
        assert_eq!(id("not json"), None);
    }
}
