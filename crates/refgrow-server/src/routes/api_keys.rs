//! `/v1/api-keys` (create, list, revoke: rotation is create-then-revoke) and
//! `/v1/audit-log`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use refgrow_types::api as dto;
use refgrow_types::api::{
    ApiKey, ApiKeyList, ApiKeyResponse, AuditEntry, AuditLog, CreateApiKey, CreatedApiKey, Scope,
};
use refgrow_types::KeyId;
use serde::Deserialize;

use super::ok;
use crate::auth::Auth;
use crate::clock::{ms_to_datetime, opt_ms};
use crate::db::api_keys::{self, ApiKeyRow};
use crate::db::audit as audit_store;
use crate::error::ApiError;
use crate::extract::{check_len, page, path_id, ApiJson, ApiQuery};
use crate::idempotency::{fingerprint, write_once, Answer};
use crate::openapi::doc::{
    enum_of, paging, query, query_params, text, time_range, Created, IdempotencyKey, Success,
};
use crate::routes::Routes;
use crate::state::AppState;
use crate::validate::parse_range;

/// Registers the routes.
pub fn routes(r: &mut Routes<'_>) {
    r.add(__path_create, create)
        .add(__path_list, list)
        .add(__path_revoke, revoke)
        .add(__path_audit, audit);
}

/// The API view of a stored key.
pub fn to_dto(k: &ApiKeyRow) -> ApiKey {
    ApiKey {
        id: KeyId::from_trusted(k.id.clone()),
        label: k.label.clone(),
        scopes: k
            .scopes
            .split(',')
            .filter_map(|s| match s.trim() {
                "read" => Some(Scope::Read),
                "write" => Some(Scope::Write),
                _ => None,
            })
            .collect(),
        prefix: k.key_prefix.clone(),
        rate_limit: k.rate_limit_per_sec.map(|r| r.max(0) as u32),
        created_at: ms_to_datetime(k.created_at),
        last_used_at: opt_ms(k.last_used_at),
        revoked_at: opt_ms(k.revoked_at),
        expires_at: opt_ms(k.expires_at),
    }
}

#[utoipa::path(
    post, path = "/v1/api-keys", operation_id = "createApiKey",
    tag = "keys", summary = "Create a key (its secret is shown once: the same request replayed with its Idempotency-Key is a 409 conflict naming the key, never the secret again)",
    params(IdempotencyKey),
    request_body(
        content = dto::CreateApiKey,
        example = json!({"label": "backend", "scopes": ["read", "write"]}),
    ),
    responses(Created<dto::CreatedApiKey>),
    security(("bearer" = [])),
)]
async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    if let Some(l) = &body.label {
        check_len("label", l, 1, 100)?;
    }
    let scopes = body
        .scopes
        .clone()
        .unwrap_or_else(|| vec![Scope::Read, Scope::Write]);
    if !scopes.contains(&Scope::Read) {
        return Err(ApiError::invalid("scopes", "must include 'read'"));
    }
    let read_only = !scopes.contains(&Scope::Write);
    if body.rate_limit.is_some_and(|r| r > 1_000_000) {
        return Err(ApiError::invalid(
            "rateLimit",
            "must be at most 1000000 requests per second",
        ));
    }
    let rate = body.rate_limit.map(|r| r as i32);
    let print = fingerprint(&req, &body)?;
    let now = state.clock.now_ms();
    let expires_at = match body.expires_at {
        Some(at) if at.timestamp_millis() <= now => {
            return Err(ApiError::invalid("expiresAt", "must be in the future"));
        }
        Some(at) => Some(at.timestamp_millis()),
        None => None,
    };
    let program_id = auth.program_id.clone();
    write_once(&state, &req, &auth.program_id, print, move |c| {
        let (id, secret) = crate::services::api_keys::create_key(
            c,
            &program_id,
            body.label.clone(),
            read_only,
            now,
        )?;
        if rate.is_some() {
            api_keys::set_rate_limit(c, &id, rate)?;
        }
        if expires_at.is_some() {
            api_keys::set_expiry(c, &id, expires_at)?;
        }
        let row = api_keys::find(c, &id)?.ok_or_else(|| ApiError::internal("key vanished"))?;
        // The secret is shown once: a replay of this request gets a conflict naming the key.
        let replay = ApiError::conflict(format!(
            "This request already created API key {id}; its secret was shown only once and \
             is not stored. Revoke that key if its secret was lost, and create another"
        ))
        .with_details(serde_json::json!({
            "field": "Idempotency-Key",
            "issue": "already created a key whose secret is not shown again",
            "apiKeyId": id,
        }));
        Answer::new(
            StatusCode::CREATED,
            &CreatedApiKey {
                api_key: to_dto(&row),
                key: secret,
            },
        )?
        .save_instead(&replay)
    })
    .await
}

#[utoipa::path(
    get, path = "/v1/api-keys", operation_id = "listApiKeys",
    tag = "keys", summary = "The program's keys",
    responses(Success<dto::ApiKeyList>),
    security(("bearer" = [])),
)]
async fn list(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    let rows = state
        .db
        .read(move |c| Ok(api_keys::list(c, &auth.program_id)?))
        .await?;
    Ok(ok(ApiKeyList {
        total: rows.len() as i64,
        api_keys: rows.iter().map(to_dto).collect(),
    }))
}

#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", operation_id = "revokeApiKey",
    tag = "keys", summary = "Revoke a key",
    responses(Success<dto::ApiKeyResponse>),
    security(("bearer" = [])),
)]
async fn revoke(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require_write()?;
    let id = path_id(&id, "id", KeyId::parse)?;
    let now = state.clock.now_ms();
    let program_id = auth.program_id.clone();
    let row = state
        .db
        .write(move |c| {
            let row = api_keys::find(c, id.as_str())?
                .filter(|k| k.program_id == program_id)
                .ok_or_else(|| ApiError::not_found("API key"))?;
            if row.revoked_at.is_some() {
                return Err(ApiError::conflict("This API key is already revoked"));
            }
            api_keys::revoke(c, &row.id, now)?;
            Ok(api_keys::find(c, &row.id)?.unwrap_or(row))
        })
        .await?;
    state.key_cache.clear();
    state.key_limits.forget(&row.id);
    Ok(ok(ApiKeyResponse {
        api_key: to_dto(&row),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AuditQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    key_id: Option<KeyId>,
    resource_id: Option<String>,
    action: Option<String>,
    method: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

query_params!(
    AuditQuery,
    paging(),
    text("keyId", "Only calls of this key"),
    text("resourceId", "Only calls on this resource"),
    text("action", "Only this action, e.g. 'POST /v1/affiliates'"),
    query(
        "method",
        enum_of(&["POST", "PUT", "PATCH", "DELETE"]),
        "Only this method"
    ),
    time_range()
);

#[utoipa::path(
    get, path = "/v1/audit-log", operation_id = "listAuditLog",
    tag = "keys", summary = "Every mutating call, newest first",
    params(AuditQuery),
    responses(Success<dto::AuditLog>),
    security(("bearer" = [])),
)]
async fn audit(
    state: web::Data<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = page(q.limit, q.offset)?;
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    if let Some(m) = &q.method {
        if !matches!(m.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            return Err(ApiError::invalid(
                "method",
                "must be POST, PUT, PATCH or DELETE",
            ));
        }
    }
    // Read your writes: what is buffered is written first.
    state.audit.flush(&state.db).await?;
    let log = state
        .db
        .read(move |c| {
            let filter = audit_store::AuditFilter {
                key_id: q.key_id.map(|k| k.as_str().to_string()),
                resource_id: q.resource_id,
                action: q.action,
                method: q.method,
                from,
                to,
            };
            let (rows, total) = audit_store::list(c, &auth.program_id, &filter, limit, offset)?;
            Ok(AuditLog {
                entries: rows
                    .into_iter()
                    .map(|r| AuditEntry {
                        id: r.id,
                        key_id: r.key_id,
                        action: r.action,
                        method: r.method,
                        path: r.path,
                        resource_id: r.resource_id,
                        status: r.status.clamp(0, 999) as u16,
                        request_id: r.request_id,
                        created_at: ms_to_datetime(r.created_at),
                    })
                    .collect(),
                total,
                limit,
                offset,
            })
        })
        .await?;
    Ok(ok(log))
}
