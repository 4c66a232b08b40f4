//! Webhook endpoints and the event log: checking what callers send, secrets and their
//! rotation, test events, manual retries, and the API views. The sending itself is
//! [`crate::workers::delivery`].

use refgrow_types::api::{
    CreateWebhookEndpoint, DeliveryStatus, Event, PayloadFormat, UpdateWebhookEndpoint,
    WebhookDelivery, WebhookEndpoint, WebhookPayload, ALL_EVENTS, MAX_URL_LEN, TEST_EVENT_TYPE,
};
use refgrow_types::webhook::secret_from_bytes;
use refgrow_types::{DeliveryId, EventId, WebhookEndpointId};

use crate::clock::{ms_to_datetime, opt_ms};
use crate::db::events::{self as event_store, EventRow};
use crate::db::webhooks::{self as store, DeliveryRow, EndpointRow, PENDING, RETRYING};
use crate::db::DbConn;
use crate::error::ApiError;
use crate::idgen::{new_id, random_bytes};
use crate::secrets::Sealer;
use crate::services::events::EVENT_TYPES;
use crate::validate::check_len;

/// Random bytes in a new secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// The most entries an `events` filter may have.
const MAX_FILTER_LEN: usize = 50;

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    secret_from_bytes(&random_bytes(SECRET_BYTES))
}

/// Checks an endpoint URL: absolute http or https with a host, at most 2000 characters.
pub fn check_url(raw: &str) -> Result<String, ApiError> {
    const ISSUE: &str = "must be an absolute http or https URL with a host";
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ApiError::invalid("url", ISSUE));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(ApiError::invalid(
            "url",
            format!("must be at most {MAX_URL_LEN} characters long"),
        ));
    }
    let url = url::Url::parse(raw).map_err(|_| ApiError::invalid("url", ISSUE))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none_or(str::is_empty)
        || url.cannot_be_a_base()
    {
        return Err(ApiError::invalid("url", ISSUE));
    }
    if url.fragment().is_some() {
        return Err(ApiError::invalid("url", "must not have a fragment (#…)"));
    }
    Ok(url.to_string())
}

/// Checks an events filter: known types or `"*"`, at least one; stored as a JSON array, or
/// NULL when it takes everything.
pub fn check_events(events: &[String]) -> Result<Option<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "must name at least one event type, or \"*\" for all",
        ));
    }
    if events.len() > MAX_FILTER_LEN {
        return Err(ApiError::invalid(
            "events",
            format!("must have at most {MAX_FILTER_LEN} entries"),
        ));
    }
    let mut kept: Vec<String> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if e != ALL_EVENTS && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::invalid(
                "events",
                format!(
                    "events[{i}] '{}' is not a known event type; use one of {} or \"*\"",
                    e.chars().take(100).collect::<String>(),
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        if !kept.contains(e) {
            kept.push(e.clone());
        }
    }
    if kept.iter().any(|e| e == ALL_EVENTS) {
        return Ok(None);
    }
    serde_json::to_string(&kept)
        .map(Some)
        .map_err(ApiError::internal)
}

/// Checks the `type` filter of the event log.
pub fn check_event_type(t: &str) -> Result<(), ApiError> {
    if EVENT_TYPES.contains(&t) || t == TEST_EVENT_TYPE {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "type",
            format!(
                "must be one of {}, {TEST_EVENT_TYPE}",
                EVENT_TYPES.join(", ")
            ),
        ))
    }
}

fn check_description(d: &str) -> Result<(), ApiError> {
    check_len("description", d, 1, 500)
}

/// Creates an endpoint; returns the row with its secret in clear (shown once by the
/// caller), while the stored row holds it encrypted under `sealer`. The URL must have been
/// vetted by [`crate::netguard::vet_url`].
pub fn create(
    c: &mut DbConn,
    sealer: &Sealer,
    program_id: &str,
    body: CreateWebhookEndpoint,
    now: i64,
) -> Result<EndpointRow, ApiError> {
    let url = check_url(&body.url)?;
    let event_types = match &body.events {
        Some(e) => check_events(e)?,
        None => None,
    };
    if let Some(d) = &body.description {
        check_description(d)?;
    }
    let secret = new_secret();
    let mut row = EndpointRow {
        id: new_id(WebhookEndpointId::PREFIX),
        program_id: program_id.to_string(),
        url,
        description: body.description,
        event_types,
        enabled: true,
        secret: sealer.seal(&secret),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
        consecutive_failures: 0,
        payload_format: body.format.unwrap_or_default().as_str().to_string(),
    };
    store::insert_endpoint(c, &row)?;
    row.secret = secret;
    Ok(row)
}

/// Loads an endpoint of the program, or 404.
pub fn load(c: &mut DbConn, program_id: &str, id: &str) -> Result<EndpointRow, ApiError> {
    store::find_endpoint(c, program_id, id)?.ok_or_else(|| ApiError::not_found("webhook endpoint"))
}

/// Applies a PATCH.
pub fn update(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    body: UpdateWebhookEndpoint,
    now: i64,
) -> Result<EndpointRow, ApiError> {
    let url = body.url.as_deref().map(check_url).transpose()?;
    let events = match &body.events {
        None => None,
        Some(None) => Some(None),
        Some(Some(e)) => Some(check_events(e)?),
    };
    if let Some(Some(d)) = &body.description {
        check_description(d)?;
    }
    let mut row = load(c, program_id, id)?;
    if let Some(u) = url {
        row.url = u;
    }
    if let Some(e) = events {
        row.event_types = e;
    }
    if let Some(d) = body.description {
        row.description = d;
    }
    if let Some(enabled) = body.enabled {
        row.enabled = enabled;
    }
    if let Some(format) = body.format {
        row.payload_format = format.as_str().to_string();
    }
    row.updated_at = now;
    store::update_endpoint(c, &row)?;
    Ok(row)
}

/// Replaces the secret; the old one keeps signing for `grace_ms`. Returns the row with the
/// new secret in clear (stored encrypted, like the previous one).
pub fn rotate_secret(
    c: &mut DbConn,
    sealer: &Sealer,
    program_id: &str,
    id: &str,
    grace_ms: i64,
    now: i64,
) -> Result<EndpointRow, ApiError> {
    let mut row = load(c, program_id, id)?;
    let secret = new_secret();
    let old = std::mem::replace(&mut row.secret, sealer.seal(&secret));
    if grace_ms > 0 {
        row.previous_secret = Some(old);
        row.previous_secret_expires_at = Some(now.saturating_add(grace_ms));
    } else {
        row.previous_secret = None;
        row.previous_secret_expires_at = None;
    }
    row.updated_at = now;
    store::update_endpoint(c, &row)?;
    row.secret = secret;
    Ok(row)
}

/// Records a `webhook.test` event and queues it for this endpoint only.
pub fn send_test(
    c: &mut DbConn,
    program_id: &str,
    id: &str,
    now: i64,
) -> Result<(EventRow, DeliveryRow), ApiError> {
    let endpoint = load(c, program_id, id)?;
    let data = serde_json::json!({
        "webhookEndpointId": endpoint.id,
        "message": "A test event sent from the Refgrow API",
    });
    let event = EventRow {
        id: new_id(EventId::PREFIX),
        program_id: program_id.to_string(),
        event_type: TEST_EVENT_TYPE.to_string(),
        payload: serde_json::to_string(&data).map_err(ApiError::internal)?,
        created_at: now,
    };
    event_store::insert(c, &event)?;
    let delivery = DeliveryRow {
        id: new_id(DeliveryId::PREFIX),
        program_id: program_id.to_string(),
        endpoint_id: endpoint.id,
        event_id: event.id.clone(),
        status: PENDING.to_string(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        last_attempt_at: None,
        response_status: None,
        last_error: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_delivery(c, &delivery)?;
    Ok((event, delivery))
}

/// Queues a delivery to be attempted now. A delivered one is a `conflict`: it is never sent
/// twice.
pub fn retry(
    c: &mut DbConn,
    program_id: &str,
    endpoint_id: &str,
    delivery_id: &str,
    now: i64,
) -> Result<DeliveryRow, ApiError> {
    load(c, program_id, endpoint_id)?;
    let row = store::find_delivery(c, program_id, endpoint_id, delivery_id)?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    if row.status == store::DELIVERED {
        return Err(ApiError::conflict(
            "This delivery has already been delivered; it is never sent twice",
        )
        .with_details(serde_json::json!({"field": "deliveryId", "issue": "already delivered"})));
    }
    store::requeue(c, &row.id, now)?;
    store::find_delivery(c, program_id, endpoint_id, delivery_id)?
        .ok_or_else(|| ApiError::not_found("delivery"))
}

/// The API view of an endpoint; `secret` only when it is to be shown (create, rotate).
pub fn to_dto(row: &EndpointRow, show_secret: bool) -> WebhookEndpoint {
    let events = row
        .event_types
        .as_deref()
        .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
        .unwrap_or_else(|| vec![ALL_EVENTS.to_string()]);
    WebhookEndpoint {
        id: WebhookEndpointId::from_trusted(row.id.clone()),
        url: row.url.clone(),
        description: row.description.clone(),
        events,
        enabled: row.enabled,
        format: PayloadFormat::from_stored(&row.payload_format),
        failing_since: opt_ms(row.failing_since),
        consecutive_failures: row.consecutive_failures,
        previous_secret_expires_at: opt_ms(row.previous_secret_expires_at),
        created_at: ms_to_datetime(row.created_at),
        updated_at: ms_to_datetime(row.updated_at),
        secret: show_secret.then(|| row.secret.clone()),
    }
}

/// The API view of a delivery.
pub fn delivery_to_dto(row: &DeliveryRow, event_type: &str) -> WebhookDelivery {
    let status = DeliveryStatus::parse(&row.status).unwrap_or(DeliveryStatus::Pending);
    WebhookDelivery {
        id: DeliveryId::from_trusted(row.id.clone()),
        endpoint_id: WebhookEndpointId::from_trusted(row.endpoint_id.clone()),
        event_id: EventId::from_trusted(row.event_id.clone()),
        event_type: event_type.to_string(),
        status,
        attempts: row.attempts,
        response_status: row.response_status,
        last_error: row.last_error.as_deref().map(status_line_only),
        last_attempt_at: opt_ms(row.last_attempt_at),
        next_attempt_at: (row.status == PENDING || row.status == RETRYING)
            .then(|| ms_to_datetime(row.next_attempt_at)),
        created_at: ms_to_datetime(row.created_at),
        updated_at: ms_to_datetime(row.updated_at),
    }
}

/// An attempt's error as shown: an HTTP failure is its status line alone, never the
/// receiver's answer (rows written before this rule may still hold its first bytes).
pub fn status_line_only(error: &str) -> String {
    match error.strip_prefix("HTTP ") {
        Some(rest) => format!("HTTP {}", rest.split(':').next().unwrap_or(rest).trim()),
        None => error.to_string(),
    }
}

/// Deliveries with their event types.
pub fn deliveries_to_dto(
    c: &mut DbConn,
    rows: &[DeliveryRow],
) -> Result<Vec<WebhookDelivery>, ApiError> {
    let ids: Vec<String> = rows.iter().map(|r| r.event_id.clone()).collect();
    let types: std::collections::HashMap<String, String> = event_store::find_many(c, &ids)?
        .into_iter()
        .map(|e| (e.id, e.event_type))
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            let t = types.get(&r.event_id).map(String::as_str).unwrap_or("");
            delivery_to_dto(r, t)
        })
        .collect())
}

/// The delivered body of an event: `{"type", "timestamp", "data"}`.
pub fn payload_of(row: &EventRow) -> Result<WebhookPayload, ApiError> {
    let data = serde_json::from_str(&row.payload)
        .map_err(|e| ApiError::internal(format!("event {} has a bad payload: {e}", row.id)))?;
    Ok(WebhookPayload {
        event_type: row.event_type.clone(),
        timestamp: ms_to_datetime(row.created_at),
        data,
    })
}

/// The delivered body of an event in an endpoint's format (both are signed the same way).
pub fn body_of(row: &EventRow, format: PayloadFormat) -> Result<Vec<u8>, ApiError> {
    let standard = payload_of(row)?;
    let value = match format {
        PayloadFormat::Standard => serde_json::to_value(&standard).map_err(ApiError::internal)?,
        PayloadFormat::Linkjolt => refgrow_types::api::compat::linkjolt_payload(&standard),
    };
    serde_json::to_vec(&value).map_err(|e| ApiError::internal(format!("encoding: {e}")))
}

/// The API view of an event: its delivered body and its id.
pub fn event_to_dto(row: &EventRow) -> Result<Event, ApiError> {
    let p = payload_of(row)?;
    Ok(Event {
        id: EventId::from_trusted(row.id.clone()),
        event_type: p.event_type,
        timestamp: p.timestamp,
        data: p.data,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn field(e: ApiError) -> String {
        e.details.unwrap()["field"].as_str().unwrap().to_string()
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            check_url(" https://hooks.example.com/x?a=1 ").unwrap(),
            "https://hooks.example.com/x?a=1"
        );
        // Syntax only: where it points is vetted by `netguard::vet_url`.
        assert!(check_url("http://127.0.0.1:9000/").is_ok());
        for bad in [
            "",
            "hooks.example.com/x",
            "ftp://example.com/",
            "mailto:a@b.c",
            "https://",
            "http://exa mple.com/",
            "https://example.com/#frag",
        ] {
            assert_eq!(field(check_url(bad).unwrap_err()), "url", "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2000));
        assert_eq!(field(check_url(&long).unwrap_err()), "url");
    }

    #[test]
    fn errors_show_the_status_line_only() {
        assert_eq!(
            status_line_only("HTTP 500 Internal Server Error: secret body"),
            "HTTP 500 Internal Server Error"
        );
        assert_eq!(status_line_only("timed out"), "timed out");
    }

    #[test]
    fn filters_are_checked() {
        assert_eq!(check_events(&["*".into()]).unwrap(), None);
        assert_eq!(
            check_events(&["conversion.created".into(), "conversion.created".into()]).unwrap(),
            Some(r#"["conversion.created"]"#.into())
        );
        assert_eq!(field(check_events(&[]).unwrap_err()), "events");
        assert_eq!(field(check_events(&["nope".into()]).unwrap_err()), "events");
    }

    #[test]
    fn secrets_have_the_prefix_and_enough_bytes() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(refgrow_types::webhook::secret_key(&s).unwrap().len(), 32);
        assert_ne!(s, new_secret());
    }
}
