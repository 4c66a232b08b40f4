//! Use cases, one transaction each: they check input against stored state, write, and record
//! the events the change causes.

pub mod affiliates;
pub mod api_keys;
pub mod approval;
pub mod attribution;
pub mod commissions;
pub mod conversions;
pub mod customers;
pub mod embed;
pub mod events;
pub mod invitations;
pub mod mail;
pub mod payouts;
pub mod program;
pub mod reconcile;
pub mod refunds;
pub mod stats;
pub mod stripe;
pub mod webhooks;
