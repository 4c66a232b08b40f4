//! The webhook delivery worker: it drains the outbox (`webhook_deliveries`) that
//! [`crate::services::events::record`] fills inside the transactions of the changes.
//!
//! - Every `webhook_poll_ms` (at once while there is a backlog) it claims due deliveries of
//!   enabled endpoints with a lease (see [`crate::db::webhooks`]), as many as it has free
//!   sending slots (`webhook_concurrency`), so no delivery is sent twice at the same time,
//!   even by several replicas on one PostgreSQL.
//! - Each is POSTed with the Standard Webhooks headers, signed with the endpoint's secret (and
//!   its previous secret during a rotation's grace period). Redirects are not followed: a 3xx
//!   is a failure like any non-2xx answer, a timeout or a refused connection.
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
use std::sync::Arc;
use std::time::Duration;

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
/// How much of a response body is read (and quoted in errors).
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
}

/// Starts the worker on the runtime. Call once per process.
pub fn spawn(state: AppState) {
    let c = &state.config;
    let timeout = Duration::from_secs(c.webhook_timeout_secs.max(1));
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(USER_AGENT)
        .pool_max_idle_per_host(64)
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            log::error!("webhooks: cannot build the HTTP client, deliveries are not sent: {e}");
            return;
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
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(record_results(state.clone(), rx));
    tokio::spawn(run(state, settings, http, tx));
}

/// The claiming loop: claims as many due deliveries as there are free slots and sends each
/// on its own task.
async fn run(
    state: AppState,
    settings: Settings,
    http: reqwest::Client,
    results: mpsc::UnboundedSender<(AttemptResult, String)>,
) {
    let slots = Arc::new(Semaphore::new(settings.concurrency));
    loop {
        let Ok(first) = slots.clone().acquire_owned().await else {
            return;
        };
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
        let mut secrets = vec![endpoint.secret.clone()];
        if let (Some(prev), Some(until)) = (
            &endpoint.previous_secret,
            endpoint.previous_secret_expires_at,
        ) {
            if until > now {
                secrets.push(prev.clone());
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

/// Reads (at most [`MAX_BODY_READ`] of) the answer, so the connection can be reused, and
/// returns its start as text.
async fn read_some(mut res: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        if buf.len() < MAX_BODY_READ {
            buf.extend_from_slice(&chunk);
        } else {
            break;
        }
    }
    let end = buf.len().min(200);
    String::from_utf8_lossy(&buf[..end]).trim().to_string()
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
    let outcome: Result<i32, (Option<i32>, String)> = if signatures.is_empty() {
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
                    let _ = read_some(res).await;
                    Ok(i32::from(status.as_u16()))
                } else if status.is_redirection() {
                    let to = res
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let _ = read_some(res).await;
                    Err((
                        code,
                        format!("HTTP {status}: redirects are not followed (Location: {to})"),
                    ))
                } else {
                    let text = read_some(res).await;
                    Err((
                        code,
                        if text.is_empty() {
                            format!("HTTP {status}")
                        } else {
                            format!("HTTP {status}: {text}")
                        },
                    ))
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
async fn record_results(state: AppState, mut rx: mpsc::UnboundedReceiver<(AttemptResult, String)>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let n = batch.len();
        let written = state.db.write(move |c| write_results(c, &batch)).await;
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
