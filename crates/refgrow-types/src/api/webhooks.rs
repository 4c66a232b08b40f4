//! Webhook endpoints, their deliveries, and the event log.
//!
//! An endpoint receives every event of its program whose type is in its `events` filter
//! (`["*"]`: all). Each event is delivered at least once per endpoint, signed per Standard
//! Webhooks (see [`crate::webhook`]), with the body [`WebhookPayload`]. Failed attempts are
//! retried with exponential backoff for more than 24 hours, across restarts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::common::double_option;
use crate::ids::{DeliveryId, EventId, WebhookEndpointId};

/// The type of the event `POST /v1/webhook-endpoints/{id}/test` sends to one endpoint only.
/// Its data is `{"webhookEndpointId": "we_…", "message": "…"}`.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// The filter value that subscribes to every event type.
pub const ALL_EVENTS: &str = "*";

/// The longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// `POST /v1/webhook-endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// Where deliveries are POSTed: an absolute http or https URL with a host, at most 2000
    /// characters. Redirects are not followed.
    pub url: String,
    /// Event types to receive (see the contract's list), or `["*"]`; absent means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// A note for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The body shape of the deliveries (default `standard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<PayloadFormat>,
}

/// The body shape of an endpoint's deliveries. Both are signed the same way (Standard
/// Webhooks headers over the exact body sent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// `{"type", "timestamp", "data": {...camelCase DTOs}}`.
    #[default]
    Standard,
    /// LinkJolt's shape: `{"event", "data": {flat snake_case fields, "timestamp"}}`.
    Linkjolt,
}

impl PayloadFormat {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Standard => "standard",
            PayloadFormat::Linkjolt => "linkjolt",
        }
    }

    /// Parses the stored name (unknown names are the standard format).
    pub fn from_stored(s: &str) -> PayloadFormat {
        match s {
            "linkjolt" => PayloadFormat::Linkjolt,
            _ => PayloadFormat::Standard,
        }
    }
}

/// `PATCH /v1/webhook-endpoints/{id}`: absent fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    /// A new URL (same rules as on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A new filter, or `null` for all event types.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub events: Option<Option<Vec<String>>>,
    /// A new description, or `null` to clear it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// `false` pauses deliveries (they wait, and resume when enabled again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A new body shape for the deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<PayloadFormat>,
}

/// A webhook endpoint as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// `we_…`.
    pub id: WebhookEndpointId,
    /// Where deliveries go.
    pub url: String,
    /// The note, if any.
    pub description: Option<String>,
    /// The subscribed event types; `["*"]` for all.
    pub events: Vec<String>,
    /// Whether deliveries are being sent.
    pub enabled: bool,
    /// The body shape of the deliveries.
    #[serde(default)]
    pub format: PayloadFormat,
    /// Set when the endpoint has failed several attempts in a row (it is still retried);
    /// cleared by the next successful delivery.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed attempts in a row since the last success.
    pub consecutive_failures: i32,
    /// While set and in the future, deliveries are signed with the previous secret too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// The signing secret (`whsec_…`). Only in the answers of create and rotate-secret: it
    /// cannot be shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// `{"webhookEndpoint": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpointResponse {
    /// The endpoint.
    pub webhook_endpoint: WebhookEndpoint,
}

/// `GET /v1/webhook-endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpointList {
    /// This page, oldest first.
    pub webhook_endpoints: Vec<WebhookEndpoint>,
    /// How many endpoints the program has.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not attempted yet.
    Pending,
    /// Attempted and failed; `nextAttemptAt` says when it is tried again.
    Retrying,
    /// The endpoint answered 2xx. It is never sent again.
    Delivered,
    /// Every attempt of the schedule failed; `POST …/retry` queues it once more.
    Failed,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryStatus::Pending,
            "retrying" => DeliveryStatus::Retrying,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => return None,
        })
    }
}

/// The deliveries of one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// `del_…`.
    pub id: DeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event (also the `webhook-id` header).
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// The HTTP status of the last attempt (none when the connection failed).
    pub response_status: Option<i32>,
    /// Why the last attempt failed (truncated).
    pub last_error: Option<String>,
    /// When last attempted.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it is due next (pending or retrying only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When queued.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// `{"delivery": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryResponse {
    /// The delivery.
    pub delivery: WebhookDelivery,
}

/// `GET /v1/webhook-endpoints/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryList {
    /// This page, newest first.
    pub deliveries: Vec<WebhookDelivery>,
    /// How many match.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// The body of every delivery: `{"type", "timestamp", "data"}`. `timestamp` is when the event
/// happened (the same on every attempt); `data` is the event's object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookPayload {
    /// The event type (`conversion.created`, …).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    /// The event's object, e.g. `{"conversion": {...}}`.
    pub data: serde_json::Value,
}

/// An event of the log: the delivered body ([`WebhookPayload`]'s fields) plus its id, which
/// deliveries carry in the `webhook-id` header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// `evt_…`.
    pub id: EventId,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The event's object, exactly as delivered.
    pub data: serde_json::Value,
}

/// `{"event": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventResponse {
    /// The event.
    pub event: Event,
}

/// `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventList {
    /// This page, newest first.
    pub events: Vec<Event>,
    /// How many match the filters.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}

/// The answer of `POST /v1/webhook-endpoints/{id}/test`: the `webhook.test` event and its
/// queued delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookTestResult {
    /// The event, type [`TEST_EVENT_TYPE`].
    pub event: Event,
    /// Its delivery to the endpoint, queued now.
    pub delivery: WebhookDelivery,
}
