//! `GET /metrics` in the Prometheus text format: requests and their latency per route and
//! status, the database pools, buffered clicks and audit entries, and the webhook outbox.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

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
}

/// Counters of the click path, so a bench can compute the write rate and see every click
/// that was not recorded.
#[derive(Clone)]
pub struct ClickCounters {
    /// `refgrow_clicks_flushed_total`: clicks committed to the database.
    pub flushed: IntCounter,
    /// `refgrow_clicks_refused_total{reason}`: `POST /v1/referrals/track` answered 503
    /// (`buffer_full`, `not_durable`).
    pub refused: IntCounterVec,
    /// `refgrow_clicks_dropped_total{reason}`: redirects sent on without recording their
    /// click (`buffer_full`, `not_durable`).
    pub dropped: IntCounterVec,
    /// `refgrow_clicks_spilled_total`: clicks fsync'd to the spill file while the database
    /// was unreachable.
    pub spilled: IntCounter,
    /// `refgrow_clicks_buffered`: clicks held (waiting, being written or spilled), at
    /// scrape time.
    pub buffered: IntGauge,
}

impl ClickCounters {
    /// Fresh counters, not registered anywhere.
    pub fn new() -> Result<ClickCounters, prometheus::Error> {
        Ok(ClickCounters {
            flushed: IntCounter::new(
                "refgrow_clicks_flushed_total",
                "Clicks committed to the database",
            )?,
            refused: IntCounterVec::new(
                Opts::new(
                    "refgrow_clicks_refused_total",
                    "Clicks refused with 503 by POST /v1/referrals/track",
                ),
                &["reason"],
            )?,
            dropped: IntCounterVec::new(
                Opts::new(
                    "refgrow_clicks_dropped_total",
                    "Redirects sent on without recording their click",
                ),
                &["reason"],
            )?,
            spilled: IntCounter::new(
                "refgrow_clicks_spilled_total",
                "Clicks written to the local spill file while the database was unreachable",
            )?,
            buffered: IntGauge::new(
                "refgrow_clicks_buffered",
                "Clicks held in memory and not yet in the database",
            )?,
        })
    }

    fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.flushed.clone()))?;
        registry.register(Box::new(self.refused.clone()))?;
        registry.register(Box::new(self.dropped.clone()))?;
        registry.register(Box::new(self.spilled.clone()))?;
        registry.register(Box::new(self.buffered.clone()))
    }
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
        let clicks = ClickCounters::new()?;
        clicks.register(&registry)?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            gauges,
            clicks,
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
