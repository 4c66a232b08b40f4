//! The affiliate's side over HTTP (both backends): embed tokens (exactly one of affiliateId
//! or email, idempotent on tenantId, scoped, expiring), the dashboard page (same figures as
//! the stats endpoint, frame-ancestors from `embedOrigins`, checked look parameters, payout
//! form with Origin check), the hosted accept page, the portal, and token redaction.

use chrono::Duration;
use refgrow_client::api::CreateEmbedToken;
use refgrow_client::Client;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{invite, spawn_app, TestApp};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn mint(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/embed-tokens", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.data().clone()
}

async fn page(
    app: &TestApp,
    path_and_query: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let res = app.visit(path_and_query).await;
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// The text of the element with this id.
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    let end = start + html[start..].find('<').unwrap();
    &html[start..end]
}

#[tokio::test]
async fn a_token_needs_exactly_one_of_affiliate_id_or_email() {
    let app = spawn_app().await;
    let a = app.affiliate("ann@x.io", "Ann").await;
    for body in [
        json!({}),
        json!({"affiliateId": a["id"], "email": "ann@x.io"}),
        json!({"affiliateId": a["id"], "tenantId": "t1"}),
        json!({"email": "not-an-email"}),
        json!({"email": "x@x.io", "tenantId": ""}),
        json!({"affiliateId": "aff_nope"}),
        json!({"email": "x@x.io", "extra": 1}),
    ] {
        let r = app.post("/v1/embed-tokens", body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.body["success"], false);
        assert!(r.body["error"]["code"].is_string());
    }
    let t = mint(&app, json!({"affiliateId": a["id"]})).await;
    assert!(t["token"].as_str().unwrap().starts_with("rgemb_"));
    assert_eq!(t["affiliateId"], a["id"]);
    assert_eq!(
        t["url"].as_str().unwrap(),
        format!(
            "{}/embed/referrals?token={}",
            app.base,
            t["token"].as_str().unwrap()
        )
    );
    // Stored only as a hash.
    {
        use diesel::prelude::*;
        use refgrow_server::db::schema::access_tokens;
        let mut c = app.state.db.write_conn().unwrap();
        let stored: Vec<String> = access_tokens::table
            .select(access_tokens::token_hash)
            .load(&mut *c)
            .unwrap();
        let tok = t["token"].as_str().unwrap();
        assert!(!stored.iter().any(|h| h.contains(tok)));
        assert!(stored.contains(&refgrow_server::idgen::hash_secret(tok)));
    }
    let (status, _, html) = page(
        &app,
        &format!("/embed/referrals?token={}", &t["token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Ann"));
}

#[tokio::test]
async fn email_enrols_once_and_tenant_ids_find_the_same_affiliate() {
    let app = spawn_app().await;
    let first = mint(
        &app,
        json!({"email": "Zed@X.io", "name": "Zed", "tenantId": "user_1"}),
    )
    .await;
    let again = mint(&app, json!({"email": "zed@x.io", "tenantId": "user_1"})).await;
    assert_eq!(first["affiliateId"], again["affiliateId"]);
    assert_ne!(first["token"], again["token"]);
    // The tenant id wins over a changed email.
    let moved = mint(&app, json!({"email": "other@x.io", "tenantId": "user_1"})).await;
    assert_eq!(moved["affiliateId"], first["affiliateId"]);
    // Concurrent first calls with one tenant id enrol one affiliate.
    let calls = (0..6).map(|_| {
        app.post(
            "/v1/embed-tokens",
            json!({"email": "race@x.io", "tenantId": "user_race"}),
        )
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut ids: Vec<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            r.data()["affiliateId"].as_str().unwrap().to_string()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let list = app.get("/v1/affiliates?limit=100").await;
    let race = list.data()["affiliates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["email"] == "race@x.io")
        .count();
    assert_eq!(race, 1);
    // The SDK call.
    let client = Client::new(&app.base, &app.key).unwrap();
    let t = client
        .embed_tokens()
        .create(CreateEmbedToken {
            email: refgrow_client::api::Email::parse("sdk@x.io"),
            tenant_id: Some("user_sdk".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(t.url.contains("/embed/referrals?token=rgemb_"));
}

#[tokio::test]
async fn the_dashboard_shows_the_stats_endpoint_figures() {
    let app = spawn_app().await;
    let a = app.affiliate("ann@x.io", "Ann").await;
    let code = a["referralCode"].as_str().unwrap();
    for _ in 0..3 {
        app.post("/v1/referrals/track", json!({"referralCode": code}))
            .await;
    }
    app.state.clicks.flush(&app.state.db).await.unwrap();
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "u1", "email": "carol.customer@example.com", "referralCode": code}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    for (order, amount, cur) in [("o1", "100.00", "USD"), ("o2", "50.00", "EUR")] {
        let r = app
            .post(
                "/v1/referrals/convert",
                json!({"referralCode": code, "amount": amount, "currency": cur, "orderId": order}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let t = mint(&app, json!({"affiliateId": a["id"]})).await;
    let token = t["token"].as_str().unwrap();
    let (status, headers, html) =
        page(&app, &format!("/embed/referrals?token={token}&days=30")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let stats = app
        .get(&format!(
            "/v1/affiliates/{}/stats",
            a["id"].as_str().unwrap()
        ))
        .await;
    let totals = &stats.data()["totals"];
    assert_eq!(by_id(&html, "stat-clicks"), totals["clicks"].to_string());
    assert_eq!(by_id(&html, "stat-signups"), totals["signups"].to_string());
    assert_eq!(
        by_id(&html, "stat-conversions"),
        totals["conversions"].to_string()
    );
    for m in totals["money"].as_array().unwrap() {
        let cur = m["currency"].as_str().unwrap();
        let row_at = html.find(&format!("data-currency=\"{cur}\"")).unwrap();
        let row = &html[row_at..row_at + html[row_at..].find("</tr>").unwrap()];
        for k in ["pending", "approved", "paid", "reversed"] {
            let cell = row.find(&format!("data-k=\"{k}\">")).unwrap() + k.len() + 10;
            let value = &row[cell..cell + row[cell..].find('<').unwrap()];
            let want = match &m["earnings"][k] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            assert_eq!(value, want, "{cur} {k}");
        }
    }
    assert!(html.contains("c***@example.com"), "masked email");
    assert!(!html.contains("carol.customer"), "email not masked");
    assert!(html.contains("<svg"), "chart");
    // Not framable until origins are set; then only by them.
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let r = app
        .patch(
            "/v1/program",
            json!({"embedOrigins": ["https://App.example.com", "http://localhost:3000/"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.data()["program"]["embedOrigins"],
        json!(["https://app.example.com", "http://localhost:3000"])
    );
    assert_eq!(
        app.get("/v1/program").await.data()["program"]["embedOrigins"],
        json!(["https://app.example.com", "http://localhost:3000"])
    );
    let (_, headers, _) = page(&app, &format!("/embed/referrals?token={token}")).await;
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors https://app.example.com http://localhost:3000"),
        "{csp}"
    );
    let r = app
        .patch(
            "/v1/program",
            json!({"embedOrigins": ["https://x.io/path"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.field(), "embedOrigins");
    // The look is checked.
    let (status, _, html) = page(
        &app,
        &format!("/embed/referrals?token={token}&theme=dark&accent=%23ffcc00&font=Inter"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-theme=\"dark\"") && html.contains("#ffcc00"));
    for bad in [
        "theme=neon",
        "accent=red",
        "font=%22%3B%7D",
        "days=12",
        "from=nope",
    ] {
        let (status, _, html) = page(&app, &format!("/embed/referrals?token={token}&{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(html.contains("<h1>"), "{bad}: a page, not a dump");
    }
}

#[tokio::test]
async fn tokens_expire_and_open_only_their_affiliate() {
    let app = spawn_app().await;
    let a = app.affiliate("ann@x.io", "Ann").await;
    let b = app.affiliate("bob@x.io", "Bob").await;
    let t = mint(&app, json!({"affiliateId": a["id"]})).await;
    let token = t["token"].as_str().unwrap();
    let (_, _, html) = page(&app, &format!("/embed/referrals?token={token}")).await;
    assert!(html.contains("Ann") && !html.contains("Bob"));
    for bogus in ["", "rgemb_nope", "rginv_x", &format!("{token}x")] {
        let (status, _, html) = page(&app, &format!("/embed/referrals?token={bogus}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bogus}");
        assert!(html.contains("expired"));
    }
    // Another program's key cannot mint for this program's affiliate.
    let other = app.other_program_key("Other");
    let r = app
        .http
        .post(format!("{}/v1/embed-tokens", app.base))
        .bearer_auth(&other)
        .json(&json!({"affiliateId": b["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.state.clock.advance(Duration::seconds(3601));
    let (status, _, _) = page(&app, &format!("/embed/referrals?token={token}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_payout_form_changes_only_payout_details() {
    let app = spawn_app().await;
    let a = app.affiliate("ann@x.io", "Ann").await;
    let t = mint(&app, json!({"affiliateId": a["id"]})).await;
    let token = t["token"].as_str().unwrap();
    let http = no_redirects();
    let form = [
        ("token", token),
        ("paymentMethod", "paypal"),
        ("paymentDetails", "ann@paypal.example"),
        ("theme", "dark"),
    ];
    // From another site: refused, nothing changes.
    let r = http
        .post(format!("{}/embed/referrals/payout", app.base))
        .header(header::ORIGIN, "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let id = a["id"].as_str().unwrap();
    assert!(
        app.get(&format!("/v1/affiliates/{id}")).await.data()["affiliate"]["paymentMethod"]
            .is_null()
    );
    let r = http
        .post(format!("{}/embed/referrals/payout", app.base))
        .header(header::ORIGIN, app.base.clone())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[header::LOCATION].to_str().unwrap();
    assert!(to.contains("saved=1") && to.contains("theme=dark"), "{to}");
    let aff = app.get(&format!("/v1/affiliates/{id}")).await;
    assert_eq!(aff.data()["affiliate"]["paymentMethod"], "paypal");
    assert_eq!(
        aff.data()["affiliate"]["paymentDetails"],
        "ann@paypal.example"
    );
    // Too long: a clear page, nothing saved.
    let long = "x".repeat(600);
    let r = http
        .post(format!("{}/embed/referrals/payout", app.base))
        .form(&[("token", token), ("paymentDetails", long.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A bad token changes nothing.
    let r = http
        .post(format!("{}/embed/referrals/payout", app.base))
        .form(&[("token", "rgemb_bogus"), ("paymentMethod", "wire")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let aff = app.get(&format!("/v1/affiliates/{id}")).await;
    assert_eq!(aff.data()["affiliate"]["paymentMethod"], "paypal");
}

#[tokio::test]
async fn the_accept_url_is_a_page_that_accepts() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/affiliates/invitations",
            json!({"emails": ["ivy@x.io", "cat@x.io"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let invs = r.data()["invitations"].as_array().unwrap().clone();
    let url = invs[0]["acceptUrl"].as_str().unwrap();
    let token = invs[0]["token"].as_str().unwrap();
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("ivy@x.io") && html.contains("name=\"name\""));
    // A taken code: the form again, with the reason.
    app.affiliate("taken@x.io", "Taken").await;
    let http = no_redirects();
    let r = http
        .post(format!("{}/invitations/accept", app.base))
        .form(&[("token", token), ("name", "Ivy"), ("referralCode", "!!")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("form-error"));
    let r = http
        .post(format!("{}/invitations/accept", app.base))
        .form(&[
            ("token", token),
            ("name", "Ivy"),
            ("referralCode", "IVY2026"),
            ("paymentMethod", "wise"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.unwrap();
    assert!(html.contains("/r/IVY2026"), "{html}");
    let dash = html.split("href=\"/embed/referrals?token=").nth(1).unwrap();
    let dash_token = &dash[..dash.find('"').unwrap()];
    let (status, _, dhtml) = page(&app, &format!("/embed/referrals?token={dash_token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(dhtml.contains("Ivy"));
    // Used, cancelled, expired, unknown: clear pages.
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.unwrap().contains("already been accepted"));
    let cancelled = app
        .delete(&format!(
            "/v1/affiliates/invitations/{}",
            invs[1]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let res = app
        .http
        .get(invs[1]["acceptUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.unwrap().contains("cancelled"));
    let late = invite(&app, json!({"emails": ["late@x.io"]})).await;
    app.state.clock.advance(Duration::days(15));
    let res = app.http.get(&late).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(res.text().await.unwrap().contains("expired"));
    let (status, _, html) = page(&app, "/v1/invitations/rginv_unknown/accept").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("not valid"));
    // The JSON accept still answers POST.
    let r = app
        .http
        .post(format!("{}/v1/invitations/rginv_unknown/accept", app.base))
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["success"], false);
}

#[tokio::test]
async fn the_portal_never_tells_who_is_an_affiliate() {
    let app = spawn_app().await;
    app.affiliate("ann@x.io", "Ann").await;
    let (status, headers, html) = page(&app, "/portal").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("name=\"email\""));
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let mut bodies = Vec::new();
    for email in ["ann@x.io", "nobody@x.io"] {
        app.state.ip_limits.forget("portal:127.0.0.1");
        let r = app
            .http
            .post(format!("{}/portal", app.base))
            .form(&[("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        bodies.push(text[text.find("<main>").unwrap()..].to_string());
    }
    assert_eq!(bodies[0], bodies[1]);
    let (status, _, html) = page(&app, "/portal/signin?token=rgml_nope").await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("cannot be used"));
}

/// The first-paint figure of the README: server time of the dashboard for an affiliate with
/// 10,000 conversions (goal: under 100 ms). Run with
/// `cargo test --release -p refgrow-server --test api dashboard_first_paint -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement: run it by name"]
async fn dashboard_first_paint_with_10k_conversions() {
    let app = spawn_app().await;
    let a = app.affiliate("big@x.io", "Big").await;
    let code = a["referralCode"].as_str().unwrap().to_string();
    let n: usize = std::env::var("CONVERSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let started = std::time::Instant::now();
    let mut done = 0;
    while done < n {
        let batch = (done..(done + 16).min(n)).map(|i| {
            app.post(
                "/v1/referrals/convert",
                json!({"referralCode": code, "amount": "25.00", "currency": "USD",
                       "orderId": format!("bulk-{i}")}),
            )
        });
        for r in futures_util::future::join_all(batch).await {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        done = (done + 16).min(n);
    }
    eprintln!("{n} conversions recorded in {:?}", started.elapsed());
    let t = mint(&app, json!({"affiliateId": a["id"]})).await;
    let url = format!(
        "{}/embed/referrals?token={}",
        app.base,
        t["token"].as_str().unwrap()
    );
    let mut times = Vec::new();
    for _ in 0..21 {
        let t0 = std::time::Instant::now();
        let res = app.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = res.text().await.unwrap();
        times.push(t0.elapsed());
        assert!(body.contains(&format!(">{n}<")), "conversions shown");
    }
    times.sort();
    eprintln!(
        "dashboard with {n} conversions: median {:?}, max {:?} (21 loads)",
        times[10], times[20]
    );
}
