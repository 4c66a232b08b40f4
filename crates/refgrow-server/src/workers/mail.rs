//! The mail sender: sends what `services::mail` queued in `mail_outbox`, when
//! `REFGROW_SMTP_URL` is set.

use std::time::Duration;

use crate::error::ApiError;
use crate::services::mail;
use crate::state::AppState;

/// Sends what is due once; answers how many were sent.
pub async fn send_due(state: &AppState) -> Result<usize, ApiError> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let Some(url) = state
        .config
        .affiliate_side
        .smtp_url
        .as_ref()
        .and_then(|u| u.value())
        .map(str::to_string)
    else {
        return Ok(0);
    };
    let now = state.clock.now_ms();
    let rows = state.db.write(move |c| mail::claim(c, now, 20)).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
        .map_err(|e| ApiError::internal(format!("REFGROW_SMTP_URL: {e}")))?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    let from = state.config.affiliate_side.mail_from.clone();
    let mut sent = 0;
    for row in rows {
        let outcome = match mail::build(&from, &row) {
            Ok(msg) => transport
                .send(msg)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let now = state.clock.now_ms();
        let id = row.id.clone();
        let attempts = row.attempts + 1;
        match outcome {
            Ok(()) => {
                sent += 1;
                state
                    .db
                    .write(move |c| mail::mark_sent(c, &id, attempts, now))
                    .await?;
            }
            Err(e) => {
                log::warn!("mail {} not sent (attempt {attempts}): {e}", row.id);
                state
                    .db
                    .write(move |c| mail::mark_failed(c, &id, attempts, now, &e))
                    .await?;
            }
        }
    }
    Ok(sent)
}

/// Starts the sender when `REFGROW_SMTP_URL` is set: it looks for due mail every second.
pub fn spawn(state: AppState) {
    if !mail::enabled(&state.config) {
        return;
    }
    log::info!(
        "mail: sending through REFGROW_SMTP_URL as {}",
        state.config.affiliate_side.mail_from
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&state).await {
                log::warn!("mail sender: {}", e.message);
            }
        }
    });
}
