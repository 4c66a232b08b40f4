//! Building and starting the HTTP server with its background tasks.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Logger;
use actix_web::{web, App, HttpMessage, HttpServer};
use futures_util::FutureExt;

use crate::clicks::{spawn_flusher, ClickBuffer};
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
}

fn request_id_ok(v: &str) -> bool {
    !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic())
}

/// Registers the app: routes, state, request ids, the access log, JSON 404s.
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
    let header = HeaderName::from_static("x-request-id");
    App::new()
        .app_data(web::Data::new(state))
        .configure(routes::configure)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::new(
                refgrow_types::ErrorCode::ResourceNotFound,
                "No such route: check the method and the path",
            ))
        }))
        .wrap_fn(move |req, srv| {
            let rid = req
                .headers()
                .get(&header)
                .and_then(|v| v.to_str().ok())
                .filter(|v| request_id_ok(v))
                .map(str::to_string)
                .unwrap_or_else(|| crate::idgen::new_id("req_"));
            req.extensions_mut().insert(RequestId(rid.clone()));
            let header = header.clone();
            srv.call(req).map(move |res| {
                res.map(|mut res| {
                    if let Ok(v) = HeaderValue::from_str(&rid) {
                        res.headers_mut().insert(header, v);
                    }
                    res
                })
            })
        })
        .wrap(Logger::new(r#"%a "%r" %s %b %Dms rid=%{x-request-id}o"#))
}

/// Connects the database (migrating it), binds the address and starts the workers and the
/// background tasks. Must be called inside a Tokio runtime.
pub fn start(config: Config, clock: Clock) -> Result<Running, StartError> {
    let db = Db::connect(&config.database_url)?;
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
    let state = AppState {
        db: db.clone(),
        config: config.clone(),
        clock,
        clicks: ClickBuffer::new(),
    };
    spawn_flusher(
        state.clicks.clone(),
        db.clone(),
        Duration::from_millis(config.click_flush_ms.max(1)),
    );
    crate::services::jobs::spawn(state.clone());
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
    })
}
