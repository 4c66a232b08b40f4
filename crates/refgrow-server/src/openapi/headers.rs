//! The headers of the API, described once under `components` and referred to from every
//! operation: `X-Request-Id` (request and response), `Idempotency-Key` and
//! `Idempotent-Replayed` on the idempotent writes, the IETF `RateLimit` headers on every
//! authenticated answer and `Retry-After` on a 429.

use serde_json::{json, Map, Value};

/// What [`decorate`] needs to know of an operation.
pub struct OpHeaders {
    /// The path, as under `paths`.
    pub path: String,
    /// The method, lower-case as under a path item.
    pub method: &'static str,
    /// Whether the API key is required (so rate limited).
    pub auth: bool,
    /// Whether it takes an `Idempotency-Key`.
    pub idempotent: bool,
}

/// `components/parameters` (header parameters).
pub fn parameters() -> Value {
    json!({
        "RequestId": {
            "name": "X-Request-Id", "in": "header", "required": false,
            "description": "Your id for this request (1 to 200 visible ASCII characters), echoed \
                            in the answer and written to the server's logs and audit log; one is \
                            made up when absent",
            "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                       "pattern": "^[\\x21-\\x7E]+$"},
            "example": "req_7f3a9c"
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes a retry safe: the first request with a key does the work, a \
                            retry with the same key and body gets the same answer back (200, \
                            same ids, `Idempotent-Replayed: true`), the same key with another \
                            body is a 409 conflict. 1 to 255 visible ASCII characters",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                       "pattern": "^[\\x21-\\x7E]+$"},
            "example": "order-1042-attempt"
        }
    })
}

/// `components/headers` (response headers).
pub fn headers() -> Value {
    let int = |description: &str| json!({"description": description, "schema": {"type": "integer", "minimum": 0}});
    json!({
        "X-Request-Id": {
            "description": "The request's id: yours from `X-Request-Id`, or a new one",
            "schema": {"type": "string"}
        },
        "RateLimit-Limit": int("Requests allowed per window for this key"),
        "RateLimit-Remaining": int("Requests left right now for this key"),
        "RateLimit-Reset": int("Seconds until the key's allowance is full again"),
        "RateLimit": {
            "description": "The three values above in one field: `limit=L, remaining=R, reset=S`",
            "schema": {"type": "string"}
        },
        "Retry-After": int("Seconds to wait before retrying"),
        "Idempotent-Replayed": {
            "description": "`true` when this answer is the saved answer of an earlier request \
                            with the same `Idempotency-Key`",
            "schema": {"type": "string", "enum": ["true"]}
        }
    })
}

fn header_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/headers/{name}")})
}

/// Adds the header parameters and response headers to each operation of `paths`.
pub fn decorate(paths: &mut Map<String, Value>, ops: &[OpHeaders]) {
    for o in ops {
        let Some(op) = paths
            .get_mut(&o.path)
            .and_then(|item| item.get_mut(o.method))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let params = op
            .entry("parameters")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(params) = params.as_array_mut() {
            params.push(json!({"$ref": "#/components/parameters/RequestId"}));
            if o.idempotent {
                params.push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
            }
        }
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            let Some(response) = response.as_object_mut() else {
                continue;
            };
            let mut names = vec!["X-Request-Id"];
            if o.auth && status != "401" {
                names.extend([
                    "RateLimit-Limit",
                    "RateLimit-Remaining",
                    "RateLimit-Reset",
                    "RateLimit",
                ]);
            }
            if status == "429" {
                names.push("Retry-After");
            }
            if o.idempotent && status == "200" {
                names.push("Idempotent-Replayed");
            }
            let headers = response
                .entry("headers")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(headers) = headers.as_object_mut() {
                for name in names {
                    headers.insert(name.to_string(), header_ref(name));
                }
            }
        }
    }
}
