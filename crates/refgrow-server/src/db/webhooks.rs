//! The `webhook_endpoints` and `webhook_deliveries` tables: the endpoints of a program and the
//! outbox of deliveries, one row per event and endpoint.
//!
//! A delivery is `pending` (never tried), `retrying` (tried, due again at `next_attempt_at`),
//! `delivered` (final) or `failed` (final until a manual retry). A sender claims a due row by
//! setting `locked_until` to the end of its lease; that value is also its claim token: the
//! result is written only `WHERE locked_until = token`, so a claim that expired and was taken
//! over cannot overwrite the newer one's result. On PostgreSQL the claim is one statement with
//! `FOR UPDATE SKIP LOCKED`, so several replicas share the outbox without sending a row twice
//! at once; on SQLite the same statement without the row locks is atomic under its single
//! writer.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::schema::{webhook_deliveries, webhook_endpoints};
use super::DbConn;

/// Stored status of a delivery never attempted.
pub const PENDING: &str = "pending";
/// Stored status of a delivery that failed and waits for its next attempt.
pub const RETRYING: &str = "retrying";
/// Stored status of a delivery the endpoint accepted.
pub const DELIVERED: &str = "delivered";
/// Stored status of a delivery whose every scheduled attempt failed.
pub const FAILED: &str = "failed";

/// A stored endpoint.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
pub struct EndpointRow {
    /// `we_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// Where deliveries go.
    pub url: String,
    /// A note.
    pub description: Option<String>,
    /// A JSON array of event types (`"*"` for all), or NULL for all.
    pub event_types: Option<String>,
    /// Whether deliveries are sent.
    pub enabled: bool,
    /// The signing secret, `whsec_…`.
    pub secret: String,
    /// The secret before the last rotation.
    pub previous_secret: Option<String>,
    /// Until when (ms) the previous secret signs too.
    pub previous_secret_expires_at: Option<i64>,
    /// Since when (ms) the endpoint has been failing.
    pub failing_since: Option<i64>,
    /// Created, ms.
    pub created_at: i64,
    /// Changed, ms.
    pub updated_at: i64,
    /// Failed attempts in a row.
    pub consecutive_failures: i32,
    /// The body shape of its deliveries: `standard` or `linkjolt`.
    pub payload_format: String,
}

/// A stored delivery.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub struct DeliveryRow {
    /// `del_…`.
    pub id: String,
    /// Its program.
    pub program_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The event.
    pub event_id: String,
    /// `pending`, `retrying`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    /// When due (ms).
    pub next_attempt_at: i64,
    /// The lease of the sender working on it (ms), if any.
    pub locked_until: Option<i64>,
    /// Last attempt (ms).
    pub last_attempt_at: Option<i64>,
    /// HTTP status of the last attempt.
    pub response_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Queued, ms.
    pub created_at: i64,
    /// Changed, ms.
    pub updated_at: i64,
}

// ---- endpoints --------------------------------------------------------------------------

/// Inserts an endpoint.
pub fn insert_endpoint(c: &mut DbConn, row: &EndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// An endpoint of the program.
pub fn find_endpoint(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .filter(webhook_endpoints::program_id.eq(program_id))
        .first(c)
        .optional()
}

/// Endpoints by id (callers pass ids they already scoped).
pub fn find_endpoints(c: &mut DbConn, ids: &[String]) -> QueryResult<Vec<EndpointRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    webhook_endpoints::table
        .filter(webhook_endpoints::id.eq_any(ids))
        .load(c)
}

/// A page of the program's endpoints, oldest first, and how many there are.
pub fn list_endpoints(
    c: &mut DbConn,
    program_id: &str,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<EndpointRow>, i64)> {
    let total = webhook_endpoints::table
        .filter(webhook_endpoints::program_id.eq(program_id))
        .count()
        .get_result(c)?;
    let rows = webhook_endpoints::table
        .filter(webhook_endpoints::program_id.eq(program_id))
        .order((
            webhook_endpoints::created_at.asc(),
            webhook_endpoints::id.asc(),
        ))
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .load(c)?;
    Ok((rows, total))
}

/// Saves what a PATCH or a rotation may change.
pub fn update_endpoint(c: &mut DbConn, row: &EndpointRow) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(&row.id))
        .set((
            webhook_endpoints::url.eq(&row.url),
            webhook_endpoints::description.eq(&row.description),
            webhook_endpoints::event_types.eq(&row.event_types),
            webhook_endpoints::enabled.eq(row.enabled),
            webhook_endpoints::secret.eq(&row.secret),
            webhook_endpoints::previous_secret.eq(&row.previous_secret),
            webhook_endpoints::previous_secret_expires_at.eq(row.previous_secret_expires_at),
            webhook_endpoints::updated_at.eq(row.updated_at),
            webhook_endpoints::payload_format.eq(&row.payload_format),
        ))
        .execute(c)
        .map(|_| ())
}

/// Deletes an endpoint and its deliveries (the events stay in the log).
pub fn delete_endpoint(c: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
        .execute(c)?;
    diesel::delete(webhook_endpoints::table.find(id)).execute(c)?;
    Ok(())
}

/// Clears the failure streak after a success.
pub fn endpoint_succeeded(c: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::consecutive_failures.ne(0)),
    )
    .set((
        webhook_endpoints::consecutive_failures.eq(0),
        webhook_endpoints::failing_since.eq(None::<i64>),
    ))
    .execute(c)
    .map(|_| ())
}

/// Counts a failed attempt; marks the endpoint failing once `threshold` attempts in a row
/// have failed. Returns whether it turned failing just now.
pub fn endpoint_failed(c: &mut DbConn, id: &str, threshold: i32, now: i64) -> QueryResult<bool> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(
            webhook_endpoints::consecutive_failures.eq(webhook_endpoints::consecutive_failures + 1),
        )
        .execute(c)?;
    let n = diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::failing_since.is_null())
            .filter(webhook_endpoints::consecutive_failures.ge(threshold)),
    )
    .set(webhook_endpoints::failing_since.eq(Some(now)))
    .execute(c)?;
    Ok(n > 0)
}

// ---- deliveries -------------------------------------------------------------------------

/// Inserts a delivery.
pub fn insert_delivery(c: &mut DbConn, row: &DeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// A delivery of an endpoint of the program.
pub fn find_delivery(
    c: &mut DbConn,
    program_id: &str,
    endpoint_id: &str,
    id: &str,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::program_id.eq(program_id))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .first(c)
        .optional()
}

/// Deliveries by id.
pub fn find_deliveries(c: &mut DbConn, ids: &[String]) -> QueryResult<Vec<DeliveryRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(ids))
        .load(c)
}

/// A page of an endpoint's deliveries, newest first, and how many match.
pub fn list_deliveries(
    c: &mut DbConn,
    endpoint_id: &str,
    status: Option<&str>,
    limit: u32,
    offset: u64,
) -> QueryResult<(Vec<DeliveryRow>, i64)> {
    let query = || {
        let mut q = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.to_string()))
            .into_boxed();
        if let Some(s) = status {
            q = q.filter(webhook_deliveries::status.eq(s.to_string()));
        }
        q
    };
    let total = query().count().get_result(c)?;
    let rows = query()
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(i64::from(limit))
        .offset(i64::try_from(offset).unwrap_or(i64::MAX))
        .load(c)?;
    Ok((rows, total))
}

/// Queues a delivery to be attempted now (a manual retry). A delivery being sent right now
/// keeps its lease; that attempt's result stands.
pub fn requeue(c: &mut DbConn, id: &str, now: i64) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(PENDING),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(c)
        .map(|_| ())
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = Text)]
    id: String,
}

const CLAIM_PG: &str = "UPDATE webhook_deliveries SET locked_until = $1 \
    WHERE id IN (SELECT d.id FROM webhook_deliveries d \
        JOIN webhook_endpoints e ON e.id = d.endpoint_id \
        WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= $2 \
          AND (d.locked_until IS NULL OR d.locked_until <= $2) AND e.enabled \
        ORDER BY d.next_attempt_at LIMIT $3 \
        FOR UPDATE OF d SKIP LOCKED) \
    RETURNING id";

const CLAIM_SQLITE: &str = "UPDATE webhook_deliveries SET locked_until = ? \
    WHERE id IN (SELECT d.id FROM webhook_deliveries d \
        JOIN webhook_endpoints e ON e.id = d.endpoint_id \
        WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= ? \
          AND (d.locked_until IS NULL OR d.locked_until <= ?) AND e.enabled \
        ORDER BY d.next_attempt_at LIMIT ?) \
    RETURNING id";

/// How many deliveries wait to be sent (`pending` or `retrying`): an indexed count
/// (`webhook_deliveries_due` leads with the status).
pub fn outbox_depth(c: &mut DbConn) -> QueryResult<i64> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq_any([PENDING, RETRYING]))
        .count()
        .get_result(c)
}

/// Claims up to `limit` due deliveries of enabled endpoints until `lease_until` (ms) and
/// returns them. `lease_until` is the claim's token for [`finish`].
pub fn claim_due(
    c: &mut DbConn,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let ids: Vec<ClaimedId> = match c {
        DbConn::Pg(pg) => diesel::sql_query(CLAIM_PG)
            .bind::<BigInt, _>(lease_until)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(limit)
            .load(pg)?,
        DbConn::Sqlite(lite) => diesel::sql_query(CLAIM_SQLITE)
            .bind::<BigInt, _>(lease_until)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(limit)
            .load(lite)?,
    };
    let ids: Vec<String> = ids.into_iter().map(|r| r.id).collect();
    find_deliveries(c, &ids)
}

/// The result of one attempt, to be written by [`finish`].
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// The delivery.
    pub delivery_id: String,
    /// The claim's token (`locked_until` as claimed).
    pub lease: i64,
    /// The new status: `delivered`, `retrying` or `failed`.
    pub status: &'static str,
    /// When attempted (ms).
    pub attempted_at: i64,
    /// When due again (ms), for `retrying`.
    pub next_attempt_at: Option<i64>,
    /// The HTTP status, when there was an answer.
    pub response_status: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Writes an attempt's result if the claim is still the sender's. Returns whether it was.
pub fn finish(c: &mut DbConn, r: &AttemptResult) -> QueryResult<bool> {
    let target = webhook_deliveries::table
        .find(&r.delivery_id)
        .filter(webhook_deliveries::locked_until.eq(r.lease));
    let common = (
        webhook_deliveries::status.eq(r.status),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::locked_until.eq(None::<i64>),
        webhook_deliveries::last_attempt_at.eq(Some(r.attempted_at)),
        webhook_deliveries::response_status.eq(r.response_status),
        webhook_deliveries::last_error.eq(&r.error),
        webhook_deliveries::updated_at.eq(r.attempted_at),
    );
    let n = match r.next_attempt_at {
        Some(next) => diesel::update(target)
            .set((common, webhook_deliveries::next_attempt_at.eq(next)))
            .execute(c)?,
        None => diesel::update(target).set(common).execute(c)?,
    };
    Ok(n > 0)
}

/// Gives up a claim without an attempt (a stopping process): the delivery is due again at
/// once for any sender, its attempts and schedule unchanged. Only if the claim is still
/// `lease`. Returns whether it was.
pub fn release(c: &mut DbConn, id: &str, lease: i64) -> QueryResult<bool> {
    let n = diesel::update(
        webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::locked_until.eq(lease)),
    )
    .set(webhook_deliveries::locked_until.eq(None::<i64>))
    .execute(c)?;
    Ok(n > 0)
}

/// The program's enabled endpoints: (id, event-type filter).
pub fn enabled_filters(
    c: &mut DbConn,
    program_id: &str,
) -> QueryResult<Vec<(String, Option<String>)>> {
    use super::schema::webhook_endpoints as we;
    super::direct!(c, |c| we::table
        .filter(we::program_id.eq(program_id))
        .filter(we::enabled.eq(true))
        .select((we::id, we::event_types))
        .load(c))
}
