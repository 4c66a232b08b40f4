//! The affiliates API: create, list, get, by code, patch, isolation between programs.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn create_returns_every_documented_field() {
    let app = spawn_app().await;
    let r = app
        .post("/v1/affiliates", json!({"email": "John@Example.com", "name": "John Doe",
            "customFields": {"userId": 42}, "paymentMethod": "paypal", "paymentDetails": "john@pp.test"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = &r.data()["affiliate"];
    assert!(a["id"].as_str().unwrap().starts_with("aff_"));
    assert_eq!(a["email"], "john@example.com");
    assert_eq!(a["status"], "active");
    assert_eq!(a["source"], "api");
    let code = a["referralCode"].as_str().unwrap();
    assert!(code.starts_with("JOHNDOE") && code.len() == 9, "{code}");
    assert_eq!(a["referralLink"], format!("{}/r/{code}", app.base));
    assert_eq!(a["customFields"]["userId"], 42);
    for f in ["clickCount", "signupCount", "conversionCount"] {
        assert_eq!(a[f], 0, "{f}");
    }
    for f in [
        "totalEarnings",
        "pendingEarnings",
        "approvedEarnings",
        "paidEarnings",
    ] {
        assert!(r.text.contains(&format!("\"{f}\":0.00")), "{f}: {}", r.text);
    }
    for f in [
        "createdAt",
        "updatedAt",
        "suspendedAt",
        "suspendedReason",
        "parentAffiliateId",
        "conversionRate",
    ] {
        assert!(a.get(f).is_some(), "{f}");
    }
    assert!(a["createdAt"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn duplicates_are_conflicts_naming_the_field() {
    let app = spawn_app().await;
    app.post(
        "/v1/affiliates",
        json!({"email": "a@x.io", "name": "A", "referralCode": "alpha"}),
    )
    .await;
    let r = app
        .post("/v1/affiliates", json!({"email": "A@X.io", "name": "B"}))
        .await;
    assert_eq!(
        (r.status, r.code(), r.field()),
        (StatusCode::CONFLICT, "conflict", "email")
    );
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "b@x.io", "name": "B", "referralCode": "ALPHA"}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::CONFLICT, "referralCode")
    );
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "c@x.io", "name": "C", "referralCode": "a/b"}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "referralCode")
    );
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "not-an-email", "name": "C"}),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "email"));
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "d@x.io", "name": "D", "parentAffiliateId": "comm_1"}),
        )
        .await;
    assert_eq!(r.field(), "parentAffiliateId");
    assert_eq!(
        r.body["error"]["details"]["issue"],
        "must be a string beginning with 'aff_'"
    );
}

#[tokio::test]
async fn list_filters_and_pages() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.affiliate(&format!("p{i}@x.io"), &format!("Person {i}"))
            .await;
    }
    let r = app.get("/v1/affiliates?limit=2&offset=1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["total"], 5);
    assert_eq!(r.data()["limit"], 2);
    assert_eq!(r.data()["offset"], 1);
    assert_eq!(r.data()["affiliates"].as_array().unwrap().len(), 2);
    let r = app.get("/v1/affiliates?email=P3@x.io").await;
    assert_eq!(r.data()["total"], 1);
    assert_eq!(r.data()["affiliates"][0]["email"], "p3@x.io");
    let r = app.get("/v1/affiliates?status=blocked").await;
    assert_eq!(r.data()["total"], 0);
}

#[tokio::test]
async fn get_by_id_and_code() {
    let app = spawn_app().await;
    let a = app
        .post(
            "/v1/affiliates",
            json!({"email": "c@x.io", "name": "C", "referralCode": "code-c"}),
        )
        .await;
    let id = a.data()["affiliate"]["id"].as_str().unwrap().to_string();
    let r = app.get(&format!("/v1/affiliates/{id}")).await;
    assert_eq!(r.data()["affiliate"]["referralCode"], "CODE-C");
    let r = app.get("/v1/affiliates/by-code/code-c").await;
    assert_eq!(r.data()["affiliate"]["id"], id.as_str());
    let r = app.get("/v1/affiliates/aff_doesnotexist").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "resource_not_found")
    );
    // Not an aff_ id: a referral code (the store-affiliate API's call, docs/compat.md).
    let r = app.get("/v1/affiliates/123").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/v1/affiliates/12").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "id"));
}

#[tokio::test]
async fn another_programs_key_sees_404() {
    let app = spawn_app().await;
    let a = app.affiliate("mine@x.io", "Mine").await;
    let other = app.other_program_key("Other program");
    let path = format!("/v1/affiliates/{}", a["id"].as_str().unwrap());
    let r = app.req_with(Method::GET, &path, None, &other, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .req_with(
            Method::PATCH,
            &path,
            Some(json!({"name": "x"})),
            &other,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .req_with(Method::GET, "/v1/affiliates", None, &other, &[])
        .await;
    assert_eq!(r.data()["total"], 0);
    // The same email may join another program.
    let r = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "mine@x.io", "name": "M"})),
            &other,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn suspend_block_reactivate() {
    let app = spawn_app().await;
    let a = app.affiliate("s@x.io", "S").await;
    let path = format!("/v1/affiliates/{}", a["id"].as_str().unwrap());
    let r = app.patch(&path, json!({"status": "suspended"})).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "suspendedReason")
    );
    let r = app
        .patch(
            &path,
            json!({"status": "suspended", "suspendedReason": "fraud review"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a2 = &r.data()["affiliate"];
    assert_eq!(a2["status"], "suspended");
    assert_eq!(a2["suspendedReason"], "fraud review");
    assert!(a2["suspendedAt"].is_string());
    let r = app.patch(&path, json!({"status": "blocked"})).await;
    assert_eq!(r.data()["affiliate"]["status"], "blocked");
    assert!(r.data()["affiliate"]["suspendedAt"].is_null());
    let r = app
        .patch(
            &path,
            json!({"status": "active", "name": "New Name", "paymentMethod": null}),
        )
        .await;
    assert_eq!(r.data()["affiliate"]["status"], "active");
    assert_eq!(r.data()["affiliate"]["name"], "New Name");
    let r = app.patch(&path, json!({"status": "pending"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .patch(&path, json!({"parentAffiliateId": a["id"]}))
        .await;
    assert_eq!(r.field(), "parentAffiliateId");
}

#[tokio::test]
async fn programs_without_auto_approval_start_pending() {
    let app = spawn_app().await;
    app.patch("/v1/program", json!({"autoApproveAffiliates": false}))
        .await;
    let a = app.affiliate("p@x.io", "P").await;
    assert_eq!(a["status"], "pending");
    let r = app
        .patch(
            &format!("/v1/affiliates/{}", a["id"].as_str().unwrap()),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(r.data()["affiliate"]["status"], "active");
}

#[tokio::test]
async fn idempotency_key_replays_an_affiliate_create() {
    let app = spawn_app().await;
    let body = json!({"email": "idem@x.io", "name": "Idem"});
    let first = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(body.clone()),
            &app.key,
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(body),
            &app.key,
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        again.data()["affiliate"]["id"],
        first.data()["affiliate"]["id"]
    );
    let other = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "other@x.io", "name": "O"})),
            &app.key,
            &[("Idempotency-Key", "k-1")],
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let bad = app
        .req_with(
            Method::POST,
            "/v1/affiliates",
            Some(json!({"email": "b@x.io", "name": "B"})),
            &app.key,
            &[("Idempotency-Key", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
