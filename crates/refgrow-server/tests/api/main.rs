//! Integration tests: the real server on a random port against a fresh database per test.
//! SQLite by default; set `REFGROW_TEST_DATABASE_URL=postgres://…` to run them on PostgreSQL.

// Tests may panic on what they did not expect: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod affiliates;
mod browser;
mod client;
mod compat;
mod durability;
mod embed;
mod foundation;
mod history;
mod integrity;
mod invitations;
mod mail;
mod money;
mod openapi;
mod operations;
mod payouts;
mod sales;
mod security;
mod smtp_sink;
mod stats;
mod stripe;
mod tracking;
mod webhooks;
