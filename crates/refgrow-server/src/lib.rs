//! Refgrow server: the HTTP API, storage on SQLite or PostgreSQL, background jobs and the
//! command line. `main.rs` is a thin shell over [`cli`]; tests start the real server with
//! [`app::start`] on a random port.
//!
//! Layers (data flows one way): `routes` (parse, authorize, render) → `services` (one
//! transaction per use case) → `db` (diesel queries, one module per table). The commission
//! math and all wire types live in `refgrow-types`.

pub mod app;
pub mod audit;
pub mod auth;
pub mod buffer;
pub mod cache;
pub mod cli;
pub mod clicks;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod idgen;
pub mod key_cache;
pub mod metrics;
pub mod netguard;
pub mod openapi;
pub mod pages;
pub mod ratelimit;
pub mod routes;
pub mod secrets;
pub mod services;
pub mod state;
pub mod validate;
pub mod workers;
