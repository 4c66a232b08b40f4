//! `/v1/events`.

use chrono::{DateTime, Utc};
use refgrow_types::api::{Event, EventList, EventResponse};
use refgrow_types::EventId;
use reqwest::Method;

use super::query_time;
use crate::pagination::Query;
use crate::Error;

resource_handle!(
    /// `/v1/events`: the event log, newest first; each event as it is delivered to webhook
    /// endpoints, plus its id. Get one with [`Client::events`](crate::Client::events).
    EventsApi
);

/// Filters and paging of `GET /v1/events`. Unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListEvents {
    /// Only events of this type (`conversion.created`, …).
    pub event_type: Option<String>,
    /// Only events at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only events before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1..=100.
    pub limit: Option<u32>,
    /// How many to skip.
    pub offset: Option<u64>,
}

crate::pagination::paged!(ListEvents, query: ListEvents::query_pairs);

impl ListEvents {
    fn query_pairs(&self) -> Result<Query, Error> {
        let mut q = Vec::new();
        if let Some(t) = &self.event_type {
            q.push(("type", t.clone()));
        }
        if let Some(t) = &self.from {
            q.push(("from", query_time(t)));
        }
        if let Some(t) = &self.to {
            q.push(("to", query_time(t)));
        }
        if let Some(l) = self.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(o) = self.offset {
            q.push(("offset", o.to_string()));
        }
        Ok(q)
    }
}

impl EventsApi<'_> {
    paged_list!(
        /// Newest first.
        GET ["events"], ListEvents => EventList of Event
    );

    /// `GET /v1/events/{id}`.
    pub async fn get(&self, id: &EventId) -> Result<Event, Error> {
        let r: EventResponse = self.call(Method::GET, &["events", id.as_str()]).await?;
        Ok(r.event)
    }
}
