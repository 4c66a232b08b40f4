//! A synchronous facade over the async [`Client`](crate::Client), for programs without an
//! async runtime (`blocking` feature).
//!
//! It owns a single-threaded Tokio runtime and drives any async call to completion on it:
//!
//! ```no_run
//! # fn run() -> Result<(), refgrow_client::Error> {
//! let client = refgrow_client::blocking::Client::new(
//!     refgrow_client::Client::builder()
//!         .base_url("http://127.0.0.1:8080")
//!         .api_key("rg_live_...")
//!         .build()?,
//! )?;
//! let program = client.run(|c| async move { c.program().get().await })?;
//! println!("{}", program.name);
//! # Ok(()) }
//! ```
//!
//! Do not use it from inside an async runtime (Tokio panics when a runtime blocks inside
//! another); use the async client there.

use std::future::Future;
use std::sync::Arc;

use crate::Error;

/// A blocking client: the async client plus a runtime to drive it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Client {
    /// Wraps an async client, starting a single-threaded runtime for it.
    pub fn new(client: crate::Client) -> Result<Client, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start a Tokio runtime: {e}")))?;
        Ok(Client {
            inner: client,
            runtime: Arc::new(runtime),
        })
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// Runs one async call (or several) to completion and returns its result.
    pub fn run<T, F, Fut>(&self, call: F) -> T
    where
        F: FnOnce(crate::Client) -> Fut,
        Fut: Future<Output = T>,
    {
        self.runtime.block_on(call(self.inner.clone()))
    }

    /// `GET /v1/program`.
    pub fn program(&self) -> Result<crate::api::Program, Error> {
        self.run(|c| async move { c.program().get().await })
    }

    /// `GET /v1/affiliates/{id}`.
    pub fn affiliate(&self, id: &crate::AffiliateId) -> Result<crate::api::Affiliate, Error> {
        self.run(|c| async move { c.affiliates().get(id).await })
    }

    /// Every affiliate matching the filters (all pages), collected.
    pub fn all_affiliates(
        &self,
        params: crate::ListAffiliates,
    ) -> Result<Vec<crate::api::Affiliate>, Error> {
        use futures_util::TryStreamExt;
        self.run(|c| async move { c.affiliates().list_all(params).try_collect().await })
    }
}
