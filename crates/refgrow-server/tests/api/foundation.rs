//! Health, authentication, envelopes, request ids, body limits, program settings.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = app.visit("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.visit("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn keys_are_required_and_checked() {
    let app = spawn_app().await;
    let r = crate::helpers::to_resp(app.visit("/v1/program").await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "authentication_error");
    assert_eq!(r.body["success"], json!(false));
    let r = app
        .req_with(Method::GET, "/v1/program", None, "rg_nope", &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.get("/v1/program").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["success"], json!(true));
}

#[tokio::test]
async fn revoked_key_fails_on_next_request() {
    let app = spawn_app().await;
    let (key_id, secret) = {
        let mut c = app.state.db.write_conn().unwrap();
        refgrow_server::services::api_keys::create_key(&mut c, &app.program_id, None, false, 0)
            .unwrap()
    };
    let r = app
        .req_with(Method::GET, "/v1/program", None, &secret, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Revoked through the API: the very next request fails.
    let r = app.delete(&format!("/v1/api-keys/{key_id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.data()["apiKey"]["revokedAt"].is_string());
    let r = app
        .req_with(Method::GET, "/v1/program", None, &secret, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "authentication_error")
    );
    assert_eq!(
        app.delete(&format!("/v1/api-keys/{key_id}")).await.status,
        StatusCode::CONFLICT
    );

    // Revoked by the command line (another process): it fails once the key cache expires.
    let (key_id, secret) = {
        let mut c = app.state.db.write_conn().unwrap();
        refgrow_server::services::api_keys::create_key(&mut c, &app.program_id, None, false, 0)
            .unwrap()
    };
    assert_eq!(
        app.req_with(Method::GET, "/v1/program", None, &secret, &[])
            .await
            .status,
        StatusCode::OK
    );
    {
        let mut c = app.state.db.write_conn().unwrap();
        assert!(refgrow_server::db::api_keys::revoke(&mut c, &key_id, 1).unwrap());
    }
    // The key cache's TTL passes on the server's clock: moved, not waited for.
    app.state.clock.advance(
        chrono::Duration::from_std(refgrow_server::auth::KEY_CACHE_TTL).unwrap()
            + chrono::Duration::milliseconds(100),
    );
    let r = app
        .req_with(Method::GET, "/v1/program", None, &secret, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let r = app
        .req_with(
            Method::GET,
            "/v1/program",
            None,
            &app.key,
            &[("x-request-id", "abc-123")],
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "abc-123");
    let r = app.get("/v1/program").await;
    assert!(r.headers["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let r = app.get("/v1/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "resource_not_found");
    assert!(r.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn malformed_bodies_are_invalid_request_in_the_envelope() {
    let app = spawn_app().await;
    let r = app
        .raw(
            Method::POST,
            "/v1/affiliates",
            b"{not json",
            "application/json",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "invalid_request");
    let r = app
        .raw(Method::POST, "/v1/affiliates", b"", "application/json")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .post("/v1/affiliates", json!({"email": 5, "name": "x"}))
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "email"));
    let r = app.post("/v1/affiliates", json!({"email": "a@b.co"})).await;
    assert_eq!((r.code(), r.field()), ("invalid_request", "name"));
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "a@b.co", "name": "A", "bogus": 1}),
        )
        .await;
    assert_eq!(r.field(), "bogus");
    let r = app.get("/v1/affiliates?limit=abc").await;
    assert_eq!((r.code(), r.field()), ("invalid_request", "limit"));
    let r = app.get("/v1/affiliates?limit=101").await;
    assert_eq!(r.field(), "limit");
    let r = app.get("/v1/affiliates?status=sleeping").await;
    assert_eq!(r.field(), "status");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let big = "x".repeat(70_000);
    let r = app
        .post("/v1/affiliates", json!({"email": "a@b.co", "name": big}))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.code(), "payload_too_large");
}

#[tokio::test]
async fn program_settings_round_trip_and_validate() {
    let app = spawn_app().await;
    let r = app.get("/v1/program").await;
    let p = &r.data()["program"];
    assert_eq!(p["currency"], "USD");
    assert_eq!(p["cookieDays"], 60);
    assert_eq!(p["holdDays"], 30);
    assert_eq!(p["attribution"], "first_click");
    assert!(r.text.contains("\"minPayout\":50.00"), "{}", r.text);
    assert_eq!(p["autoApproveAffiliates"], true);
    assert_eq!(p["commission"]["type"], "percentage");

    let rule = json!({"type": "percentage", "rate": 20, "recurring": {"months": 12},
        "tiers": [{"minConversions": 10, "rate": 25}, {"minConversions": 50, "rate": 30}],
        "products": {"prod_enterprise": {"type": "fixed", "amount": 150.00}},
        "secondTier": {"rate": 5}});
    let r = app
        .patch(
            "/v1/program",
            json!({"name": "Acme", "websiteUrl": "https://acme.test", "cookieDays": 30,
            "attribution": "last_click", "holdDays": 14, "minPayout": "25.50", "commission": rule,
            "stripeWebhookSecret": "whsec_abcdefghijkl"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = &r.data()["program"];
    assert_eq!(p["name"], "Acme");
    assert_eq!(p["cookieDays"], 30);
    assert_eq!(p["commission"]["tiers"][1]["rate"], json!(30));
    assert_eq!(p["commission"]["recurring"]["months"], json!(12));
    assert_eq!(p["stripeWebhookSecret"], "whsec_…ijkl");
    assert!(r.text.contains("\"minPayout\":25.50"), "{}", r.text);

    // Bad values change nothing.
    for (body, field) in [
        (json!({"cookieDays": 0}), "cookieDays"),
        (json!({"holdDays": 1000}), "holdDays"),
        (json!({"minPayout": "1.234"}), "minPayout"),
        (json!({"minPayout": -5}), "minPayout"),
        (json!({"websiteUrl": "ftp://x"}), "websiteUrl"),
        (json!({"currency": "DOLLARS"}), "currency"),
        (json!({"attribution": "random"}), "attribution"),
        (
            json!({"commission": {"type": "percentage", "rate": 120}}),
            "commission.rate",
        ),
        (
            json!({"stripeWebhookSecret": "nope"}),
            "stripeWebhookSecret",
        ),
    ] {
        let r = app.patch("/v1/program", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.field(), field, "{body}: {}", r.text);
    }
    let r = app.get("/v1/program").await;
    assert_eq!(r.data()["program"]["cookieDays"], 30);
}

#[tokio::test]
async fn data_survives_a_restart() {
    let app = spawn_app().await;
    let a = app.affiliate("keep@example.com", "Keep Me").await;
    let app = app.restart().await;
    let r = app
        .get(&format!("/v1/affiliates/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["affiliate"]["email"], "keep@example.com");
}
