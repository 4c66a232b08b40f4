//! Background jobs: approving commissions whose hold period has passed. Each run is one
//! set-based UPDATE per program, so several replicas on one PostgreSQL may run it at once
//! without approving anything twice.

use std::time::Duration;

use crate::error::ApiError;
use crate::state::AppState;

/// Runs every job once, now.
pub async fn run_once(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.now_ms();
    state
        .db
        .write(move |c| crate::services::commissions::approve_due(c, now))
        .await
}

/// Runs the jobs every `job_interval_secs`.
pub fn spawn(state: AppState) {
    let every = Duration::from_secs(state.config.job_interval_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match run_once(&state).await {
                Ok(0) => {}
                Ok(n) => log::info!("approved {n} commissions past their hold period"),
                Err(e) => log::warn!("background jobs failed, will retry: {e}"),
            }
        }
    });
}
