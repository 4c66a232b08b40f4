//! Background jobs: approving commissions whose hold period has passed (each run is one
//! set-based UPDATE per program, so several replicas on one PostgreSQL may run it at once
//! without approving anything twice), pruning `Idempotency-Key` records older than
//! [`crate::idempotency::RETENTION_MS`] (24 hours), and folding the sales' appended deltas
//! into the rollups and counters ([`crate::db::stats_deltas`]; once per interval across the
//! replicas, each taking its turn through a claim in the database).

use std::time::Duration;

use crate::error::ApiError;
use crate::state::AppState;

/// Runs every job once, now.
pub async fn run_once(state: &AppState) -> Result<usize, ApiError> {
    let now = state.clock.now_ms();
    state
        .db
        .write(move |c| crate::services::approval::approve_due(c, now))
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
        .write(move |c| Ok(crate::db::idempotency::prune(c, cutoff)?))
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

/// How often the deltas of sales are folded into the rollups and counters.
pub const FOLD_EVERY: Duration = Duration::from_millis(1000);

/// Folds every delta waiting now, in transactions of [`stats_deltas::FOLD_BATCH`]. Returns
/// how many were folded.
///
/// [`stats_deltas::FOLD_BATCH`]: crate::db::stats_deltas::FOLD_BATCH
pub async fn fold_deltas(state: &AppState) -> Result<usize, ApiError> {
    use crate::db::stats_deltas::{fold, FOLD_BATCH};
    let mut total = 0;
    loop {
        let n = state.db.write(|c| Ok(fold(c, FOLD_BATCH)?)).await?;
        total += n;
        if (n as i64) < FOLD_BATCH {
            return Ok(total);
        }
    }
}

/// Folds the deltas every [`FOLD_EVERY`], once per interval across every replica on the
/// database: a turn starts by claiming the fold (`stats_deltas::claim_fold`) and is skipped
/// when another replica folded less than an interval ago. Reads are exact without it (they
/// add the deltas not folded yet); folding keeps that addition small.
pub fn spawn_folder(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FOLD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match claim_fold(&state).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    log::warn!("claiming the periodic fold failed, will retry: {e}");
                    continue;
                }
            }
            if let Err(e) = fold_deltas(&state).await {
                // Nothing is lost: a failed fold rolls back and its deltas wait for the next.
                log::warn!("folding the sales' deltas into the rollups failed, will retry: {e}");
            }
        }
    });
}

/// Claims this interval's fold for this replica (see [`spawn_folder`]). A claim a tenth of
/// an interval early still counts, so that replicas whose timers drift do not skip turns.
pub async fn claim_fold(state: &AppState) -> Result<bool, ApiError> {
    let now = state.clock.now_ms();
    let every = i64::try_from(FOLD_EVERY.as_millis()).unwrap_or(i64::MAX);
    let every = every - every / 10;
    state
        .db
        .write(move |c| Ok(crate::db::stats_deltas::claim_fold(c, now, every)?))
        .await
}
