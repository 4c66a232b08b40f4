//! Checks of input values that hold wherever the value comes from (an HTTP body, a query,
//! a Stripe event, the CLI): lengths and characters of free text, time bounds. No HTTP here:
//! the extractors of [`crate::extract`] and the services both use these.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::ApiError;

/// Checks a free-text field's length (in characters).
pub fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid(
            field,
            format!("must be {min} to {max} characters long"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// The optional `from` and `to` bounds of a query, each parsed by [`parse_time`] (`from`
/// checked first).
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let from = from.map(|s| parse_time("from", s)).transpose()?;
    let to = to.map(|s| parse_time("to", s)).transpose()?;
    Ok((from, to))
}

/// Parses a `from`/`to` bound: an RFC 3339 timestamp or a `YYYY-MM-DD` date (UTC midnight).
pub fn parse_time(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc).timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(ApiError::invalid(
        field,
        "must be an RFC 3339 timestamp or a YYYY-MM-DD date",
    ))
}
