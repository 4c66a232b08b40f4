//! Auto-pagination: a stream over every item of a list, fetching page after page.

use std::collections::VecDeque;
use std::future::Future;

use futures_util::stream::{self, Stream};

use crate::Error;

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
