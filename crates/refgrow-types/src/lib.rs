//! Types shared by the Refgrow server and its Rust SDK: prefixed ids, exact money, the
//! commission rule and its math, webhook signatures, and every request and response body
//! of the wire contract. Nothing here does I/O, so both sides of the wire compile the very
//! same definitions and cannot drift.

pub mod api;
pub mod commission;
pub mod error;
pub mod ids;
pub mod money;
pub mod money_display;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod webhook;

pub use error::{ApiErrorBody, ErrorCode};
pub use ids::*;
pub use money::{Amount, Currency, Money, MoneyError};
