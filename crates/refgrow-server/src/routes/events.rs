//! `/v1/events`: the event log, newest first. Each event is shown as it is delivered
//! (`type`, `timestamp`, `data`) plus its `id`, the deliveries' `webhook-id`.

use actix_web::{web, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{EventList, EventResponse};
use refgrow_types::EventId;
use serde::Deserialize;

use super::ok;
use crate::auth::Auth;
use crate::db::events::{self as store, Filter};
use crate::error::ApiError;
use crate::extract::{page, path_id, ApiQuery};
use crate::openapi::doc::{paging, query_params, text, time_range, Success};
use crate::routes::Routes;
use crate::services::webhooks as service;
use crate::state::AppState;
use crate::validate::parse_range;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_list, list).add(__path_get, get);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

query_params!(
    ListQuery,
    paging(),
    text("type", "Only this event type"),
    time_range()
);

#[utoipa::path(
    get, path = "/v1/events", operation_id = "listEvents",
    tag = "webhooks", summary = "The event log, newest first",
    params(ListQuery),
    responses(Success<dto::EventList>),
    security(("bearer" = [])),
)]
async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    if let Some(t) = &q.event_type {
        service::check_event_type(t)?;
    }
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    let filter = Filter {
        event_type: q.event_type,
        from,
        to,
    };
    let list = state
        .db
        .read(move |c| {
            let (rows, total) = store::list(c, &auth.program_id, &filter, limit, offset)?;
            Ok(EventList {
                events: rows
                    .iter()
                    .map(service::event_to_dto)
                    .collect::<Result<_, _>>()?,
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(list))
}

#[utoipa::path(
    get, path = "/v1/events/{id}", operation_id = "getEvent",
    tag = "webhooks", summary = "An event",
    responses(Success<dto::EventResponse>),
    security(("bearer" = [])),
)]
async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, "id", EventId::parse)?;
    let event = state
        .db
        .read(move |c| {
            let row = store::find(c, &auth.program_id, id.as_str())?
                .ok_or_else(|| ApiError::not_found("event"))?;
            service::event_to_dto(&row)
        })
        .await?;
    Ok(ok(EventResponse { event }))
}
