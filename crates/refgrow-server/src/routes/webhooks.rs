//! `/v1/webhook-endpoints`: endpoints, their secrets, test events and deliveries.

use actix_web::{web, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{
    CreateWebhookEndpoint, DeliveryStatus, UpdateWebhookEndpoint, WebhookDeliveryList,
    WebhookDeliveryResponse, WebhookEndpointList, WebhookEndpointResponse, WebhookTestResult,
};
use refgrow_types::{DeliveryId, WebhookEndpointId};
use serde::Deserialize;

use super::{created, ok};
use crate::auth::Auth;
use crate::db::webhooks as store;
use crate::error::ApiError;
use crate::extract::{page, path_id, ApiJson, ApiQuery};
use crate::openapi::doc::{paging, query_params, status, Created, Success};
use crate::routes::Routes;
use crate::services::webhooks as service;
use crate::state::AppState;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_list, list)
        .add(__path_create, create)
        .add(__path_get, get)
        .add(__path_update, update)
        .add(__path_delete, delete)
        .add(__path_rotate_secret, rotate_secret)
        .add(__path_test, test)
        .add(__path_deliveries, deliveries)
        .add(__path_retry, retry);
}

fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, ApiError> {
    path_id(raw, "id", WebhookEndpointId::parse)
}

fn answer(row: &store::EndpointRow, show_secret: bool) -> WebhookEndpointResponse {
    WebhookEndpointResponse {
        webhook_endpoint: service::to_dto(row, show_secret),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<u32>,
    offset: Option<u64>,
}

query_params!(PageQuery, paging());

#[utoipa::path(
    get, path = "/v1/webhook-endpoints", operation_id = "listWebhookEndpoints",
    tag = "webhooks", summary = "List endpoints",
    params(PageQuery),
    responses(Success<dto::WebhookEndpointList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let list = state
        .db
        .read(move |c| {
            let (rows, total) = store::list_endpoints(c, &auth.program_id, limit, offset)?;
            Ok(WebhookEndpointList {
                webhook_endpoints: rows.iter().map(|r| service::to_dto(r, false)).collect(),
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

#[utoipa::path(
    post, path = "/v1/webhook-endpoints", operation_id = "createWebhookEndpoint",
    tag = "webhooks", summary = "Register an endpoint (its secret is shown once)",
    request_body(
        content = dto::CreateWebhookEndpoint,
        example = json!({"url": "https://example.com/hooks/refgrow", "events": ["conversion.created", "commission.updated"], "description": "Billing service"}),
    ),
    responses(Created<dto::WebhookEndpointResponse>),
    security(("bearer" = [])),
)]
async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let url = service::check_url(&body.url)?;
    crate::netguard::vet_url(&url, state.config.webhook_allow_private).await?;
    let now = state.clock.now_ms();
    let sealer = state.secrets.clone();
    let row = state
        .db
        .write(move |c| service::create(c, &sealer, &auth.program_id, body, now))
        .await?;
    Ok(created(answer(&row, true)))
}

#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{id}", operation_id = "getWebhookEndpoint",
    tag = "webhooks", summary = "An endpoint",
    responses(Success<dto::WebhookEndpointResponse>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(&id)?;
    let row = state
        .db
        .read(move |c| service::load(c, &auth.program_id, id.as_str()))
        .await?;
    Ok(ok(answer(&row, false)))
}

#[utoipa::path(
    patch, path = "/v1/webhook-endpoints/{id}", operation_id = "updateWebhookEndpoint",
    tag = "webhooks", summary = "Change url, events, description or enabled",
    request_body(content = dto::UpdateWebhookEndpoint),
    responses(Success<dto::WebhookEndpointResponse>),
    security(("bearer" = [])),
)]
async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = endpoint_id(&id)?;
    if let Some(url) = &body.url {
        let url = service::check_url(url)?;
        crate::netguard::vet_url(&url, state.config.webhook_allow_private).await?;
    }
    let now = state.clock.now_ms();
    let row = state
        .db
        .write(move |c| service::update(c, &auth.program_id, id.as_str(), body, now))
        .await?;
    Ok(ok(answer(&row, false)))
}

#[utoipa::path(
    delete, path = "/v1/webhook-endpoints/{id}", operation_id = "deleteWebhookEndpoint",
    tag = "webhooks", summary = "Delete an endpoint",
    responses(Success<dto::WebhookEndpointResponse>),
    security(("bearer" = [])),
)]
async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = endpoint_id(&id)?;
    let row = state
        .db
        .write(move |c| {
            let row = service::load(c, &auth.program_id, id.as_str())?;
            store::delete_endpoint(c, &row.id)?;
            Ok(row)
        })
        .await?;
    Ok(ok(answer(&row, false)))
}

#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/rotate-secret", operation_id = "rotateWebhookSecret",
    tag = "webhooks", summary = "New secret; the old one also signs during the grace period",
    responses(Success<dto::WebhookEndpointResponse>),
    security(("bearer" = [])),
)]
async fn rotate_secret(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = endpoint_id(&id)?;
    let now = state.clock.now_ms();
    let grace_ms = i64::try_from(state.config.webhook_rotation_grace_secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000);
    let sealer = state.secrets.clone();
    let row = state
        .db
        .write(move |c| {
            service::rotate_secret(c, &sealer, &auth.program_id, id.as_str(), grace_ms, now)
        })
        .await?;
    Ok(ok(answer(&row, true)))
}

#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/test", operation_id = "testWebhookEndpoint",
    tag = "webhooks", summary = "Queue a webhook.test event to this endpoint",
    responses(Created<dto::WebhookTestResult>),
    security(("bearer" = [])),
)]
async fn test(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = endpoint_id(&id)?;
    let now = state.clock.now_ms();
    let result = state
        .db
        .write(move |c| {
            let (event, delivery) = service::send_test(c, &auth.program_id, id.as_str(), now)?;
            Ok(WebhookTestResult {
                delivery: service::delivery_to_dto(&delivery, &event.event_type),
                event: service::event_to_dto(&event)?,
            })
        })
        .await?;
    Ok(created(result))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<DeliveryStatus>,
}

query_params!(
    DeliveriesQuery,
    paging(),
    status(&["pending", "retrying", "delivered", "failed"])
);

#[utoipa::path(
    get, path = "/v1/webhook-endpoints/{id}/deliveries", operation_id = "listWebhookDeliveries",
    tag = "webhooks", summary = "Deliveries to an endpoint",
    params(DeliveriesQuery),
    responses(Success<dto::WebhookDeliveryList>),
    security(("bearer" = [])),
)]
async fn deliveries(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = endpoint_id(&id)?;
    let (limit, offset) = page(q.limit, q.offset)?;
    let list = state
        .db
        .read(move |c| {
            let endpoint = service::load(c, &auth.program_id, id.as_str())?;
            let (rows, total) = store::list_deliveries(
                c,
                &endpoint.id,
                q.status.map(DeliveryStatus::as_str),
                limit,
                offset,
            )?;
            Ok(WebhookDeliveryList {
                deliveries: service::deliveries_to_dto(c, &rows)?,
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

#[utoipa::path(
    post, path = "/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", operation_id = "retryWebhookDelivery",
    tag = "webhooks", summary = "Send a delivery again now",
    responses(Success<dto::WebhookDeliveryResponse>),
    security(("bearer" = [])),
)]
async fn retry(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let (id, delivery_id) = path.into_inner();
    let id = endpoint_id(&id)?;
    let delivery_id = path_id(&delivery_id, "deliveryId", DeliveryId::parse)?;
    let now = state.clock.now_ms();
    let delivery = state
        .db
        .write(move |c| {
            let row = service::retry(c, &auth.program_id, id.as_str(), delivery_id.as_str(), now)?;
            let mut dto = service::deliveries_to_dto(c, std::slice::from_ref(&row))?;
            dto.pop()
                .ok_or_else(|| ApiError::internal("a delivery vanished"))
        })
        .await?;
    Ok(ok(WebhookDeliveryResponse { delivery }))
}
