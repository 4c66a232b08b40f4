//! The append-only audit log of every mutating call (POST, PUT, PATCH, DELETE): which key,
//! what action (method and route), which resource, the outcome, the request id and the time.
//!
//! Entries are made by the request middleware once the response is known, buffered, and
//! written in batches by a background task (like clicks), so auditing adds no write
//! transaction to the request path; a graceful stop writes what is buffered. `GET
//! /v1/audit-log` reads them back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_log;
use crate::db::{Db, DbConn};
use crate::error::ApiError;

/// An entry waiting to be written.
#[derive(Debug, Clone, Insertable, Queryable)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct AuditRow {
    /// `aud_…`.
    pub id: String,
    /// The program of the key.
    pub program_id: String,
    /// The key that made the call (None for token-authenticated calls).
    pub key_id: Option<String>,
    /// HTTP method.
    pub method: String,
    /// The request path.
    pub path: String,
    /// `METHOD /route/{pattern}`.
    pub action: String,
    /// The resource acted on, when known.
    pub resource_id: Option<String>,
    /// The response status.
    pub status: i32,
    /// The request id.
    pub request_id: String,
    /// When, ms.
    pub created_at: i64,
}

static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An id that sorts in the order entries were made (within a process): `aud_`, the time in
/// ms, a sequence number and random characters.
pub fn sortable_id(now_ms: i64) -> String {
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
    format!(
        "aud_{:013}{:06}{}",
        now_ms.max(0),
        seq,
        crate::idgen::random_base62(6)
    )
}

/// The buffer; clones share it.
#[derive(Clone, Default)]
pub struct AuditBuffer {
    pending: Arc<Mutex<Vec<AuditRow>>>,
    flush_lock: Arc<tokio::sync::Mutex<()>>,
}

impl AuditBuffer {
    /// Queues an entry.
    pub fn push(&self, row: AuditRow) {
        match self.pending.lock() {
            Ok(mut p) => p.push(row),
            Err(poisoned) => poisoned.into_inner().push(row),
        }
    }

    /// How many entries wait.
    pub fn len(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every waiting entry now.
    pub async fn flush(&self, db: &Db) -> Result<usize, ApiError> {
        let _guard = self.flush_lock.lock().await;
        let batch = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Err(ApiError::internal("audit buffer poisoned")),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let n = batch.len();
        let result = db
            .write({
                let batch = batch.clone();
                move |c| Ok(write_batch(c, &batch)?)
            })
            .await;
        if let Err(e) = result {
            if let Ok(mut p) = self.pending.lock() {
                let newer = std::mem::take(&mut *p);
                *p = batch;
                p.extend(newer);
            }
            return Err(e);
        }
        Ok(n)
    }
}

fn write_batch(c: &mut DbConn, batch: &[AuditRow]) -> QueryResult<()> {
    // Multi-row inserts (a statement per row was a round trip per audited request on
    // PostgreSQL); 500 rows of 10 columns stay far below either backend's bind limit.
    c.transaction(|c| {
        for chunk in batch.chunks(500) {
            crate::db::direct!(c, |c| diesel::insert_into(audit_log::table)
                .values(chunk)
                .execute(c))?;
        }
        Ok(())
    })
}

/// Writes the buffer every `every` until the process stops.
pub fn spawn_flusher(buffer: AuditBuffer, db: Db, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match buffer.flush(&db).await {
                Ok(_) => {}
                // The outage is logged once, by the database's circuit breaker.
                Err(e) if e.is_db_down() => {}
                Err(e) => log::warn!("writing the audit log failed, will retry: {e}"),
            }
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
