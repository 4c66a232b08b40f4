//! Operations: rate limits, read-only keys, key rotation, the audit log and metrics.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_frozen_with};

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after_and_ratelimit_headers() {
    // The clock stands still: the bucket does not refill between the requests, however
    // slowly they run.
    let app = spawn_frozen_with(|_| {}).await;
    let r = app
        .post("/v1/api-keys", json!({"label": "slow", "rateLimit": 1}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let slow = r.data()["key"].as_str().unwrap().to_string();
    assert_eq!(r.data()["apiKey"]["rateLimit"], 1);
    // A burst of two seconds' worth, then 429.
    for _ in 0..2 {
        let ok = app
            .req_with(Method::GET, "/v1/program", None, &slow, &[])
            .await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.headers["ratelimit-limit"], "1");
        assert!(
            ok.headers.contains_key("ratelimit-remaining") && ok.headers.contains_key("ratelimit")
        );
    }
    let r = app
        .req_with(Method::GET, "/v1/program", None, &slow, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded")
    );
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    // Other keys have their own buckets.
    assert_eq!(app.get("/v1/program").await.status, StatusCode::OK);
}

#[tokio::test]
async fn read_keys_cannot_write_and_keys_rotate() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/api-keys",
            json!({"label": "reporting", "scopes": ["read"]}),
        )
        .await;
    let read = r.data()["key"].as_str().unwrap().to_string();
    assert_eq!(r.data()["apiKey"]["scopes"], json!(["read"]));
    assert_eq!(
        app.req_with(Method::GET, "/v1/affiliates", None, &read, &[])
            .await
            .status,
        StatusCode::OK
    );
    let w = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "r@x.io", "name": "R"})),
            &read,
            &[],
        )
        .await;
    assert_eq!(
        (w.status, w.code()),
        (StatusCode::FORBIDDEN, "permission_denied")
    );
    let w = app
        .req_with(Method::POST, "/v1/api-keys", Some(json!({})), &read, &[])
        .await;
    assert_eq!(w.status, StatusCode::FORBIDDEN);
    let r = app.post("/v1/api-keys", json!({"scopes": ["write"]})).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "scopes"));

    // Rotation: create the new key, switch, revoke the old one.
    let r = app
        .post("/v1/api-keys", json!({"label": "backend v2"}))
        .await;
    let new_key = r.data()["key"].as_str().unwrap().to_string();
    let list = app
        .req_with(Method::GET, "/v1/api-keys", None, &new_key, &[])
        .await;
    let tests_key = list.data()["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "tests")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!list.text.contains(&new_key), "secrets are never listed");
    let r = app
        .req_with(
            Method::DELETE,
            &format!("/v1/api-keys/{tests_key}"),
            None,
            &new_key,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.get("/v1/program").await.status,
        StatusCode::UNAUTHORIZED
    );
    let other = app.other_program_key("Other program");
    let r = app
        .req_with(
            Method::DELETE,
            &format!("/v1/api-keys/{tests_key}"),
            None,
            &other,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_write_is_in_the_audit_log() {
    let app = spawn_app().await;
    let created = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "au@x.io", "name": "Au"})),
            &app.key,
            &[("X-Request-Id", "req-audit-1")],
        )
        .await;
    let aff = created.data()["affiliate"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(&format!("/v1/affiliates/{aff}"), json!({"name": "Au Two"}))
        .await;
    let conv = app
        .post(
            "/v1/referrals/convert",
            json!({"affiliateId": aff, "amount": 1}),
        )
        .await;
    assert_eq!(
        conv.status,
        StatusCode::BAD_REQUEST,
        "a failed write is audited too"
    );
    let conv = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": created.data()["affiliate"]["referralCode"], "amount": 10}),
        )
        .await;
    let conv_id = conv.data()["conversionId"].as_str().unwrap().to_string();
    app.get("/v1/affiliates").await;

    let r = app.get("/v1/audit-log").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let entries = r.data()["entries"].as_array().unwrap().clone();
    assert_eq!(r.data()["total"], 4, "reads are not audited: {}", r.text);
    let first = entries.last().unwrap();
    assert_eq!(first["action"], "POST /v1/affiliates");
    assert_eq!(first["resourceId"], aff.as_str());
    assert_eq!(first["requestId"], "req-audit-1");
    assert_eq!(first["status"], 201);
    assert!(first["keyId"].as_str().unwrap().starts_with("key_"));
    assert_eq!(entries[2]["action"], "PATCH /v1/affiliates/{id}");
    assert_eq!(entries[2]["resourceId"], aff.as_str());
    assert_eq!(entries[1]["status"], 400);
    assert_eq!(entries[0]["resourceId"], conv_id.as_str());
    let r = app.get(&format!("/v1/audit-log?resourceId={aff}")).await;
    assert_eq!(r.data()["total"], 2);
    let r = app.get("/v1/audit-log?method=PATCH").await;
    assert_eq!(r.data()["total"], 1);
    let r = app.get("/v1/audit-log?method=GET").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "method"));
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = spawn_app().await;
    app.get("/v1/affiliates").await;
    app.get("/v1/affiliates/aff_nope").await;
    let res = app.visit("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(
        text.contains(
            r#"refgrow_http_requests_total{method="GET",route="/v1/affiliates",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/v1/affiliates/{id}",status="404""#),
        "{text}"
    );
    assert!(
        text.contains("refgrow_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"refgrow_state{what="db_read_connections"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"refgrow_state{what="webhook_outbox_depth"} 0"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_flood_from_one_address_records_no_more_clicks() {
    let app = spawn_frozen_with(|c| c.click_rate_limit_per_sec = 2).await;
    app.patch(
        "/v1/program",
        json!({"websiteUrl": "https://acme.example/"}),
    )
    .await;
    let a = app.affiliate("flood@x.io", "Flood").await;
    let code = a["referralCode"].as_str().unwrap();
    for _ in 0..10 {
        let res = app.visit(&format!("/r/{code}")).await;
        assert_eq!(res.status(), StatusCode::FOUND, "visitors always land");
    }
    app.state.clicks.flush(&app.state.db).await.unwrap();
    let got = app
        .get(&format!("/v1/affiliates/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        got.data()["affiliate"]["clickCount"],
        4,
        "a burst of two seconds' worth"
    );
}
