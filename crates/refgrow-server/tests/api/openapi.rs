//! The OpenAPI document: valid JSON, every registered route documented, bearer auth, no
//! `$ref` pointing at nothing, and the webhook events that the server records documented.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

/// `(METHOD, /full/path)` of every API route the app registers.
///
/// API routes are registered only through `Routes::add`, which registers a handler at the
/// method and path of its `#[utoipa::path]` documentation (`src/routes/registry.rs`); this
/// checks that nothing else in `src/routes` registers a route through actix-web directly,
/// then lists what `routes::register` registers. `every_documented_route_is_served` checks
/// that the running app answers each of them.
fn registered_routes() -> BTreeSet<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // routes/compat/*.rs
            for inner in std::fs::read_dir(&path).unwrap() {
                files.push(inner.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    assert!(files.len() > 15, "{files:?}");
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if file == "registry.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for raw in [
            ".route(",
            ".service(",
            "web::resource(",
            "web::scope(",
            "web::get()",
            "web::post()",
            "web::put()",
            "web::patch()",
            "web::delete()",
            "web::method(",
        ] {
            assert!(
                !text.contains(raw),
                "{file} registers a route with {raw}: use Routes::add with a documented handler"
            );
        }
    }
    refgrow_server::routes::documented()
        .into_iter()
        .map(|d| {
            let method = serde_json::to_value(&d.method).unwrap();
            (method.as_str().unwrap().to_uppercase(), d.path)
        })
        .collect()
}

#[tokio::test]
async fn every_registered_route_is_documented() {
    let app = spawn_app().await;
    let res = app.visit("/v1/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routes = registered_routes();
    assert!(routes.len() > 40, "{routes:?}");
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "registered but not documented: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(stale.is_empty(), "documented but not registered: {stale:?}");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let create = &doc["paths"]["/v1/affiliates"]["post"];
    assert!(create["responses"]["201"].is_object());
    assert!(create["responses"]["409"].is_object());
    assert!(doc["components"]["schemas"]["CreateAffiliate"].is_object());
}

/// The app answers every documented operation at its method and path (with no key and no
/// body: an error of the operation, never the answer to an unknown route).
#[tokio::test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let routes = registered_routes();
    assert!(routes.len() > 40, "{routes:?}");
    for (method, path) in routes {
        let concrete: Vec<String> = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "x1".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect();
        let url = format!("{}{}", app.base, concrete.join("/"));
        let res = client
            .request(method.parse().unwrap(), &url)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(
            !text.contains("No such route"),
            "{method} {path} is documented but not served: {status} {text}"
        );
    }
}

#[tokio::test]
async fn the_served_document_has_no_dangling_ref() {
    let app = spawn_app().await;
    let doc: Value = app.visit("/v1/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let dangling = refgrow_server::openapi::refs::dangling_refs(&doc);
    assert!(dangling.is_empty(), "dangling $refs: {dangling:#?}");
    assert!(refgrow_server::openapi::refs::local_refs(&doc).len() > 100);
    // What an integrator needs besides the bodies.
    for name in ["IdempotencyKey", "RequestId", "WebhookSignature"] {
        assert!(doc["components"]["parameters"][name].is_object(), "{name}");
    }
    for name in ["X-Request-Id", "RateLimit-Remaining", "Retry-After"] {
        assert!(doc["components"]["headers"][name].is_object(), "{name}");
    }
    assert!(doc["webhooks"]["payout.paid"]["post"]["requestBody"].is_object());
}

/// Every event the server records has the top-level `data` keys of its documented schema.
#[tokio::test]
async fn recorded_events_match_their_documented_payloads() {
    let app = spawn_app().await;
    let doc: Value = app.visit("/v1/openapi.json").await.json().await.unwrap();
    let aff = app
        .post(
            "/v1/affiliates",
            serde_json::json!({"email": "ev@example.com", "name": "Ev", "referralCode": "EVENTS1"}),
        )
        .await;
    assert_eq!(aff.status, StatusCode::CREATED, "{}", aff.text);
    let conv = app
        .post(
            "/v1/referrals/convert",
            serde_json::json!({"referralCode": "EVENTS1", "amount": 100, "orderId": "ev-1"}),
        )
        .await;
    assert_eq!(conv.status, StatusCode::CREATED, "{}", conv.text);
    let cus = app
        .post(
            "/v1/customers",
            serde_json::json!({"key": "ev-cus", "affiliateId": aff.data()["affiliate"]["id"]}),
        )
        .await;
    assert_eq!(cus.status, StatusCode::CREATED, "{}", cus.text);
    let events = app.get("/v1/events?limit=100").await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let events = events.data()["events"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    for event in events {
        let kind = event["type"].as_str().unwrap();
        let hook = &doc["webhooks"][kind]["post"];
        let payload_ref = hook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind} is not documented"));
        let payload = doc.pointer(&payload_ref[1..]).unwrap();
        let data_ref = payload["properties"]["data"]["$ref"].as_str().unwrap();
        let data_schema = doc.pointer(&data_ref[1..]).unwrap();
        let documented: BTreeSet<&str> = data_schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let sent: BTreeSet<&str> = event["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            sent.is_subset(&documented),
            "{kind}: sends {sent:?}, documents {documented:?}"
        );
        for required in data_schema["required"].as_array().into_iter().flatten() {
            assert!(
                sent.contains(required.as_str().unwrap()),
                "{kind}: {required} missing"
            );
        }
        seen.insert(kind.to_string());
    }
    for kind in [
        "affiliate.created",
        "conversion.created",
        "commission.created",
        "customer.created",
    ] {
        assert!(seen.contains(kind), "{kind} not recorded: {seen:?}");
    }
}
