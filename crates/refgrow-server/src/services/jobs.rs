//! Background jobs: approving commissions whose hold period has passed, and pruning
//! `Idempotency-Key` records older than [`crate::idempotency::RETENTION_MS`] (24 hours).
//! Each is one set-based statement, so several replicas on one PostgreSQL may run them at
//! once without approving anything twice.

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

/// Deletes the idempotency records older than the retention (24 hours); returns how many.
pub async fn prune_idempotency(state: &AppState) -> Result<usize, ApiError> {
    let cutoff = state
        .clock
        .now_ms()
        .saturating_sub(crate::idempotency::RETENTION_MS);
    state
        .db
        .write(move |c| {
            use crate::db::schema::idempotency_keys as ik;
            use diesel::prelude::*;
            Ok(diesel::delete(ik::table.filter(ik::created_at.lt(cutoff))).execute(c)?)
        })
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
            let cutoff = state.clock.now_ms().saturating_sub(crate::clock::DAY_MS);
            if let Err(e) = state
                .db
                .write(move |c| Ok(crate::db::embed::prune_tokens(c, cutoff)?))
                .await
            {
                log::warn!("pruning expired dashboard tokens failed, will retry: {e}");
            }
            match prune_idempotency(&state).await {
                Ok(0) => {}
                Ok(n) => log::info!("pruned {n} idempotency records older than 24 hours"),
                Err(e) => log::warn!("pruning idempotency records failed, will retry: {e}"),
            }
        }
    });
}
