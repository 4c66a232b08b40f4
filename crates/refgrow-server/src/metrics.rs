//! `GET /metrics` in the Prometheus text format: requests and their latency per route and
//! status, the database pools, buffered clicks and audit entries (see [`crate::buffer`]), and the webhook outbox.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::buffer::BufferCounters;

/// The server's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Gauges filled in at scrape time.
    pub gauges: IntGaugeVec,
    /// The click path's counters.
    pub clicks: ClickCounters,
    /// The audit log's counters.
    pub audit: BufferCounters,
}

/// The click path's counters (`refgrow_clicks_…`), so a bench can compute the write rate
/// and see every click that was not recorded: `refgrow_clicks_flushed_total` (committed to
/// the database), `refgrow_clicks_refused_total{reason}` (`POST /v1/referrals/track`
/// answered 503: `buffer_full`, `not_durable`), `refgrow_clicks_dropped_total{reason}`
/// (redirects sent on without recording their click), `refgrow_clicks_spilled_total`
/// (fsync'd to the spill file while the database was unreachable) and
/// `refgrow_clicks_buffered` (held: waiting, being written or spilled, at scrape time).
pub type ClickCounters = BufferCounters;

/// The click path's counters, not registered anywhere.
pub fn click_counters() -> Result<ClickCounters, prometheus::Error> {
    BufferCounters::new(
        "clicks",
        "Clicks",
        "Clicks refused with 503 by POST /v1/referrals/track",
        "Redirects sent on without recording their click",
    )
}

/// The audit log's counters (`refgrow_audit_…`): entries committed, entries dropped because
/// the buffer was full (`refgrow_audit_dropped_total{reason="buffer_full"}`: the call they
/// record was answered all the same) and entries held at scrape time.
pub fn audit_counters() -> Result<BufferCounters, prometheus::Error> {
    BufferCounters::new(
        "audit",
        "Audit entries",
        "Audit entries refused (unused: a call is never refused for its audit entry)",
        "Audit entries not recorded because the audit buffer was full",
    )
}

impl Metrics {
    /// A fresh registry with the server's metric families.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "refgrow_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "refgrow_http_request_duration_seconds",
                "HTTP request latency by route and method",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let gauges = IntGaugeVec::new(
            Opts::new(
                "refgrow_state",
                "Point-in-time figures: db pool connections, buffers, outbox depth",
            ),
            &["what"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(gauges.clone()))?;
        let clicks = click_counters()?;
        clicks.register(&registry)?;
        let audit = audit_counters()?;
        audit.register(&registry)?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            gauges,
            clicks,
            audit,
        })
    }

    /// Counts one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.requests
            .with_label_values(&[method, route, &status])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(took.as_secs_f64());
    }

    /// Sets a point-in-time gauge.
    pub fn set(&self, what: &str, value: i64) {
        self.gauges.with_label_values(&[what]).set(value);
    }

    /// The text exposition of every family.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
