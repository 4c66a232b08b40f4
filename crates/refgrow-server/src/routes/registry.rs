//! Registering an operation and documenting it are one call: [`Routes::add`] takes a
//! handler and the `__path_<handler>` type that its `#[utoipa::path(...)]` attribute made,
//! and registers the handler at the method and path *of that documentation*. There is no
//! other way to register an API route (a test checks that `routes/` registers nothing
//! through actix-web directly), so no route can be served undocumented, nor documented at a
//! path it is not served at.
//!
//! The same registration function ([`super::register()`]) runs twice: on the app's
//! `ServiceConfig` ([`Routes::registering`]) and, to build the OpenAPI document, into a list
//! of operations ([`Routes::documenting`], [`super::documented`]).
//!
//! This is what `utoipa-actix-web`'s `scope`/`service` do, without its requirement that
//! handlers be actix-web's macro services (`#[get("…")]` turns a handler into a type, which
//! the compatibility layer could no longer call as a function) and without its `.route()`
//! that registers undocumented. Like that crate, it reads the tags and the body types of an
//! attribute through the two traits the attribute implements for them (`utoipa::__dev::Tags`
//! and `SchemaReferences`, public but hidden; utoipa's version is pinned by `Cargo.lock`, and
//! a change to them fails the build, not the document).

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder};
use utoipa::openapi::path::HttpMethod;

use crate::openapi::{collect, Documented};

enum Sink<'a> {
    Register(&'a mut web::ServiceConfig),
    Document(&'a mut Vec<Documented>),
}

/// Where routes are registered: an actix-web `ServiceConfig`, or the list of documented
/// operations; under a path prefix (a scope).
pub struct Routes<'a> {
    sink: Sink<'a>,
    prefix: String,
}

fn actix_method(m: &HttpMethod) -> Method {
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    }
}

impl<'a> Routes<'a> {
    /// Registers on an actix-web app (or scope) config.
    pub fn registering(cfg: &'a mut web::ServiceConfig) -> Routes<'a> {
        Routes {
            sink: Sink::Register(cfg),
            prefix: String::new(),
        }
    }

    /// Lists the operations instead of registering them.
    pub fn documenting(out: &'a mut Vec<Documented>) -> Routes<'a> {
        Routes {
            sink: Sink::Document(out),
            prefix: String::new(),
        }
    }

    /// Registers `handler` at the method and path documented by `P` (`__path_<handler>`,
    /// made by `#[utoipa::path(...)]`; pass the unit value). The documented path is the full
    /// path; under a scope it must begin with the scope's prefix.
    ///
    /// # Panics
    ///
    /// When the documented path is outside the current scope: a mistake in the attribute,
    /// which every test that starts the app finds.
    pub fn add<P, F, Args>(&mut self, _doc: P, handler: F) -> &mut Self
    where
        P: utoipa::Path + utoipa::__dev::Tags<'static> + utoipa::__dev::SchemaReferences,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = P::path();
        let Some(local) = path.strip_prefix(self.prefix.as_str()) else {
            panic!(
                "{path} is documented outside the scope {} it is registered in",
                self.prefix
            );
        };
        match &mut self.sink {
            Sink::Register(cfg) => {
                for m in P::methods() {
                    cfg.route(local, web::method(actix_method(&m)).to(handler.clone()));
                }
            }
            Sink::Document(out) => {
                // The envelopes and other named schemas recorded while the operation is
                // built, and the body types named by the attribute with the types they
                // refer to: the operation's part of `components/schemas`.
                let (mut operation, mut schemas) = collect::collecting(P::operation);
                let mut bodies = Vec::new();
                <P as utoipa::__dev::SchemaReferences>::schemas(&mut bodies);
                schemas.extend(bodies);
                operation.tags.get_or_insert_with(Vec::new).extend(
                    <P as utoipa::__dev::Tags>::tags()
                        .into_iter()
                        .map(str::to_string),
                );
                for method in P::methods() {
                    out.push(Documented {
                        method,
                        path: path.clone(),
                        operation: operation.clone(),
                        schemas: schemas.clone(),
                    });
                }
            }
        }
        self
    }

    /// Registers what `f` registers under `prefix` (an actix-web scope).
    pub fn scope(&mut self, prefix: &str, f: impl FnOnce(&mut Routes<'_>)) -> &mut Self {
        let full = format!("{}{prefix}", self.prefix);
        match &mut self.sink {
            Sink::Register(cfg) => {
                cfg.service(web::scope(prefix).configure(|inner| {
                    f(&mut Routes {
                        sink: Sink::Register(inner),
                        prefix: full,
                    })
                }));
            }
            Sink::Document(out) => f(&mut Routes {
                sink: Sink::Document(out),
                prefix: full,
            }),
        }
        self
    }
}
