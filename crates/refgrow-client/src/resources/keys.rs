//! `/v1/api-keys` and `/v1/audit-log`.

use refgrow_types::api::{
    ApiKey, ApiKeyList, ApiKeyResponse, AuditEntry, AuditLog, CreateApiKey, CreatedApiKey,
};
use refgrow_types::KeyId;
use reqwest::Method;

use crate::Error;

/// Filters and paging of `GET /v1/audit-log`, shared with the server.
///
/// ```
/// use refgrow_client::ListAuditLog;
///
/// let deletions = ListAuditLog { method: Some("DELETE".into()), limit: Some(50), ..Default::default() };
/// # let _ = deletions;
/// ```
pub use refgrow_types::api::ListAuditLog;

resource_handle!(
    /// `/v1/api-keys`: the program's API keys. Rotate a key by creating the new one, deploying
    /// it, then revoking the old one. Get one with [`Client::api_keys`](crate::Client::api_keys).
    ///
    /// ```no_run
    /// use refgrow_client::api::{CreateApiKey, Scope};
    /// # async fn run(client: refgrow_client::Client) -> Result<(), refgrow_client::Error> {
    /// let created = client
    ///     .api_keys()
    ///     .create(CreateApiKey {
    ///         label: Some("reporting".into()),
    ///         scopes: Some(vec![Scope::Read]),
    ///         rate_limit: None,
    ///         expires_at: None,
    ///     })
    ///     .await?;
    /// println!("store {} now: it is shown only once", created.key);
    /// client.api_keys().revoke(&created.api_key.id).await?;
    /// # Ok(()) }
    /// ```
    ApiKeysApi
);

impl ApiKeysApi<'_> {
    /// `POST /v1/api-keys`: a new key of the same program. The answer holds the secret
    /// ([`CreatedApiKey::key`]), shown this once and stored by the server only as a hash.
    /// `scopes` defaults to read and write; a read-only key writing gets `permission_denied`.
    /// `expires_at` (optional, in the future) is when the key stops working. The secret is
    /// never saved for a replay: if this call's answer is lost and the client retries it with
    /// the same `Idempotency-Key`, the retry is `conflict` with the key's id in
    /// `details.apiKeyId` (revoke that key and create another). Needs a key that may write.
    pub async fn create(&self, key: CreateApiKey) -> Result<CreatedApiKey, Error> {
        self.call_json(Method::POST, &["api-keys"], &key).await
    }

    /// `GET /v1/api-keys`: every key of the program, newest first, revoked ones included
    /// (never their secrets).
    pub async fn list(&self) -> Result<ApiKeyList, Error> {
        self.call(Method::GET, &["api-keys"]).await
    }

    /// `DELETE /v1/api-keys/{id}`: revokes a key at once; its next call is
    /// `authentication_error`. Returns the key with `revokedAt` set. Revoking it again is
    /// `conflict`; another program's key is `resource_not_found`. A key may revoke itself.
    pub async fn revoke(&self, id: &KeyId) -> Result<ApiKey, Error> {
        let r: ApiKeyResponse = self
            .call(Method::DELETE, &["api-keys", id.as_str()])
            .await?;
        Ok(r.api_key)
    }
}

resource_handle!(
    /// `/v1/audit-log`: every call that changed something (POST, PUT, PATCH, DELETE), newest
    /// first, with the key that made it, the resource it touched, the status and the request
    /// id. Get one with [`Client::audit_log`](crate::Client::audit_log).
    AuditLogApi
);

impl AuditLogApi<'_> {
    paged_list!(
        /// Newest first: calls made while the stream runs shift the entries. Pin `to` to a past
        /// instant to read a stable window.
        ///
        /// ```no_run
        /// use futures_util::TryStreamExt;
        /// use refgrow_client::ListAuditLog;
        /// # async fn run(client: refgrow_client::Client) -> Result<(), refgrow_client::Error> {
        /// let window = ListAuditLog { to: Some(chrono::Utc::now()), ..Default::default() };
        /// let entries: Vec<_> = client.audit_log().list_all(window).try_collect().await?;
        /// for e in &entries {
        ///     println!("{} {} -> {} ({:?})", e.created_at, e.action, e.status, e.key_id);
        /// }
        /// # Ok(()) }
        /// ```
        GET ["audit-log"], ListAuditLog => AuditLog of AuditEntry
    );
}
