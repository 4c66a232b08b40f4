//! API keys (`/v1/api-keys`) and the audit log (`/v1/audit-log`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::KeyId;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// GET requests.
    Read,
    /// Everything that changes data.
    Write,
}

/// A key as the API shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// `key_…`.
    pub id: KeyId,
    /// A label to recognize it by.
    pub label: Option<String>,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The first characters of the secret.
    pub prefix: String,
    /// Its own limit in requests per second (`null`: the server default; 0: unlimited).
    pub rate_limit: Option<u32>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last used (recorded at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it stops working (`null`: never). An expired key gets `authentication_error`.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `POST /v1/api-keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    /// A label (1..=100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `["read"]` or `["read", "write"]` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
    /// Requests per second for this key (0: unlimited; absent: the server default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// When the key stops working (RFC 3339, in the future; absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The answer to `POST /v1/api-keys`: the key's secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The key.
    pub api_key: ApiKey,
    /// The secret to send as `Authorization: Bearer …`; it is stored only as a hash and is
    /// never saved for a replay: the same request sent again with its `Idempotency-Key` is a
    /// `conflict` naming the key, not a second copy of the secret.
    pub key: String,
}

/// `{"apiKey": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyResponse {
    /// The key.
    pub api_key: ApiKey,
}

/// The program's keys, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    /// The keys, revoked ones included.
    pub api_keys: Vec<ApiKey>,
    /// How many in all.
    pub total: i64,
}

/// One mutating call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// `aud_…`.
    pub id: String,
    /// The key that made the call.
    pub key_id: Option<String>,
    /// `METHOD /v1/route/{pattern}`.
    pub action: String,
    /// HTTP method.
    pub method: String,
    /// The path called.
    pub path: String,
    /// The resource acted on, when known.
    pub resource_id: Option<String>,
    /// The response status.
    pub status: u16,
    /// The request id (`X-Request-Id`).
    pub request_id: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditLog {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// How many match in all.
    pub total: i64,
    /// The page size used.
    pub limit: u32,
    /// How many were skipped.
    pub offset: u64,
}
