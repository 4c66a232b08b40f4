//! Clicks, the public redirect, and binding signups to affiliates.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::website;
use crate::helpers::{spawn_app, TestApp};

async fn flush(app: &TestApp) {
    app.state.clicks.flush(&app.state.db).await.unwrap();
}

#[tokio::test]
async fn track_records_a_click_and_counts_it() {
    let app = spawn_app().await;
    let a = app.affiliate("ann@x.io", "Ann Lee").await;
    let code = a["referralCode"].as_str().unwrap();
    let r = app
        .post(
            "/v1/referrals/track",
            json!({"referralCode": code.to_lowercase(), "sourceUrl": "https://blog.example/post",
            "userAgent": "Mozilla/5.0", "ipAddress": "203.0.113.9"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let d = r.data();
    assert!(d["clickId"].as_str().unwrap().starts_with("click_"));
    assert_eq!(d["referralCode"], code);
    assert_eq!(d["affiliateId"], a["id"]);
    assert!(d["timestamp"].as_str().unwrap().ends_with('Z'));
    flush(&app).await;
    let got = app
        .get(&format!("/v1/affiliates/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.data()["affiliate"]["clickCount"], 1);

    let r = app
        .post("/v1/referrals/track", json!({"referralCode": "NOSUCHCODE"}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "resource_not_found")
    );
    let r = app
        .post(
            "/v1/referrals/track",
            json!({"referralCode": code, "ipAddress": "999.1.1.1"}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "ipAddress")
    );
    let r = app.post("/v1/referrals/track", json!({})).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "referralCode")
    );
}

#[tokio::test]
async fn blocked_affiliates_record_no_clicks() {
    let app = spawn_app().await;
    let a = app.affiliate("bob@x.io", "Bob").await;
    let id = a["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/affiliates/{id}"),
        json!({"status": "blocked"}),
    )
    .await;
    let r = app
        .post(
            "/v1/referrals/track",
            json!({"referralCode": a["referralCode"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "conflict"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn redirect_sets_the_cookie_and_never_leaves_the_website() {
    let app = spawn_app().await;
    website(&app).await;
    let a = app.affiliate("cat@x.io", "Cat").await;
    let code = a["referralCode"].as_str().unwrap();
    let res = app
        .visit(&format!("/r/{code}?to=/pricing%3Fplan%3Dpro"))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with("https://acme.example/pricing?plan=pro&refgrow_click=click_"),
        "{loc}"
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("refgrow_click=click_"), "{cookie}");
    assert!(
        cookie.contains(&format!("Max-Age={}", 60 * 86400)),
        "{cookie}"
    );

    for evil in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let res = app
            .http
            .get(format!("{}/r/{code}", app.base))
            .query(&[("to", evil)])
            .send()
            .await
            .unwrap();
        let loc = res.headers()["location"].to_str().unwrap();
        assert!(
            loc.starts_with("https://acme.example/?refgrow_click="),
            "{evil} -> {loc}"
        );
    }
    // An unknown code lands on the website and records nothing.
    let res = app.visit("/r/NOPE123").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "https://acme.example/");
    assert!(res.headers().get("set-cookie").is_none());
    flush(&app).await;
    let got = app
        .get(&format!("/v1/affiliates/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.data()["affiliate"]["clickCount"], 4);
}

#[tokio::test]
async fn signups_bind_by_click_code_or_affiliate_and_the_first_binding_wins() {
    let app = spawn_app().await;
    let a = app.affiliate("dan@x.io", "Dan").await;
    let b = app.affiliate("eve@x.io", "Eve").await;
    let click = app
        .post(
            "/v1/referrals/track",
            json!({"referralCode": a["referralCode"]}),
        )
        .await;
    let click_id = click.data()["clickId"].as_str().unwrap().to_string();
    // Bound right after the click, while it may still be buffered.
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "user-1", "email": "u1@y.io", "clickId": click_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cu = &r.data()["customer"];
    assert_eq!(
        (cu["affiliateId"].clone(), cu["attributed"].clone()),
        (a["id"].clone(), json!(true))
    );
    assert_eq!(cu["clickId"], click_id);
    // The same key again keeps its first affiliate.
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "user-1", "referralCode": b["referralCode"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["customer"]["affiliateId"], a["id"]);

    let r = app
        .post(
            "/v1/customers",
            json!({"key": "user-2", "referralCode": b["referralCode"]}),
        )
        .await;
    assert_eq!(r.data()["customer"]["affiliateId"], b["id"]);
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "user-3", "affiliateId": b["id"]}),
        )
        .await;
    assert_eq!(r.data()["customer"]["affiliateId"], b["id"]);
    let r = app.post("/v1/customers", json!({"key": "user-4"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.data()["customer"]["attributed"], false);

    let r = app.get("/v1/customers/user-2").await;
    assert_eq!(r.data()["customer"]["key"], "user-2");
    let r = app.delete("/v1/customers/user-2").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/customers/user-2").await.status,
        StatusCode::NOT_FOUND
    );

    let got = app
        .get(&format!("/v1/affiliates/{}", b["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.data()["affiliate"]["signupCount"], 2);
}

#[tokio::test]
async fn self_referrals_and_expired_clicks_do_not_attribute() {
    let app = spawn_app().await;
    let a = app.affiliate("fay@x.io", "Fay").await;
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "me", "email": "FAY@x.io", "referralCode": a["referralCode"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "email"),
        "{}",
        r.text
    );
    assert_eq!(
        app.get("/v1/customers/me").await.status,
        StatusCode::NOT_FOUND
    );

    let click = app
        .post(
            "/v1/referrals/track",
            json!({"referralCode": a["referralCode"]}),
        )
        .await;
    let click_id = click.data()["clickId"].as_str().unwrap().to_string();
    flush(&app).await;
    app.state.clock.advance(Duration::days(61));
    let r = app
        .post("/v1/customers", json!({"key": "late", "clickId": click_id}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.data()["customer"]["attributed"], false);

    let r = app
        .post(
            "/v1/customers",
            json!({"key": "x", "clickId": "click_x", "referralCode": "ABC"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .post("/v1/customers", json!({"key": "x", "clickId": "aff_x"}))
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "clickId"));
}
