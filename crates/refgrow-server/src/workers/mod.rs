//! What runs beside the requests: the background jobs (approvals, pruning, folding the
//! sales' deltas), the webhook deliveries and the mail sender. Each is started once by
//! [`crate::app`] with the server's state and calls into the services and the database like
//! a request does; nothing below this module knows it exists.

pub mod delivery;
pub mod jobs;
pub mod mail;
