//! Building and starting the HTTP server with its background tasks.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::dev::{Server, Service, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::{Condition, Logger};
use actix_web::{web, App, HttpMessage, HttpServer};

use crate::audit::{AuditBuffer, AuditRow};
use crate::auth::Auth;
use crate::metrics::Metrics;
use crate::ratelimit::{Decision, RateLimiter};

use crate::clicks::{spawn_flusher, ClickBuffer, ClickSettings};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbSetupError};
use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database.
    #[error("{0}")]
    Database(#[from] DbSetupError),
    /// The metrics registry.
    #[error("cannot set up metrics: {0}")]
    Metrics(String),
    /// A setting that cannot be used.
    #[error("{0}")]
    Setting(String),
    /// The click spill file could not be read.
    #[error("cannot read the click spill file (REFGROW_CLICK_SPILL_PATH): {0}")]
    Spill(std::io::Error),
    /// The listening address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The id of a request, echoed in `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A started server.
pub struct Running {
    /// The address it listens on (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Its state (tests reach the clock and the click buffer through it).
    pub state: AppState,
    /// The server future; await it (or spawn it) to serve.
    pub server: Server,
    /// The webhook delivery worker (stopped by [`shutdown`]).
    pub deliveries: crate::workers::delivery::Deliveries,
}

/// The request id header.
const REQUEST_ID: &str = "x-request-id";

fn request_id_ok(v: &str) -> bool {
    !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic())
}

/// Registers the app: routes, state, request ids, rate-limit headers, metrics, the audit
/// log, the access log and JSON 404s.
pub fn app_factory(
    state: AppState,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let proxies = state.trusted_proxies.clone();
    // One shared state: the middleware below clones this handle (an `Arc`) per request, not
    // the state's dozen fields.
    let observed = web::Data::new(state);
    App::new()
        .app_data(observed.clone())
        .configure(routes::configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(
                refgrow_types::ErrorCode::ResourceNotFound,
                "No such route: check the method and the path",
            ))
        }))
        .wrap_fn(move |req, srv| {
            let started = Instant::now();
            let rid = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .filter(|v| request_id_ok(v))
                .map(str::to_string)
                .unwrap_or_else(|| crate::idgen::new_id("req_"));
            req.extensions_mut().insert(RequestId(rid.clone()));
            let mutating = matches!(
                *req.method(),
                Method::POST | Method::PUT | Method::PATCH | Method::DELETE
            );
            let state = observed.clone();
            let fut = srv.call(req);
            async move {
                let mut res = fut.await?;
                if let Ok(v) = HeaderValue::from_str(&rid) {
                    res.headers_mut()
                        .insert(HeaderName::from_static(REQUEST_ID), v);
                }
                let decision = res.request().extensions().get::<Decision>().copied();
                if let Some(d) = decision {
                    for (name, value) in d.headers() {
                        if let Ok(v) = HeaderValue::from_str(&value) {
                            res.headers_mut().insert(HeaderName::from_static(name), v);
                        }
                    }
                }
                let route = res
                    .request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".into());
                let method = res.request().method().to_string();
                state
                    .metrics
                    .observe(&method, &route, res.status().as_u16(), started.elapsed());
                let auth = res.request().extensions().get::<Auth>().cloned();
                // Click tracking is not repeated in the audit log: each click is its own
                // append-only row (the clicks table), and auditing it would double its writes.
                let audited = mutating && route != "/v1/referrals/track";
                match auth {
                    Some(auth) if audited => {
                        Ok(audit(&state, auth, &method, &route, &rid, res).await)
                    }
                    _ => Ok(res.map_into_boxed_body()),
                }
            }
        })
        // The access log renders every request's line (peer address, request line, header)
        // before the logger's level is consulted: leave it out when its lines would be
        // dropped anyway (about 3% of a click's CPU under load).
        .wrap(Condition::new(
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info),
            Logger::new(r#"%{client}xi "%{request}xi" %s %b %Dms rid=%{x-request-id}o"#)
                .custom_request_replace("request", |req| {
                    format!(
                        "{} {} {:?}",
                        req.method(),
                        redact_uri(&req.uri().to_string()),
                        req.version()
                    )
                })
                .custom_request_replace("client", move |req| {
                    crate::client_ip::client_ip(req.request(), &proxies)
                        .map(|ip| ip.to_string())
                        .unwrap_or_else(|| "-".into())
                }),
        ))
}

/// A request URI fit for the logs: the token of an invitation link (`/v1/invitations/{token}
/// /accept`, the invitee's only credential) and the value of any `token` query parameter
/// (dashboard and sign-in links) are replaced by `[redacted]`.
pub fn redact_uri(uri: &str) -> String {
    const PREFIX: &str = "/v1/invitations/";
    let uri = match uri.find(PREFIX) {
        Some(at) => {
            let start = at + PREFIX.len();
            let end = uri[start..]
                .find(['/', '?'])
                .map(|n| start + n)
                .unwrap_or(uri.len());
            format!("{}[redacted]{}", &uri[..start], &uri[end..])
        }
        None => uri.to_string(),
    };
    match uri.split_once('?') {
        Some((path, query)) if query.split('&').any(|p| p.starts_with("token=")) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|p| {
                    if p.starts_with("token=") {
                        "token=[redacted]"
                    } else {
                        p
                    }
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        _ => uri,
    }
}

/// Records a mutating call in the audit log, reading the resource id from the path or the
/// answer, and hands the response on unchanged.
async fn audit(
    state: &AppState,
    auth: Auth,
    method: &str,
    route: &str,
    rid: &str,
    res: ServiceResponse,
) -> ServiceResponse {
    let (req, res) = res.into_parts();
    let status = res.status();
    let path_id = req
        .match_info()
        .iter()
        .find(|(name, _)| matches!(*name, "id" | "key" | "code"))
        .map(|(_, v)| v.to_string());
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let resource_id = path_id.or_else(|| {
        status
            .is_success()
            .then(|| crate::audit::resource_id_of(&bytes))
            .flatten()
    });
    let now = state.clock.now_ms();
    state.audit.push(AuditRow {
        id: crate::audit::new_id(),
        program_id: auth.program_id,
        key_id: Some(auth.key_id),
        method: method.to_string(),
        path: redact_uri(req.path()).chars().take(500).collect(),
        action: format!("{method} {route}"),
        resource_id,
        status: i32::from(status.as_u16()),
        request_id: rid.to_string(),
        created_at: now,
    });
    ServiceResponse::new(req, head.set_body(BoxBody::new(bytes)))
}

/// The spill file: `REFGROW_CLICK_SPILL_PATH`, else `refgrow-clicks-{port}.spill` beside
/// the SQLite file (or in the working directory on PostgreSQL or an in-memory SQLite).
fn spill_path(config: &Config, db: &Db, addr: SocketAddr) -> std::path::PathBuf {
    if let Some(p) = config
        .click_spill_path
        .as_ref()
        .filter(|p| !p.trim().is_empty())
    {
        return p.trim().into();
    }
    let name = format!("refgrow-clicks-{}.spill", addr.port());
    let dir = match (
        db.backend,
        crate::db::parse_database_url(&config.database_url),
    ) {
        (crate::db::Backend::Sqlite, Ok(t)) if !t.conninfo.starts_with(':') => {
            std::path::Path::new(&t.conninfo)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default()
        }
        _ => std::path::PathBuf::new(),
    };
    dir.join(name)
}

/// Connects the database (migrating it), binds the address and starts the workers and the
/// background tasks. Must be called inside a Tokio runtime.
pub fn start(config: Config, clock: Clock) -> Result<Running, StartError> {
    let trusted_proxies = crate::client_ip::parse_trusted(config.trusted_proxies.as_deref())
        .map_err(StartError::Setting)?;
    let db = Db::connect_with(
        &config.database_url,
        &crate::db::DbOptions {
            pool_timeout: Duration::from_millis(config.db_pool_timeout_ms),
            sale_writers: usize::from(config.sale_writers),
        },
    )?;
    let secrets = crate::secrets::load(&config).map_err(|e| StartError::Setting(e.to_string()))?;
    {
        let mut c = db
            .write_conn()
            .map_err(|e| StartError::Setting(format!("cannot reach the database: {e}")))?;
        match crate::secrets::seal_clear_rows(&mut c, &secrets) {
            Ok(0) => {}
            Ok(n) => log::info!(
                "encrypted {n} stored secrets that were in clear (key {})",
                secrets.key_id()
            ),
            Err(e) => {
                return Err(StartError::Setting(format!(
                    "cannot encrypt the stored secrets: {e}"
                )))
            }
        }
        match crate::secrets::foreign_key_id(&mut c, &secrets) {
            Ok(None) => {}
            Ok(Some(kid)) => {
                return Err(StartError::Setting(format!(
                    "stored secrets are encrypted under key {kid}, but this server has key {} \
                     ({}): start it with the REFGROW_SECRET_KEY the other replicas use, or \
                     re-encrypt with `refgrow-server secret rotate`",
                    secrets.key_id(),
                    match config.secret_key.as_ref().and_then(|k| k.value()) {
                        Some(_) => "from REFGROW_SECRET_KEY".to_string(),
                        None =>
                            format!("from {}", crate::secrets::key_file_path(&config).display()),
                    }
                )))
            }
            Err(e) => return Err(StartError::Setting(format!("cannot read secrets: {e}"))),
        }
    }
    if config.webhook_allow_private {
        log::warn!(
            "REFGROW_WEBHOOK_ALLOW_PRIVATE=true: webhook endpoints may point at private and \
             loopback addresses"
        );
    }
    let listener = TcpListener::bind(&config.bind).map_err(|source| StartError::Bind {
        addr: config.bind.clone(),
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind.clone(),
        source,
    })?;
    let mut config = config;
    if config.bind.ends_with(":0") {
        config.bind = addr.to_string();
    }
    let metrics = Metrics::new().map_err(|e| StartError::Metrics(e.to_string()))?;
    let clicks = ClickBuffer::new(
        ClickSettings {
            max_held: usize::try_from(config.click_buffer_max).unwrap_or(usize::MAX),
            sync: config.click_sync,
            spill_path: Some(spill_path(&config, &db, addr)),
        },
        metrics.clicks.clone(),
        clock.clone(),
    );
    clicks.load_spill().map_err(StartError::Spill)?;
    let state = AppState {
        db: db.clone(),
        config: config.clone(),
        clock: clock.clone(),
        clicks,
        audit: AuditBuffer::new(metrics.audit.clone()),
        key_cache: crate::auth::KeyCache::new(clock.clone()),
        key_limits: RateLimiter::new(clock.clone()),
        ip_limits: RateLimiter::new(clock.clone()),
        metrics,
        key_touched: crate::auth::KeyUses::new(clock),
        secrets,
        trusted_proxies: std::sync::Arc::new(trusted_proxies),
        outbox_depth: Default::default(),
    };
    db.spawn_prober();
    crate::audit::spawn_flusher(
        state.audit.clone(),
        db.clone(),
        Duration::from_millis(config.click_flush_ms.max(1)),
    );
    spawn_flusher(
        state.clicks.clone(),
        db.clone(),
        Duration::from_millis(config.click_flush_ms.max(1)),
    );
    crate::workers::jobs::spawn(state.clone());
    crate::workers::jobs::spawn_folder(state.clone());
    let deliveries = crate::workers::delivery::spawn(state.clone());
    crate::workers::mail::spawn(state.clone());
    let factory_state = state.clone();
    let mut server =
        HttpServer::new(move || app_factory(factory_state.clone())).shutdown_timeout(20);
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server
        .listen(listener)
        .map_err(|source| StartError::Bind {
            addr: config.bind.clone(),
            source,
        })?
        .run();
    Ok(Running {
        addr,
        state,
        server,
        deliveries,
    })
}

/// What a graceful stop left behind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stopped {
    /// The clicks.
    pub clicks: crate::clicks::StopReport,
    /// The webhook deliveries in flight.
    pub deliveries: crate::workers::delivery::DeliveriesStopped,
}

impl Stopped {
    /// The exit code: non-zero when acknowledged clicks could not be persisted.
    pub fn exit_code(&self) -> i32 {
        if self.clicks.lost > 0 {
            2
        } else {
            0
        }
    }
}

/// The graceful stop, once the HTTP server has stopped: webhook deliveries in flight are
/// finished or released for immediate retry, every held click is written (retrying until
/// `REFGROW_SHUTDOWN_TIMEOUT_SECS`, then spilled to disk) and so is the audit log (retried
/// within the same time; what it cannot write is logged as lost).
pub async fn shutdown(
    state: &AppState,
    deliveries: &crate::workers::delivery::Deliveries,
) -> Stopped {
    let timeout = Duration::from_secs(state.config.shutdown_timeout_secs);
    let webhook_wait = Duration::from_secs(state.config.webhook_timeout_secs.saturating_add(2));
    let deliveries = deliveries.stop(state, timeout.min(webhook_wait)).await;
    // Both buffers stop the same way (see `crate::buffer`), side by side within the timeout.
    let (clicks, _audit) = tokio::join!(
        state.clicks.stop(&state.db, timeout),
        state.audit.stop(&state.db, timeout)
    );
    Stopped { clicks, deliveries }
}

#[cfg(test)]
mod tests {
    use super::redact_uri;

    #[test]
    fn invitation_tokens_never_reach_the_log() {
        assert_eq!(
            redact_uri("/v1/invitations/inv_tok_SECRET123/accept"),
            "/v1/invitations/[redacted]/accept"
        );
        assert_eq!(
            redact_uri("/v1/invitations/SECRET?x=1"),
            "/v1/invitations/[redacted]?x=1"
        );
        assert_eq!(
            redact_uri("/v1/affiliates/invitations/inv_1"),
            "/v1/affiliates/invitations/inv_1"
        );
        assert_eq!(
            redact_uri("/embed/referrals?theme=dark&token=rgemb_SECRET&days=7"),
            "/embed/referrals?theme=dark&token=[redacted]&days=7"
        );
        assert_eq!(
            redact_uri("/portal/signin?token=rgml_SECRET"),
            "/portal/signin?token=[redacted]"
        );
    }
}
