//! The compatibility layer: the seed APIs' calls accepted as their documents print them
//! (paths, field names, nesting, string amounts) and answered in their shapes, each mapped
//! onto the native handler that serves the same thing, so no business rule exists twice.
//! `docs/compat.md` has the table of every call. One module per seed API:
//!
//! - [`refgrow_guide`]: the integration guide's `/api/…` calls (aliases of `/v1`).
//! - [`linkjolt`]: `POST /v1/conversions` (the path is free in `/v1`); its webhook shape is the
//!   `linkjolt` payload format of an endpoint.
//! - [`store`]: `GET /v1/affiliates/{affiliateCode}`: a segment that is not an `aff_` id.
//! - [`partnero`]: `POST /v1/customers` and `POST /v1/transactions` told apart from the native
//!   bodies by their nested `partner` / `customer` object; `DELETE` with the key in the body.
//!
//! A compat call parses the seed's body, builds the native body, calls the native handler and
//! rewrites the `data` of its success answer ([`reshape`]); errors keep the native envelope.

pub mod linkjolt;
pub mod partnero;
pub mod refgrow_guide;
pub mod store;

use actix_web::HttpResponse;
use refgrow_types::error::Envelope;
use serde_json::Value;

use crate::error::ApiError;
use crate::routes::Routes;

/// Registers the compat calls that live under `/v1`.
pub fn v1_routes(r: &mut Routes<'_>) {
    linkjolt::routes(r);
    partnero::routes(r);
}

/// Registers the compat calls outside `/v1` (the guide's `/api/…`).
pub fn root_routes(r: &mut Routes<'_>) {
    refgrow_guide::routes(r);
}

/// Rewrites the `data` of a native success answer with `f`, keeping its status and headers
/// (`Idempotent-Replayed`, …); an error answer passes unchanged.
pub async fn reshape(
    res: HttpResponse,
    f: impl FnOnce(Value) -> Result<Value, ApiError>,
) -> Result<HttpResponse, ApiError> {
    if !res.status().is_success() {
        return Ok(res);
    }
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = actix_web::body::to_bytes(res.into_body())
        .await
        .map_err(|e| ApiError::internal(format!("reading an answer: {e}")))?;
    let mut envelope: Value = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
    let data = f(envelope["data"].take())?;
    let mut out = HttpResponse::build(status);
    for (name, value) in headers.iter() {
        if name != actix_web::http::header::CONTENT_LENGTH {
            out.insert_header((name.clone(), value.clone()));
        }
    }
    Ok(out.json(Envelope::ok(data)))
}

/// A string field of a JSON object, if present.
pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// `Some(s)` unless it is empty or blank: the seeds print `""` for "none".
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::http::StatusCode;

    async fn body_of(res: HttpResponse) -> Value {
        let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[actix_web::test]
    async fn reshape_rewrites_data_and_keeps_status_and_headers() {
        let native = HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(Envelope::ok(serde_json::json!({"conversionId": "conv_1"})));
        let res = reshape(native, |d| {
            Ok(serde_json::json!({"conversion_id": d["conversionId"]}))
        })
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get("Idempotent-Replayed").unwrap(), "true");
        assert_eq!(
            body_of(res).await,
            serde_json::json!({"success": true, "data": {"conversion_id": "conv_1"}})
        );
    }

    #[actix_web::test]
    async fn reshape_leaves_errors_alone() {
        let err = HttpResponse::NotFound().body("{\"success\":false}");
        let res = reshape(err, |_| panic!("not called")).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn blank_strings_are_none() {
        assert_eq!(non_empty(Some(" ".into())), None);
        assert_eq!(non_empty(Some("a".into())), Some("a".into()));
        assert_eq!(non_empty(None), None);
    }
}
