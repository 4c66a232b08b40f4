//! The webhook delivery worker: it drains the outbox (`webhook_deliveries`) that
//! [`crate::services::events::record`] fills inside the transactions of the changes.
//!
//! - Every `webhook_poll_ms` (at once while there is a backlog) it claims due deliveries of
//!   enabled endpoints with a lease (see [`crate::db::webhooks`]), as many as it has free
//!   sending slots (`webhook_concurrency`), so no delivery is sent twice at the same time,
//!   even by several replicas on one PostgreSQL.
//! - Each is POSTed with the Standard Webhooks headers, signed with the endpoint's secret (and
//!   its previous secret during a rotation's grace period). Redirects are not followed: a 3xx
//!   is a failure like any non-2xx answer, a timeout or a refused connection. A failure is
//!   recorded as its status line alone, never the receiver's answer. Only public addresses
//!   are reached unless `REFGROW_WEBHOOK_ALLOW_PRIVATE` (see [`crate::netguard`]).
//! - A 2xx marks it `delivered`; it is never sent again. Otherwise it is `retrying` at
//!   `now + backoff` (base × 1, 6, 24, 120, 360, 720, 1440, 2880, then 5760; plus up to 20%
//!   jitter), until `webhook_max_attempts` attempts have failed: then `failed`. With the
//!   defaults (5 s, 12 attempts) that is about 31 hours of retries.
//! - After [`FAILING_AFTER`] failed attempts in a row an endpoint is marked failing
//!   (`failingSince`, and a warning in the log); it keeps being retried, and the next success
//!   clears the mark.
//!
//! Every state lives in the database, so a restart loses nothing: a delivery claimed by a
//! process that died is taken up again when its lease ends. Results are written in batches,
//! each only if the claim is still the worker's. Delivery is at least once: a receiver that
//! answered 2xx but whose answer was lost may see an event again, with the same `webhook-id`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use refgrow_types::webhook::{sign, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use tokio::sync::{mpsc, Semaphore};

use crate::db::events as event_store;
use crate::db::webhooks::{self as store, AttemptResult, DeliveryRow, EndpointRow};
use crate::error::ApiError;
use crate::services::webhooks::body_of;
use crate::state::AppState;
use refgrow_types::api::PayloadFormat;

/// Failed attempts in a row after which an endpoint is marked failing.
pub const FAILING_AFTER: i32 = 5;
/// Multiples of the base delay before the 1st, 2nd, … retry; the last repeats.
pub const SCHEDULE: [u64; 9] = [1, 6, 24, 120, 360, 720, 1440, 2880, 5760];
/// The longest stored error text.
const MAX_ERROR_LEN: usize = 500;
/// How much of a response body is read (and dropped) so the connection can be reused.
const MAX_BODY_READ: usize = 64 * 1024;
/// The `User-Agent` of deliveries.
pub const USER_AGENT: &str = concat!("Refgrow-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The delay before the retry that follows `failed_attempts` failures (1-based), without
/// jitter.
pub fn backoff_ms(base_ms: u64, failed_attempts: u32) -> u64 {
    let i = (failed_attempts.max(1) as usize - 1).min(SCHEDULE.len() - 1);
    base_ms.saturating_mul(SCHEDULE[i])
}

/// The backoff plus up to 20% random jitter (never less than the backoff).
fn backoff_with_jitter(base_ms: u64, failed_attempts: u32) -> i64 {
    let d = backoff_ms(base_ms, failed_attempts);
    let jitter = rand::rng().random_range(0..=d / 5);
    i64::try_from(d.saturating_add(jitter)).unwrap_or(i64::MAX)
}

/// One claimed delivery with what is needed to send it.
struct Job {
    delivery: DeliveryRow,
    lease: i64,
    event_id: String,
    body: Vec<u8>,
    url: String,
    secrets: Vec<String>,
}

/// What the worker needs from the settings.
#[derive(Clone)]
struct Settings {
    poll: Duration,
    base_ms: u64,
    max_attempts: u32,
    lease_ms: i64,
    concurrency: usize,
    allow_private: bool,
}

/// Stops the worker gracefully (see [`Deliveries::stop`]); clones share it.
#[derive(Clone, Default)]
pub struct Deliveries {
    stopping: Arc<AtomicBool>,
    /// Held while claiming and registering, so a stop sees every claim.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Claimed and not yet recorded: delivery id → lease.
    in_flight: Arc<Mutex<HashMap<String, i64>>>,
}

/// What a graceful stop did with the deliveries in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveriesStopped {
    /// Attempts that finished and were recorded during the stop.
    pub finished: usize,
    /// Claims given back, due again at once.
    pub released: usize,
    /// Claims that could be neither (retried when their lease ends).
    pub stuck: usize,
}

impl Deliveries {
    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many deliveries are being sent or recorded.
    pub fn in_flight_count(&self) -> usize {
        self.in_flight().len()
    }

    /// Stops claiming, lets the attempts in flight finish and be recorded until `timeout`,
    /// then gives the remaining claims back so they are due again at once (instead of
    /// after their lease, when the receiver may have answered long ago). Logged.
    pub async fn stop(&self, state: &AppState, timeout: Duration) -> DeliveriesStopped {
        self.stopping.store(true, Ordering::SeqCst);
        let started = Instant::now();
        // A claim in progress registers its deliveries before this returns.
        let _ = tokio::time::timeout(timeout, self.gate.lock()).await;
        let at_start = self.in_flight_count();
        while self.in_flight_count() > 0 && started.elapsed() < timeout {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left: Vec<(String, i64)> = self.in_flight().drain().collect();
        let mut report = DeliveriesStopped {
            finished: at_start.saturating_sub(left.len()),
            ..Default::default()
        };
        if !left.is_empty() {
            let n = left.len();
            let released = tokio::time::timeout(
                Duration::from_secs(5),
                state.db.write(move |c| {
                    let mut released = 0;
                    for (id, lease) in &left {
                        if store::release(c, id, *lease)? {
                            released += 1;
                        }
                    }
                    Ok(released)
                }),
            )
            .await
            .unwrap_or_else(|_| Err(ApiError::unavailable("releasing claims timed out")));
            match released {
                Ok(r) => {
                    report.released = r;
                    report.stuck = n - r;
                }
                Err(e) => {
                    log::error!("webhooks: could not release {n} claims: {e}");
                    report.stuck = n;
                }
            }
        }
        if at_start > 0 {
            log::info!(
                "webhooks: stopping: {} deliveries finished, {} released for immediate retry, \
                 {} left to their lease",
                report.finished,
                report.released,
                report.stuck
            );
        }
        report
    }
}

/// Starts the worker on the runtime. Call once per process.
pub fn spawn(state: AppState) -> Deliveries {
    let handle = Deliveries::default();
    let c = &state.config;
    let timeout = Duration::from_secs(c.webhook_timeout_secs.max(1));
    // Deliveries connect directly (no proxy from the environment), to addresses vetted
    // after resolution unless private ones are allowed (see `crate::netguard`).
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(USER_AGENT)
        .pool_max_idle_per_host(64)
        .no_proxy();
    if let Some(resolver) = crate::netguard::resolver(c.webhook_allow_private) {
        builder = builder.dns_resolver(resolver);
    }
    let http = match builder.build() {
        Ok(h) => h,
        Err(e) => {
            log::error!("webhooks: cannot build the HTTP client, deliveries are not sent: {e}");
            return handle;
        }
    };
    let settings = Settings {
        poll: Duration::from_millis(c.webhook_poll_ms.max(10)),
        base_ms: c.webhook_backoff_base_ms.max(1),
        max_attempts: c.webhook_max_attempts.max(1),
        // Long enough that an attempt and the writing of its result end well inside it.
        lease_ms: i64::try_from(timeout.as_millis())
            .unwrap_or(i64::MAX / 4)
            .saturating_mul(2)
            .saturating_add(60_000),
        concurrency: usize::try_from(c.webhook_concurrency.max(1)).unwrap_or(64),
        allow_private: c.webhook_allow_private,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(record_results(state.clone(), rx, handle.clone()));
    tokio::spawn(run(state, settings, http, tx, handle.clone()));
    handle
}

/// The claiming loop: claims as many due deliveries as there are free slots and sends each
/// on its own task.
async fn run(
    state: AppState,
    settings: Settings,
    http: reqwest::Client,
    results: mpsc::UnboundedSender<(AttemptResult, String)>,
    handle: Deliveries,
) {
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    loop {
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
        let gate = handle.gate.clone().lock_owned().await;
        if handle.stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let want = permits.len();
        let jobs = match claim(&state, &settings, want).await {
            Ok(jobs) => jobs,
            Err(e) => {
                log::warn!("webhooks: claiming deliveries failed, will retry: {e}");
                drop(permits);
                tokio::time::sleep(settings.poll).await;
                continue;
            }
        };
        let full = jobs.len() == want;
        {
            let mut in_flight = handle.in_flight();
            for j in &jobs {
                in_flight.insert(j.delivery.id.clone(), j.lease);
            }
        }
        drop(gate);
        permits.truncate(jobs.len());
        for (job, permit) in jobs.into_iter().zip(permits) {
            let http = http.clone();
            let results = results.clone();
            let state = state.clone();
            let settings = settings.clone();
            tokio::spawn(async move {
                let endpoint_id = job.delivery.endpoint_id.clone();
                let result = attempt(&state, &settings, &http, job).await;
                drop(permit);
                // The recorder outlives the loop; if it is gone the lease expires and the
                // delivery is attempted again.
                let _ = results.send((result, endpoint_id));
            });
        }
        if !full {
            tokio::time::sleep(settings.poll).await;
        }
    }
}

/// Claims up to `n` due deliveries and loads their events and endpoints.
async fn claim(state: &AppState, settings: &Settings, n: usize) -> Result<Vec<Job>, ApiError> {
    let now = state.clock.now_ms();
    let lease = now.saturating_add(settings.lease_ms);
    let limit = i64::try_from(n).unwrap_or(1);
    let (rows, events, endpoints) = state
        .db
        .write(move |c| {
            let rows = store::claim_due(c, now, lease, limit)?;
            let event_ids: Vec<String> = rows.iter().map(|r| r.event_id.clone()).collect();
            let mut endpoint_ids: Vec<String> =
                rows.iter().map(|r| r.endpoint_id.clone()).collect();
            endpoint_ids.sort();
            endpoint_ids.dedup();
            let events = event_store::find_many(c, &event_ids)?;
            let endpoints = store::find_endpoints(c, &endpoint_ids)?;
            Ok((rows, events, endpoints))
        })
        .await?;
    let events: HashMap<String, _> = events.into_iter().map(|e| (e.id.clone(), e)).collect();
    let endpoints: HashMap<String, EndpointRow> =
        endpoints.into_iter().map(|e| (e.id.clone(), e)).collect();
    let mut jobs = Vec::with_capacity(rows.len());
    for delivery in rows {
        let (Some(event), Some(endpoint)) = (
            events.get(&delivery.event_id),
            endpoints.get(&delivery.endpoint_id),
        ) else {
            // Deleted in between: nothing to send; the lease keeps it out of the way.
            log::warn!(
                "webhooks: delivery {} lost its event or endpoint",
                delivery.id
            );
            continue;
        };
        let format = PayloadFormat::from_stored(&endpoint.payload_format);
        let body = match body_of(event, format) {
            Ok(b) => b,
            Err(e) => {
                log::error!("webhooks: cannot encode event {}: {e}", event.id);
                continue;
            }
        };
        // Stored encrypted: opened here, only for signing.
        let mut secrets = Vec::with_capacity(2);
        match state.secrets.open(&endpoint.secret) {
            Ok(s) => secrets.push(s),
            Err(e) => log::error!("webhooks: endpoint {}: {e}", endpoint.id),
        }
        if let (Some(prev), Some(until)) = (
            &endpoint.previous_secret,
            endpoint.previous_secret_expires_at,
        ) {
            if until > now {
                match state.secrets.open(prev) {
                    Ok(s) => secrets.push(s),
                    Err(e) => log::error!("webhooks: endpoint {}: {e}", endpoint.id),
                }
            }
        }
        jobs.push(Job {
            lease,
            event_id: event.id.clone(),
            body,
            url: endpoint.url.clone(),
            secrets,
            delivery,
        });
    }
    Ok(jobs)
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_ERROR_LEN {
        return s.to_string();
    }
    let mut end = MAX_ERROR_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The error with its causes (reqwest's own message alone rarely says what went wrong).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Reads (at most [`MAX_BODY_READ`] of) the answer, so the connection can be reused.
async fn read_some(mut res: reqwest::Response) {
    let mut read = 0;
    while let Ok(Some(chunk)) = res.chunk().await {
        read += chunk.len();
        if read >= MAX_BODY_READ {
            break;
        }
    }
}

/// Sends one delivery and decides what becomes of it.
async fn attempt(
    state: &AppState,
    settings: &Settings,
    http: &reqwest::Client,
    job: Job,
) -> AttemptResult {
    let now = state.clock.now_ms();
    let timestamp = now.div_euclid(1000);
    let mut signatures = Vec::with_capacity(job.secrets.len());
    for s in &job.secrets {
        match sign(s, &job.event_id, timestamp, &job.body) {
            Ok(sig) => signatures.push(sig),
            Err(e) => log::error!("webhooks: endpoint {}: {e}", job.delivery.endpoint_id),
        }
    }
    let refused = if settings.allow_private {
        None
    } else {
        crate::netguard::refused_literal(&job.url)
    };
    let outcome: Result<i32, (Option<i32>, String)> = if let Some(why) = refused {
        Err((
            None,
            format!(
                "refused: {why}; webhooks go to public addresses only \
                 (REFGROW_WEBHOOK_ALLOW_PRIVATE=true allows it)"
            ),
        ))
    } else if signatures.is_empty() {
        Err((None, "the endpoint's secret is unusable".into()))
    } else {
        let sent = http
            .post(&job.url)
            .header(HEADER_ID, &job.event_id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signatures.join(" "))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(job.body.clone())
            .send()
            .await;
        match sent {
            Ok(res) => {
                let status = res.status();
                let code = Some(i32::from(status.as_u16()));
                if status.is_success() {
                    read_some(res).await;
                    Ok(i32::from(status.as_u16()))
                } else {
                    // The status line only: what the receiver answered is never stored or
                    // shown (it could be an internal service's data).
                    read_some(res).await;
                    let hint = if status.is_redirection() {
                        " (redirects are not followed)"
                    } else {
                        ""
                    };
                    Err((code, format!("HTTP {status}{hint}")))
                }
            }
            Err(e) => Err((None, describe(&e))),
        }
    };
    let attempts = u32::try_from(job.delivery.attempts.max(0))
        .unwrap_or(0)
        .saturating_add(1);
    let done_at = state.clock.now_ms();
    match outcome {
        Ok(code) => AttemptResult {
            delivery_id: job.delivery.id,
            lease: job.lease,
            status: store::DELIVERED,
            attempted_at: done_at,
            next_attempt_at: None,
            response_status: Some(code),
            error: None,
        },
        Err((code, error)) => {
            let (status, next) = if attempts >= settings.max_attempts {
                (store::FAILED, None)
            } else {
                (
                    store::RETRYING,
                    Some(done_at.saturating_add(backoff_with_jitter(settings.base_ms, attempts))),
                )
            };
            AttemptResult {
                delivery_id: job.delivery.id,
                lease: job.lease,
                status,
                attempted_at: done_at,
                next_attempt_at: next,
                response_status: code,
                error: Some(truncate(&error)),
            }
        }
    }
}

/// Writes results as they come, in batches (one transaction each): the delivery's new state
/// and the endpoint's failure streak.
async fn record_results(
    state: AppState,
    mut rx: mpsc::UnboundedReceiver<(AttemptResult, String)>,
    handle: Deliveries,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let n = batch.len();
        let ids: Vec<String> = batch.iter().map(|(r, _)| r.delivery_id.clone()).collect();
        let written = state.db.write(move |c| write_results(c, &batch)).await;
        if written.is_ok() {
            let mut in_flight = handle.in_flight();
            for id in &ids {
                in_flight.remove(id);
            }
        }
        match written {
            Ok(alerts) => {
                for endpoint_id in alerts {
                    log::warn!(
                        "webhooks: endpoint {endpoint_id} is failing ({FAILING_AFTER} failed \
                         attempts in a row); its deliveries keep being retried"
                    );
                }
            }
            Err(e) => log::warn!(
                "webhooks: could not record {n} delivery results ({e}); they are attempted \
                 again when their leases end"
            ),
        }
    }
}

/// Writes a batch of results in one transaction; returns the endpoints that turned failing.
fn write_results(
    c: &mut crate::db::DbConn,
    batch: &[(AttemptResult, String)],
) -> Result<Vec<String>, ApiError> {
    use diesel::Connection;
    c.transaction(|c| {
        let mut alerts = Vec::new();
        for (r, endpoint_id) in batch {
            if !store::finish(c, r)? {
                // The lease ran out and another attempt took over: its result counts.
                continue;
            }
            if r.status == store::DELIVERED {
                store::endpoint_succeeded(c, endpoint_id)?;
                continue;
            }
            if store::endpoint_failed(c, endpoint_id, FAILING_AFTER, r.attempted_at)? {
                alerts.push(endpoint_id.clone());
            }
            if r.status == store::FAILED {
                log::error!(
                    "webhooks: delivery {} to endpoint {endpoint_id} failed its last scheduled \
                     attempt ({}); POST …/deliveries/{}/retry queues it again",
                    r.delivery_id,
                    r.error.as_deref().unwrap_or(""),
                    r.delivery_id
                );
            }
        }
        Ok(alerts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_retries_for_more_than_a_day() {
        let base = 5000;
        assert_eq!(backoff_ms(base, 1), 5_000);
        assert_eq!(backoff_ms(base, 2), 30_000);
        assert_eq!(backoff_ms(base, 9), 8 * 3_600_000);
        assert_eq!(backoff_ms(base, 50), 8 * 3_600_000);
        // 12 attempts: 11 waits between them.
        let total: u64 = (1..12).map(|n| backoff_ms(base, n)).sum();
        assert!(total >= 24 * 3_600_000, "{total}");
        for n in 1..12 {
            let j = backoff_with_jitter(base, n);
            let d = i64::try_from(backoff_ms(base, n)).unwrap_or(0);
            assert!(j >= d && j <= d + d / 5);
        }
    }

    #[test]
    fn errors_are_truncated_on_a_char_boundary() {
        let s = "é".repeat(400);
        let t = truncate(&s);
        assert!(t.len() <= MAX_ERROR_LEN + 3);
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }
}
