//! Auto-pagination: a stream over every item of a list, fetching page after page.

use std::collections::VecDeque;
use std::future::Future;

use futures_util::stream::{self, Stream};

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

/// The filters of a list call that pages by `limit` and `offset`.
pub(crate) trait Paged: Clone + Send + 'static {
    /// The page size and the first offset asked for.
    fn paging(&self) -> (Option<u32>, Option<u64>);
    /// The same filters, with this page size and offset.
    fn at(self, limit: u32, offset: u64) -> Self;
}

/// Implements [`Paged`] for filter structs with `limit: Option<u32>` and `offset: Option<u64>`.
macro_rules! paged {
    ($($t:ty),* $(,)?) => {$(
        impl crate::pagination::Paged for $t {
            fn paging(&self) -> (Option<u32>, Option<u64>) {
                (self.limit, self.offset)
            }
            fn at(self, limit: u32, offset: u64) -> Self {
                Self { limit: Some(limit), offset: Some(offset), ..self }
            }
        }
    )*};
}
pub(crate) use paged;

paged!(
    refgrow_types::api::ListAffiliates,
    refgrow_types::api::ListCommissions,
    refgrow_types::api::ListConversions,
    refgrow_types::api::ListInvitations,
    refgrow_types::api::ListAuditLog,
);

/// The `list_all` of a resource: every item matching `params`, page after page (`limit`
/// defaults to 100), from `params.offset` on. `page(client, opts, params)` fetches one page
/// with the handle's options.
pub(crate) fn list_all<P, T, F, Fut>(
    client: &Client,
    opts: &RequestOptions,
    params: P,
    page: F,
) -> impl Stream<Item = Result<T, Error>> + Send + 'static
where
    P: Paged,
    T: Send + 'static,
    F: Fn(Client, RequestOptions, P) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'static,
{
    let client = client.clone();
    let opts = opts.clone();
    let (limit, start) = params.paging();
    let limit = limit.unwrap_or(100);
    paginate(start.unwrap_or(0), move |offset| {
        page(
            client.clone(),
            opts.clone(),
            params.clone().at(limit, offset),
        )
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
