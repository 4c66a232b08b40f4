//! The webhook events as OpenAPI 3.1 `webhooks`: one `POST` per event type, whose request
//! body is the delivered payload `{"type", "timestamp", "data"}` with the event's `data`
//! schema, and the three Standard Webhooks headers.

use refgrow_types::api as dto;
use serde_json::{json, Map, Value};
use utoipa::openapi::{RefOr, Schema};

use super::collect::schema_ref;

/// One event type: its name, when it is sent, and the schema of its `data`.
pub struct EventDoc {
    /// The `type` of the payload.
    pub name: &'static str,
    /// When it is sent.
    pub summary: &'static str,
    /// The schema of `data`.
    pub data: RefOr<Schema>,
}

fn event(name: &'static str, summary: &'static str, data: RefOr<Schema>) -> EventDoc {
    EventDoc {
        name,
        summary,
        data,
    }
}

/// Every event type the server delivers (a test checks this against the server's own list).
pub fn events() -> Vec<EventDoc> {
    let affiliate = schema_ref::<dto::AffiliateResponse>;
    let commission = schema_ref::<dto::CommissionResponse>;
    let payout = schema_ref::<dto::PayoutResponse>;
    vec![
        event(
            "affiliate.created",
            "An affiliate was enrolled",
            affiliate(),
        ),
        event(
            "affiliate.updated",
            "An affiliate was changed, approved, suspended, blocked or reactivated",
            affiliate(),
        ),
        event(
            "affiliate.joined",
            "Someone joined by accepting an invitation",
            affiliate(),
        ),
        event(
            "invitation.created",
            "An invitation was sent (its token is not included)",
            schema_ref::<dto::InvitationResponse>(),
        ),
        event(
            "customer.created",
            "A signup was bound to its affiliate",
            schema_ref::<dto::CustomerResponse>(),
        ),
        event(
            "conversion.created",
            "A referred sale was recorded",
            schema_ref::<dto::ConversionResponse>(),
        ),
        event(
            "commission.created",
            "A commission was earned",
            commission(),
        ),
        event(
            "commission.updated",
            "A commission was approved, rejected, held or paid",
            commission(),
        ),
        event(
            "commission.reversed",
            "A commission was reversed (a refund, a chargeback or by hand)",
            commission(),
        ),
        event(
            "payout.created",
            "A payout run grouped commissions into a payout",
            payout(),
        ),
        event(
            "payout.paid",
            "A payout and its commissions were marked paid",
            payout(),
        ),
        event(
            dto::TEST_EVENT_TYPE,
            "A test event, sent on request to one endpoint",
            RefOr::Ref(utoipa::openapi::Ref::from_schema_name("WebhookTestData")),
        ),
    ]
}

/// `webhook.test`'s `data`, which has no type of its own.
fn test_data_schema() -> Value {
    json!({
        "type": "object",
        "required": ["webhookEndpointId", "message"],
        "properties": {
            "webhookEndpointId": {"$ref": "#/components/schemas/WebhookEndpointId"},
            "message": {"type": "string"}
        }
    })
}

/// `affiliate.created` -> `AffiliateCreatedEvent`.
pub fn payload_schema_name(event: &str) -> String {
    let mut out = String::new();
    for part in event.split(['.', '_']) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out.push_str("Event");
    out
}

/// `webhook.test` -> `webhookTest`.
fn operation_id(event: &str) -> String {
    let name = payload_schema_name(event);
    let name = name.trim_end_matches("Event");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{}{}", first.to_lowercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The three Standard Webhooks headers of every delivery.
pub fn header_parameters() -> Value {
    json!({
        "WebhookId": {
            "name": "webhook-id", "in": "header", "required": true,
            "description": "The event id (evt_…), the same on every attempt: deduplicate on it",
            "schema": {"type": "string"}
        },
        "WebhookTimestamp": {
            "name": "webhook-timestamp", "in": "header", "required": true,
            "description": "Unix seconds of this attempt; reject deliveries far from your clock",
            "schema": {"type": "string", "pattern": "^[0-9]+$"}
        },
        "WebhookSignature": {
            "name": "webhook-signature", "in": "header", "required": true,
            "description": "Space-separated `v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` \
                            signatures keyed with the endpoint's secret (two during a secret \
                            rotation). Verify with any Standard Webhooks library before parsing",
            "schema": {"type": "string"}
        }
    })
}

/// The `webhooks` object and the payload schemas it refers to (for `components/schemas`).
/// Call inside [`super::collect::collecting`], so the `data` types are recorded.
pub fn webhooks() -> (Value, Map<String, Value>) {
    let mut hooks = Map::new();
    let mut schemas = Map::new();
    schemas.insert("WebhookTestData".into(), test_data_schema());
    // The `WebhookTestData` schema refers to it by hand.
    super::collect::record::<refgrow_types::WebhookEndpointId>();
    for e in events() {
        let name = payload_schema_name(e.name);
        let data = serde_json::to_value(&e.data).unwrap_or(Value::Null);
        schemas.insert(
            name.clone(),
            json!({
                "type": "object",
                "description": format!("The body of a `{}` delivery", e.name),
                "required": ["type", "timestamp", "data"],
                "properties": {
                    "type": {"type": "string", "const": e.name},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "data": data
                }
            }),
        );
        hooks.insert(
            e.name.to_string(),
            json!({"post": {
                "operationId": operation_id(e.name),
                "tags": ["webhooks"],
                "summary": e.summary,
                "description": "Sent to every enabled endpoint subscribed to this type (or to \
                                all), signed per Standard Webhooks, at least once: retried with \
                                exponential backoff for at least 24 hours until a 2xx answer.",
                "parameters": [
                    {"$ref": "#/components/parameters/WebhookId"},
                    {"$ref": "#/components/parameters/WebhookTimestamp"},
                    {"$ref": "#/components/parameters/WebhookSignature"}
                ],
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {
                        "schema": {"$ref": format!("#/components/schemas/{name}")}
                    }}
                },
                "responses": {
                    "2XX": {"description": "Received; any 2xx acknowledges the delivery"},
                    "default": {"description": "Not received; the delivery is retried"}
                },
                "security": []
            }}),
        );
    }
    (Value::Object(hooks), schemas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_event_type_the_server_emits_is_documented() {
        let documented: BTreeSet<&str> = events().iter().map(|e| e.name).collect();
        let mut emitted: BTreeSet<&str> = crate::services::events::EVENT_TYPES
            .iter()
            .copied()
            .collect();
        emitted.insert(dto::TEST_EVENT_TYPE);
        assert_eq!(documented, emitted);
    }

    #[test]
    fn names() {
        assert_eq!(
            payload_schema_name("affiliate.created"),
            "AffiliateCreatedEvent"
        );
        assert_eq!(operation_id("webhook.test"), "webhookTest");
    }
}
