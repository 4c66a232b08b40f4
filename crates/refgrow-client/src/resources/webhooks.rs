//! `/v1/webhook-endpoints`.

use refgrow_types::api::{
    CreateWebhookEndpoint, DeliveryStatus, UpdateWebhookEndpoint, WebhookDelivery,
    WebhookDeliveryList, WebhookDeliveryResponse, WebhookEndpoint, WebhookEndpointList,
    WebhookEndpointResponse, WebhookTestResult,
};
use refgrow_types::{DeliveryId, WebhookEndpointId};
use reqwest::Method;

use crate::Error;

resource_handle!(
    /// `/v1/webhook-endpoints`: where the program's events are delivered, signed per
    /// Standard Webhooks (check them with [`verify_webhook`](crate::verify_webhook)). Get one
    /// with [`Client::webhook_endpoints`](crate::Client::webhook_endpoints).
    WebhookEndpointsApi
);

/// Filters and paging of `GET /v1/webhook-endpoints/{id}/deliveries`. Unset fields are not
/// sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListDeliveries {
    /// Only deliveries with this status.
    pub status: Option<DeliveryStatus>,
    /// Page size, 1..=100.
    pub limit: Option<u32>,
    /// How many to skip.
    pub offset: Option<u64>,
}

impl ListDeliveries {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if let Some(s) = self.status {
            q.push(("status", s.as_str().to_string()));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        q
    }
}

impl WebhookEndpointsApi<'_> {
    /// `POST /v1/webhook-endpoints`: the answer carries the signing `secret`, shown this once.
    pub async fn create(&self, endpoint: CreateWebhookEndpoint) -> Result<WebhookEndpoint, Error> {
        let r: WebhookEndpointResponse = self
            .call_json(Method::POST, &["webhook-endpoints"], &endpoint)
            .await?;
        Ok(r.webhook_endpoint)
    }

    /// `GET /v1/webhook-endpoints`: one page, oldest first.
    pub async fn list(
        &self,
        limit: Option<u32>,
        offset: Option<u64>,
    ) -> Result<WebhookEndpointList, Error> {
        let mut q = Vec::new();
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = offset {
            q.push(("offset", o.to_string()));
        }
        self.call_query(Method::GET, &["webhook-endpoints"], q)
            .await
    }

    /// `GET /v1/webhook-endpoints/{id}` (without its secret).
    pub async fn get(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint, Error> {
        let r: WebhookEndpointResponse = self
            .call(Method::GET, &["webhook-endpoints", id.as_str()])
            .await?;
        Ok(r.webhook_endpoint)
    }

    /// `PATCH /v1/webhook-endpoints/{id}`: URL, event filter, description, enabled, payload
    /// format.
    pub async fn update(
        &self,
        id: &WebhookEndpointId,
        change: UpdateWebhookEndpoint,
    ) -> Result<WebhookEndpoint, Error> {
        let r: WebhookEndpointResponse = self
            .call_json(Method::PATCH, &["webhook-endpoints", id.as_str()], &change)
            .await?;
        Ok(r.webhook_endpoint)
    }

    /// `DELETE /v1/webhook-endpoints/{id}`: the endpoint and its queued deliveries go; the
    /// events stay in the log. Returns the endpoint as it was.
    pub async fn delete(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint, Error> {
        let r: WebhookEndpointResponse = self
            .call(Method::DELETE, &["webhook-endpoints", id.as_str()])
            .await?;
        Ok(r.webhook_endpoint)
    }

    /// `POST /v1/webhook-endpoints/{id}/rotate-secret`: a new secret, shown this once. The old
    /// one keeps signing too (a second signature) for the server's grace period, 24 h by
    /// default, so receivers can switch without losing a delivery.
    pub async fn rotate_secret(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint, Error> {
        let r: WebhookEndpointResponse = self
            .call(
                Method::POST,
                &["webhook-endpoints", id.as_str(), "rotate-secret"],
            )
            .await?;
        Ok(r.webhook_endpoint)
    }

    /// `POST /v1/webhook-endpoints/{id}/test`: queues a `webhook.test` event to this endpoint
    /// only.
    pub async fn test(&self, id: &WebhookEndpointId) -> Result<WebhookTestResult, Error> {
        self.call(Method::POST, &["webhook-endpoints", id.as_str(), "test"])
            .await
    }

    /// `GET /v1/webhook-endpoints/{id}/deliveries`: newest first, with status, attempts, the
    /// last answer's status and error, and the next attempt.
    pub async fn deliveries(
        &self,
        id: &WebhookEndpointId,
        params: ListDeliveries,
    ) -> Result<WebhookDeliveryList, Error> {
        self.call_query(
            Method::GET,
            &["webhook-endpoints", id.as_str(), "deliveries"],
            params.query(),
        )
        .await
    }

    /// `POST /v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry`: attempts it again now.
    /// A delivered one is `conflict` (it is never sent twice).
    pub async fn retry_delivery(
        &self,
        id: &WebhookEndpointId,
        delivery_id: &DeliveryId,
    ) -> Result<WebhookDelivery, Error> {
        let r: WebhookDeliveryResponse = self
            .call(
                Method::POST,
                &[
                    "webhook-endpoints",
                    id.as_str(),
                    "deliveries",
                    delivery_id.as_str(),
                    "retry",
                ],
            )
            .await?;
        Ok(r.delivery)
    }
}
