//! `GET /metrics` in the Prometheus text format: requests and their latency per route and
//! status, the database pools, buffered clicks and audit entries, and the webhook outbox.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The server's metrics; clones share them.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Gauges filled in at scrape time.
    pub gauges: IntGaugeVec,
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
        Ok(Metrics {
            registry,
            requests,
            latency,
            gauges,
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
