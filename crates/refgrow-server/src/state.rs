//! What every handler can reach: the database, the settings, the clock and the click buffer.

use crate::clicks::ClickBuffer;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// The pools.
    pub db: Db,
    /// The settings.
    pub config: Config,
    /// Now.
    pub clock: Clock,
    /// Clicks waiting to be written.
    pub clicks: ClickBuffer,
}
