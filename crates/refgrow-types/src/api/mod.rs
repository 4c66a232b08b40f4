//! Request and response bodies of every endpoint, grouped by resource. Field names are
//! camelCase on the wire; request bodies refuse unknown fields so typos are caught.

pub mod affiliates;
pub mod commissions;
pub mod common;
pub mod compat;
pub mod embed;
pub mod invitations;
pub mod keys;
pub mod params;
pub mod payouts;
pub mod program;
pub mod reconcile;
pub mod stats;
pub mod tracking;
pub mod webhooks;

pub use affiliates::*;
pub use commissions::*;
pub use common::*;
pub use embed::*;
pub use invitations::*;
pub use keys::*;
pub use params::*;
pub use payouts::*;
pub use program::*;
pub use reconcile::*;
pub use stats::*;
pub use tracking::*;
pub use webhooks::*;
