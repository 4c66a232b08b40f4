//! Request and response bodies of every endpoint, grouped by resource. Field names are
//! camelCase on the wire; request bodies refuse unknown fields so typos are caught.

pub mod affiliates;
pub mod commissions;
pub mod common;
pub mod invitations;
pub mod program;
pub mod tracking;

pub use affiliates::*;
pub use commissions::*;
pub use common::*;
pub use invitations::*;
pub use program::*;
pub use tracking::*;
