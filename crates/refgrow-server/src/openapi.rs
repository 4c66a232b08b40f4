//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API.
//!
//! Every operation is documented beside its handler, by utoipa's `#[utoipa::path(...)]`
//! attribute (method, path, `operationId`, tag, summary, query parameters, body with its
//! example, success answer, security), and registered from that documentation: the
//! handler is served at the method and path its attribute names ([`crate::routes::Routes`]),
//! so a route cannot be registered undocumented nor documented where it is not served. The
//! vocabulary the attributes use beyond utoipa's own (the success envelope, the query
//! parameter helpers, `IdempotencyKey`) is [`doc`].
//!
//! What every operation shares is added here, once ([`build`]): the path parameters, read
//! from the path; the error envelope for each error status it can return (the
//! authentication ones only when it has `security`); the `200` of an idempotent write's
//! replay; the headers ([`headers`]). The tests check that every tag is described and that
//! the app answers every documented route.
//!
//! Every request and response body schema is derived (utoipa `ToSchema`) from the very types
//! in `refgrow-types` that the handlers deserialize and serialize, so a body cannot drift from
//! its schema. `components/schemas` is not a list kept by hand: the body types an attribute
//! names, and every type answered in an envelope ([`collect::schema_ref`]), are recorded with
//! everything they refer to while [`build`] runs ([`collect`]). The webhook events
//! ([`webhooks`], OpenAPI 3.1 `webhooks`) are added to the built document, and the tests
//! check that no `$ref` points at nothing ([`refs`]).

pub mod collect;
pub mod doc;
pub mod headers;
pub mod refs;
pub mod webhooks;

use std::sync::OnceLock;

use refgrow_types::error::ErrorEnvelope;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, RefOr,
    Required, ResponseBuilder, Schema,
};

use collect::schema_ref;
use doc::prim;

/// One operation as its handler's `#[utoipa::path(...)]` describes it (listed by
/// `crate::routes::documented`, with the same call that registers the handler).
pub struct Documented {
    /// The method.
    pub method: HttpMethod,
    /// The full path (scope included), with `{param}` segments.
    pub path: String,
    /// The operation, with its tags.
    pub operation: Operation,
    /// The named schemas it refers to: its body types, its answers' envelopes and data, and
    /// everything they refer to.
    pub schemas: collect::Named,
}

/// The error statuses every operation documents.
const ERROR_STATUSES: &[(u16, &str)] = &[
    (
        400,
        "invalid_request: a field is malformed, missing, of the wrong type or out of range",
    ),
    (
        401,
        "authentication_error: no key, an unknown key or a revoked key",
    ),
    (403, "permission_denied: a read-only key writing"),
    (404, "resource_not_found: no such resource in this program"),
    (
        409,
        "conflict: a duplicate, an idempotent replay with another body, an illegal transition",
    ),
    (413, "payload_too_large: the body is over the limit"),
    (
        429,
        "rate_limit_exceeded: over the key's rate; see Retry-After",
    ),
    (
        503,
        "service_unavailable: the database is not reachable right now",
    ),
];

fn path_params(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(prim(Type::String)))
                .build()
        })
        .collect()
}

/// The groups of operations, in the order they are shown (a test checks that every
/// operation's tag is here: the linter wants each described).
const TAGS: &[(&str, &str)] = &[
    (
        "program",
        "The program of the API key: settings and the commission rule",
    ),
    ("keys", "API keys and the audit log of every mutating call"),
    ("affiliates", "The people who refer customers"),
    ("invitations", "Inviting affiliates by email"),
    (
        "embed",
        "The embeddable referral dashboard: tokens that open one affiliate's dashboard",
    ),
    ("tracking", "Referral links, clicks and customers"),
    ("sales", "Conversions, transactions and refunds"),
    ("commissions", "What affiliates earn, and its approval"),
    ("payouts", "Paying affiliates what they earned"),
    ("stats", "Totals and time series"),
    (
        "webhooks",
        "Webhook endpoints, deliveries and the event log",
    ),
    ("stripe", "The Stripe integration"),
    (
        "compat",
        "The seed APIs' calls accepted as they are written (docs/compat.md)",
    ),
    ("operations", "Health, metrics and this document"),
];

/// The method as under a path item.
fn method_name(m: &HttpMethod) -> &'static str {
    match m {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Patch => "patch",
        HttpMethod::Delete => "delete",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    }
}

/// The whole document of `operations`: the operations, their named schemas, headers and
/// webhooks.
pub fn build(operations: Vec<Documented>) -> serde_json::Value {
    let operation_schemas: Vec<collect::Named> =
        operations.iter().map(|o| o.schemas.clone()).collect();
    let ((api, decorations, (hooks, hook_schemas)), mut named) = collect::collecting(|| {
        let (api, decorations) = build_paths(operations);
        (api, decorations, webhooks::webhooks())
    });
    for schemas in operation_schemas {
        named.extend(schemas);
    }
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    let mut schemas = match doc["components"]["schemas"].take() {
        serde_json::Value::Object(listed) => listed,
        _ => serde_json::Map::new(),
    };
    for (name, schema) in named {
        schemas.insert(name, serde_json::to_value(&schema).unwrap_or_default());
    }
    schemas.extend(hook_schemas);
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        headers::decorate(paths, &decorations);
    }
    let mut parameters = headers::parameters();
    if let (Some(all), Some(hook)) = (
        parameters.as_object_mut(),
        webhooks::header_parameters().as_object(),
    ) {
        all.extend(hook.clone());
    }
    doc["components"]["schemas"] = serde_json::Value::Object(schemas);
    doc["components"]["parameters"] = parameters;
    doc["components"]["headers"] = headers::headers();
    doc["webhooks"] = hooks;
    doc["tags"] = TAGS
        .iter()
        .map(|(name, description)| serde_json::json!({"name": name, "description": description}))
        .collect();
    // Relative: the server that serves this document (paths begin with /v1).
    doc["servers"] = serde_json::json!([{"url": "/", "description": "This server"}]);
    doc["info"]["license"] = serde_json::json!({"name": "Apache-2.0", "identifier": "Apache-2.0"});
    doc
}

/// Completes an operation as its attribute describes it with what every operation shares:
/// the path parameters (read from the path), the error answers (those of authentication
/// only when the operation has `security`), the replay's `200` of an idempotent write, and
/// an optional body's `required: false`. Answers whether the key is required and whether the
/// operation takes an `Idempotency-Key`.
fn complete(path: &str, mut op: Operation) -> (Operation, bool, bool) {
    let auth = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut idempotent = false;
    let mut parameters = path_params(path);
    for p in op.parameters.take().unwrap_or_default() {
        if p.parameter_in == ParameterIn::Header && p.name == doc::IDEMPOTENCY_KEY {
            // Referred to as `#/components/parameters/IdempotencyKey` (`headers::decorate`).
            idempotent = true;
        } else {
            parameters.push(p);
        }
    }
    op.parameters = (!parameters.is_empty()).then_some(parameters);
    if let Some(body) = op.request_body.as_mut() {
        // `request_body(content = Option<T>)`: utoipa leaves `required` out and makes the
        // schema "null or T"; an optional body is one that may be absent, not `null`.
        if body.required.is_none() {
            body.required = Some(Required::False);
            for content in body.content.values_mut() {
                if let Some(schema) = content.schema.take() {
                    content.schema = Some(not_null(schema));
                }
            }
        }
    }
    let responses = &mut op.responses.responses;
    if idempotent && !responses.contains_key("200") {
        // A replay of an idempotent write answers 200 with the saved body.
        if let Some(ok) = responses.values().next().cloned() {
            responses.insert("200".to_string(), ok);
        }
    }
    for (status, text) in ERROR_STATUSES {
        if !auth && matches!(status, 401 | 403 | 429) {
            continue;
        }
        responses.insert(
            status.to_string(),
            ResponseBuilder::new()
                .description(*text)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(schema_ref::<ErrorEnvelope>()))
                        .build(),
                )
                .build()
                .into(),
        );
    }
    (op, auth, idempotent)
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// `T` for the schema `oneOf: [null, T]` (utoipa's `Option<T>`); any other schema as it is.
fn not_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::OneOf(one_of))
            if one_of.items.len() == 2 && one_of.items.iter().any(is_null) =>
        {
            match one_of.items.into_iter().find(|s| !is_null(s)) {
                Some(inner) => inner,
                None => RefOr::T(Schema::Object(Default::default())),
            }
        }
        other => other,
    }
}

fn build_paths(operations: Vec<Documented>) -> (OpenApi, Vec<headers::OpHeaders>) {
    let mut paths = PathsBuilder::new();
    let mut decorations = Vec::new();
    for d in operations {
        let (op, auth, idempotent) = complete(&d.path, d.operation);
        decorations.push(headers::OpHeaders {
            path: d.path.clone(),
            method: method_name(&d.method),
            auth,
            idempotent,
        });
        paths = paths.path(d.path, PathItem::new(d.method, op));
    }
    let components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: Authorization: Bearer rg_…"))
                    .build(),
            ),
        )
        // Schemas: collected from the operations while they are built (see `collect`).
        .build();
    let api = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Refgrow API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Self-hosted, API-first affiliate and referral platform. See README.md.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build();
    (api, decorations)
}

/// The document of the operations `operations` lists, built once (on the first call).
pub fn document(operations: impl FnOnce() -> Vec<Documented>) -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string(&build(operations())).unwrap_or_else(|_| "{}".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document of the app's operations.
    fn build() -> serde_json::Value {
        super::build(crate::routes::documented())
    }

    #[test]
    fn no_ref_points_at_nothing() {
        let doc = build();
        let dangling = refs::dangling_refs(&doc);
        assert!(dangling.is_empty(), "dangling $refs: {dangling:#?}");
        // The check has something to check.
        assert!(refs::local_refs(&doc).len() > 100);
    }

    #[test]
    fn the_named_types_of_the_operations_are_components() {
        let doc = build();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "ErrorEnvelope",
            "ErrorCode",
            "Affiliate",
            "Commission",
            "Program",
            "Payout",
            "Customer",
            "Event",
            "Invitation",
            "WebhookEndpoint",
            "Currency",
            "Amount",
            "Email",
            "AffiliateId",
            "AffiliateCreatedEvent",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }

    #[test]
    fn every_operation_tag_is_described() {
        for d in crate::routes::documented() {
            let tags = d.operation.tags.unwrap_or_default();
            assert!(!tags.is_empty(), "{}: no tag", d.path);
            for tag in tags {
                assert!(
                    TAGS.iter().any(|(name, _)| *name == tag),
                    "{}: add the tag '{tag}' to TAGS",
                    d.path
                );
            }
        }
    }

    #[test]
    fn every_operation_is_one_of_a_kind_and_states_its_security() {
        let mut seen = std::collections::BTreeSet::new();
        let mut ids = std::collections::BTreeSet::new();
        for d in crate::routes::documented() {
            let method = method_name(&d.method);
            assert!(
                seen.insert((method, d.path.clone())),
                "{method} {} is documented twice",
                d.path
            );
            let id = d.operation.operation_id.clone().unwrap_or_default();
            assert!(ids.insert(id.clone()), "operationId {id} is used twice");
            // `security(("bearer" = []))` or `security()` (public): never left to a default.
            assert!(
                d.operation.security.is_some(),
                "{method} {}: say security(...) in its #[utoipa::path]",
                d.path
            );
        }
        assert!(seen.len() > 40);
    }

    #[test]
    fn building_twice_gives_the_same_document() {
        assert_eq!(build(), build());
    }

    #[test]
    fn headers_webhooks_and_examples_are_described() {
        let doc = build();
        let create = &doc["paths"]["/v1/affiliates"]["post"];
        let params: Vec<&str> = create["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["$ref"].as_str())
            .collect();
        assert!(params.contains(&"#/components/parameters/IdempotencyKey"));
        assert!(params.contains(&"#/components/parameters/RequestId"));
        assert!(create["requestBody"]["content"]["application/json"]["example"].is_object());
        assert!(create["responses"]["200"]["headers"]["Idempotent-Replayed"].is_object());
        assert!(create["responses"]["201"]["headers"]["RateLimit-Remaining"].is_object());
        assert!(create["responses"]["429"]["headers"]["Retry-After"].is_object());
        assert!(
            doc["paths"]["/healthz"]["get"]["responses"]["200"]["headers"]["X-Request-Id"]
                .is_object()
        );
        let hook = &doc["webhooks"]["conversion.created"]["post"];
        assert_eq!(
            hook["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ConversionCreatedEvent"
        );
    }
}
