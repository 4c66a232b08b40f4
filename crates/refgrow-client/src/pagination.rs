//! Auto-pagination: a stream over every item of a list, fetching page after page.

use std::collections::VecDeque;
use std::future::Future;

use futures_util::stream::{self, Stream};
use refgrow_types::api;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::client::Call;
use crate::{Client, Error, RequestOptions};

/// One page of a list: its items and the list's paging fields.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

struct State<T, F> {
    fetch: F,
    offset: u64,
    buffer: VecDeque<T>,
    done: bool,
}

/// The query parameters of a call, rendered.
pub(crate) type Query = Vec<(&'static str, String)>;

/// The filters of a list call that pages by `limit` and `offset`.
pub(crate) trait Paged: Clone + Send + 'static {
    /// The page size and the first offset asked for.
    fn paging(&self) -> (Option<u32>, Option<u64>);
    /// The same filters, with this page size and offset.
    fn at(self, limit: u32, offset: u64) -> Self;
    /// The filters as query parameters.
    fn query(&self) -> Result<Query, Error>;
}

/// Implements [`Paged`] for filter structs with `limit: Option<u32>` and `offset: Option<u64>`,
/// rendered by `query` (a `fn(&Self) -> Result<Query, Error>`), or by serde
/// ([`to_query`](crate::resources::params)) when none is named.
macro_rules! paged {
    ($t:ty, query: $query:expr) => {
        impl crate::pagination::Paged for $t {
            fn paging(&self) -> (Option<u32>, Option<u64>) {
                (self.limit, self.offset)
            }
            fn at(self, limit: u32, offset: u64) -> Self {
                Self { limit: Some(limit), offset: Some(offset), ..self }
            }
            fn query(&self) -> Result<crate::pagination::Query, crate::Error> {
                $query(self)
            }
        }
    };
    ($($t:ty),* $(,)?) => {$(
        crate::pagination::paged!($t, query: crate::resources::params::to_query);
    )*};
}
pub(crate) use paged;

/// A list answer: one page of items and the list's `total`.
pub(crate) trait ListPage: DeserializeOwned {
    /// What the list holds.
    type Item;
    /// The items and the total.
    fn into_page(self) -> Page<Self::Item>;
}

/// Implements [`ListPage`]: `List { field: Item }` for each list answer, `field` holding the
/// items.
macro_rules! list_pages {
    ($($list:ty { $field:ident: $item:ty }),* $(,)?) => {$(
        impl ListPage for $list {
            type Item = $item;
            fn into_page(self) -> Page<$item> {
                Page { items: self.$field, total: self.total }
            }
        }
    )*};
}

list_pages!(
    api::AffiliateList {
        affiliates: api::Affiliate
    },
    api::AuditLog {
        entries: api::AuditEntry
    },
    api::CommissionList {
        commissions: api::Commission
    },
    api::ConversionList {
        conversions: api::Conversion
    },
    api::EventList { events: api::Event },
    api::InvitationList {
        invitations: api::Invitation
    },
    api::PayoutList {
        payouts: api::Payout
    },
);

/// The `list_all` of a resource: every item of the list `L` at `GET /v1/<path>` matching
/// `params`, page after page (`limit` defaults to 100), from `params.offset` on, with the
/// handle's options.
pub(crate) fn list_all<P, L>(
    client: &Client,
    opts: &RequestOptions,
    path: &'static [&'static str],
    params: P,
) -> impl Stream<Item = Result<L::Item, Error>> + Send + 'static
where
    P: Paged,
    L: ListPage + Send + 'static,
    L::Item: Send + 'static,
{
    let client = client.clone();
    let opts = opts.clone();
    let (limit, start) = params.paging();
    let limit = limit.unwrap_or(100);
    paginate(start.unwrap_or(0), move |offset| {
        let (client, opts) = (client.clone(), opts.clone());
        let query = params.clone().at(limit, offset).query();
        async move {
            let call = Call::new(Method::GET, path, &opts).query(query?);
            let list: L = client.send(call).await?;
            Ok(list.into_page())
        }
    })
}

/// Streams every item from `offset` on, calling `fetch(offset)` for each page. Stops after the
/// page that reaches `total`, after an empty page, or after the first error (which is yielded).
pub(crate) fn paginate<T, F, Fut>(offset: u64, fetch: F) -> impl Stream<Item = Result<T, Error>>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    let state = State {
        fetch,
        offset,
        buffer: VecDeque::new(),
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        if let Some(item) = st.buffer.pop_front() {
            return Some((Ok(item), st));
        }
        if st.done {
            return None;
        }
        match (st.fetch)(st.offset).await {
            Err(e) => {
                st.done = true;
                Some((Err(e), st))
            }
            Ok(page) => {
                let n = page.items.len() as u64;
                st.offset = st.offset.saturating_add(n);
                let total = u64::try_from(page.total).unwrap_or(0);
                if n == 0 || st.offset >= total {
                    st.done = true;
                }
                st.buffer.extend(page.items);
                let item = st.buffer.pop_front()?;
                Some((Ok(item), st))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn walks_every_page_once() {
        let all: Vec<u32> = (0..7).collect();
        let mut calls = Vec::new();
        let items: Vec<u32> = {
            let calls = &mut calls;
            let all = &all;
            paginate(0, move |offset| {
                calls.push(offset);
                let page: Vec<u32> = all.iter().skip(offset as usize).take(3).copied().collect();
                async move {
                    Ok(Page {
                        items: page,
                        total: 7,
                    })
                }
            })
            .map(|r| r.unwrap_or(u32::MAX))
            .collect()
            .await
        };
        assert_eq!(items, all);
        assert_eq!(calls, vec![0, 3, 6]);
    }

    #[tokio::test]
    async fn stops_at_an_error_or_an_empty_page() {
        let s = paginate(0, |offset| async move {
            if offset == 0 {
                Ok(Page {
                    items: vec![1],
                    total: 5,
                })
            } else {
                Err::<Page<i32>, _>(Error::Config("boom".into()))
            }
        });
        let v: Vec<Result<i32, Error>> = s.collect().await;
        assert_eq!(v.len(), 2);
        assert!(v[1].is_err());

        let s = paginate(0, |_| async {
            Ok(Page::<i32> {
                items: vec![],
                total: 5,
            })
        });
        assert_eq!(s.collect::<Vec<_>>().await.len(), 0);
    }
}
