//! Affiliate invitations: batches of at most 25 with skip reasons, single-use tokens (also
//! under concurrency), expiry on the controllable clock, cancellation, approval, events, and
//! the SDK's `invitations()` resource.

use chrono::Duration;
use diesel::prelude::*;
use futures_util::TryStreamExt;
use refgrow_client::api::{AcceptInvitation, AffiliateSource, AffiliateStatus, CreateInvitations};
use refgrow_client::types::InvitationId;
use refgrow_client::{Client, ErrorCode, ListInvitations, RetryPolicy};
use refgrow_server::db::schema::events;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, to_resp, Resp, TestApp};

/// `POST /v1/invitations/{token}/accept` with no API key at all.
async fn accept(app: &TestApp, token: &str, body: Value) -> Resp {
    let res = app
        .http
        .post(format!("{}/v1/invitations/{token}/accept", app.base))
        .json(&body)
        .send()
        .await
        .expect("request sent");
    to_resp(res).await
}

/// Invites the addresses and returns the response.
async fn invite(app: &TestApp, emails: &[&str]) -> Resp {
    app.post("/v1/affiliates/invitations", json!({ "emails": emails }))
        .await
}

/// Invites one address and returns (id, token).
async fn invite_one(app: &TestApp, email: &str) -> (String, String) {
    let r = invite(app, &[email]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = &r.data()["invitations"][0];
    (
        inv["id"].as_str().unwrap().to_string(),
        inv["token"].as_str().unwrap().to_string(),
    )
}

/// How many events of a type the program has.
fn count_events(app: &TestApp, event_type: &str) -> i64 {
    let mut c = app.state.db.write_conn().unwrap();
    events::table
        .filter(events::program_id.eq(&app.program_id))
        .filter(events::event_type.eq(event_type))
        .count()
        .get_result(&mut *c)
        .unwrap()
}

#[tokio::test]
async fn a_batch_holds_at_most_25_addresses() {
    let app = spawn_app().await;
    let too_many: Vec<String> = (0..26).map(|i| format!("p{i}@x.io")).collect();
    let r = app
        .post("/v1/affiliates/invitations", json!({ "emails": too_many }))
        .await;
    assert_eq!(
        (r.status, r.code(), r.field()),
        (StatusCode::BAD_REQUEST, "invalid_request", "emails"),
        "{}",
        r.text
    );
    let r = app
        .post("/v1/affiliates/invitations", json!({ "emails": [] }))
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "emails"));
    let r = app.get("/v1/affiliates/invitations").await;
    assert_eq!(r.data()["total"], 0, "nothing was created: {}", r.text);
    assert_eq!(count_events(&app, "invitation.created"), 0);

    let r = app
        .post(
            "/v1/affiliates/invitations",
            json!({ "emails": &too_many[..25], "message": "Join us" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["invitations"].as_array().unwrap().len(), 25);
    assert_eq!(r.data()["skipped"], json!([]));
    assert_eq!(count_events(&app, "invitation.created"), 25);
    let r = app
        .get("/v1/affiliates/invitations?limit=10&offset=20")
        .await;
    assert_eq!(
        (&r.data()["total"], &r.data()["limit"], &r.data()["offset"]),
        (&json!(25), &json!(10), &json!(20))
    );
    assert_eq!(r.data()["invitations"].as_array().unwrap().len(), 5);

    let r = app
        .post(
            "/v1/affiliates/invitations",
            json!({ "emails": ["a@x.io"], "extra": 1 }),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "extra"));
}

#[tokio::test]
async fn every_skip_reason_is_reported_in_order() {
    let app = spawn_app().await;
    app.affiliate("member@x.io", "Member").await;
    invite_one(&app, "waiting@x.io").await;
    let r = invite(
        &app,
        &[
            "Member@X.io",
            "new@x.io",
            "not-an-email",
            "WAITING@x.io",
            "NEW@x.io",
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.data()["skipped"],
        json!([
            {"email": "member@x.io", "reason": "already_affiliate"},
            {"email": "not-an-email", "reason": "invalid_email"},
            {"email": "waiting@x.io", "reason": "pending_invitation"},
            {"email": "new@x.io", "reason": "duplicate_in_request"},
        ])
    );
    let created = r.data()["invitations"].as_array().unwrap();
    assert_eq!(created.len(), 1);
    let inv = &created[0];
    assert!(inv["id"].as_str().unwrap().starts_with("inv_"));
    assert_eq!(inv["email"], "new@x.io");
    assert_eq!(inv["status"], "pending");
    let token = inv["token"].as_str().unwrap();
    assert!(token.len() >= 40, "{token}");
    assert_eq!(
        inv["acceptUrl"],
        format!("{}/v1/invitations/{token}/accept", app.base)
    );
    for f in ["message", "acceptedAt", "cancelledAt", "affiliateId"] {
        assert!(inv[f].is_null(), "{f}");
    }
    let created_at = chrono::DateTime::parse_from_rfc3339(inv["createdAt"].as_str().unwrap());
    let expires_at = chrono::DateTime::parse_from_rfc3339(inv["expiresAt"].as_str().unwrap());
    assert_eq!(
        expires_at.unwrap() - created_at.unwrap(),
        Duration::days(14)
    );

    // The token is shown once: neither the list nor a fetch has it.
    let r = app.get("/v1/affiliates/invitations?status=pending").await;
    assert_eq!(r.data()["total"], 2);
    assert!(!r.text.contains(token) && !r.text.contains("acceptUrl"));
    let id = inv["id"].as_str().unwrap();
    let r = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
    assert_eq!(r.data()["invitation"]["email"], "new@x.io");
    assert!(r.data()["invitation"].get("token").is_none());
    // Nor is it stored: only its hash.
    let mut c = app.state.db.write_conn().unwrap();
    let payloads: Vec<String> = events::table.select(events::payload).load(&mut *c).unwrap();
    assert!(payloads.iter().all(|p| !p.contains(token)));
}

#[tokio::test]
async fn a_token_is_accepted_once_and_only_once() {
    let app = spawn_app().await;
    let (id, token) = invite_one(&app, "Ann@X.io").await;
    let r = accept(
        &app,
        &token,
        json!({"name": "Ann Smith", "referralCode": "ann10", "paymentMethod": "paypal"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = &r.data()["affiliate"];
    assert_eq!(a["email"], "ann@x.io");
    assert_eq!(a["source"], "invitation");
    assert_eq!(a["status"], "active");
    assert_eq!(a["referralCode"], "ANN10");
    assert_eq!(a["paymentMethod"], "paypal");
    let affiliate_id = a["id"].as_str().unwrap().to_string();

    let r = accept(&app, &token, json!({"name": "Ann Again"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    assert!(r.text.contains("already been accepted"), "{}", r.text);

    let r = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
    let inv = &r.data()["invitation"];
    assert_eq!(inv["status"], "accepted");
    assert_eq!(inv["affiliateId"], affiliate_id.as_str());
    assert!(inv["acceptedAt"].is_string());
    let r = app.get(&format!("/v1/affiliates/{affiliate_id}")).await;
    assert_eq!(r.data()["affiliate"]["source"], "invitation");
    assert_eq!(count_events(&app, "affiliate.joined"), 1);
    assert_eq!(count_events(&app, "affiliate.created"), 0);

    // Accepted means enrolled: the address is now skipped as an affiliate.
    let r = invite(&app, &["ann@x.io"]).await;
    assert_eq!(r.data()["skipped"][0]["reason"], "already_affiliate");

    let r = accept(&app, "rginv_doesnotexist", json!({"name": "X"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "resource_not_found")
    );
    let r = accept(&app, &token, json!({"name": "X", "email": "x@x.io"})).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "email"));
}

#[tokio::test]
async fn a_failed_acceptance_leaves_the_invitation_pending() {
    let app = spawn_app().await;
    app.post(
        "/v1/affiliates",
        json!({"email": "taken@x.io", "name": "T", "referralCode": "TAKEN"}),
    )
    .await;
    let (id, token) = invite_one(&app, "bob@x.io").await;
    let r = accept(
        &app,
        &token,
        json!({"name": "Bob", "referralCode": "taken"}),
    )
    .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::CONFLICT, "referralCode")
    );
    let r = accept(&app, &token, json!({"name": ""})).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "name"));
    let r = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
    assert_eq!(r.data()["invitation"]["status"], "pending");
    assert_eq!(count_events(&app, "affiliate.joined"), 0);
    let r = accept(&app, &token, json!({"name": "Bob"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn concurrent_acceptances_make_exactly_one_affiliate() {
    let app = spawn_app().await;
    let (_, token) = invite_one(&app, "race@x.io").await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let http = app.http.clone();
        let url = format!("{}/v1/invitations/{token}/accept", app.base);
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .json(&json!({"name": format!("Racer {i}")}))
                .send()
                .await
                .expect("sent");
            res.status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let won = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let lost = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((won, lost), (1, 5), "{statuses:?}");
    let r = app.get("/v1/affiliates?email=race@x.io").await;
    assert_eq!(r.data()["total"], 1);
    assert_eq!(count_events(&app, "affiliate.joined"), 1);
}

#[tokio::test]
async fn concurrent_batches_invite_an_address_once() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let emails = json!({"emails": ["same@x.io", "also@x.io"]});
        tasks.push(app.spawn_post("/v1/affiliates/invitations", emails, &[]));
    }
    let mut created = 0;
    let mut skipped = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        created += r.data()["invitations"].as_array().unwrap().len();
        for s in r.data()["skipped"].as_array().unwrap() {
            assert_eq!(s["reason"], "pending_invitation");
            skipped += 1;
        }
    }
    assert_eq!((created, skipped), (2, 6));
    let r = app.get("/v1/affiliates/invitations").await;
    assert_eq!(r.data()["total"], 2);
}

#[tokio::test]
async fn invitations_expire_on_the_clock() {
    let app = spawn_app().await;
    let (id, token) = invite_one(&app, "late@x.io").await;
    let (fresh_id, _) = invite_one(&app, "later@x.io").await;
    app.state.clock.advance(Duration::days(15));

    let r = app.get("/v1/affiliates/invitations?status=expired").await;
    assert_eq!(r.data()["total"], 2, "{}", r.text);
    assert_eq!(r.data()["invitations"][0]["status"], "expired");
    let r = app.get("/v1/affiliates/invitations?status=pending").await;
    assert_eq!(r.data()["total"], 0);
    let r = app.get("/v1/affiliates/invitations?status=sent").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "status"));

    let r = accept(&app, &token, json!({"name": "Late"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    assert!(r.text.contains("invitation expired"), "{}", r.text);
    let r = app
        .delete(&format!("/v1/affiliates/invitations/{fresh_id}"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    // An expired invitation no longer blocks a new one; the old token stays dead.
    let r = invite(&app, &["late@x.io"]).await;
    assert_eq!(r.data()["skipped"], json!([]), "{}", r.text);
    let new_token = r.data()["invitations"][0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = accept(&app, &token, json!({"name": "Late"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = accept(&app, &new_token, json!({"name": "Late"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.get(&format!("/v1/affiliates/invitations/{id}")).await;
    assert_eq!(r.data()["invitation"]["status"], "expired");
}

#[tokio::test]
async fn cancelled_invitations_cannot_be_accepted() {
    let app = spawn_app().await;
    let (id, token) = invite_one(&app, "gone@x.io").await;
    let path = format!("/v1/affiliates/invitations/{id}");

    let other = app.other_program_key("Other program");
    let r = app.req_with(Method::DELETE, &path, None, &other, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .req_with(Method::GET, "/v1/affiliates/invitations", None, &other, &[])
        .await;
    assert_eq!(r.data()["total"], 0);

    let r = app.delete(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["invitation"]["status"], "cancelled");
    assert!(r.data()["invitation"]["cancelledAt"].is_string());
    let r = app.delete(&path).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    let r = accept(&app, &token, json!({"name": "Gone"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("cancelled"), "{}", r.text);
    let r = app.get("/v1/affiliates/invitations?status=cancelled").await;
    assert_eq!(r.data()["total"], 1);

    // The address may be invited again.
    let r = invite(&app, &["gone@x.io"]).await;
    assert_eq!(r.data()["invitations"].as_array().unwrap().len(), 1);

    let r = app.delete("/v1/affiliates/invitations/inv_nosuch").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.delete("/v1/affiliates/invitations/aff_123").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "id"));
    // An accepted invitation cannot be cancelled.
    let (id, token) = invite_one(&app, "kept@x.io").await;
    accept(&app, &token, json!({"name": "Kept"})).await;
    let r = app
        .delete(&format!("/v1/affiliates/invitations/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn without_auto_approval_invitees_wait_for_approval() {
    let app = spawn_app().await;
    let r = app
        .patch("/v1/program", json!({"autoApproveAffiliates": false}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (_, token) = invite_one(&app, "wait@x.io").await;
    let r = accept(&app, &token, json!({"name": "Wait"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["affiliate"]["status"], "pending");
    let id = r.data()["affiliate"]["id"].as_str().unwrap().to_string();
    let r = app
        .patch(&format!("/v1/affiliates/{id}"), json!({"status": "active"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["affiliate"]["status"], "active");
    assert_eq!(r.data()["affiliate"]["source"], "invitation");
}

#[tokio::test]
async fn the_client_invites_lists_cancels_and_accepts() {
    let app = spawn_app().await;
    let client = Client::builder()
        .base_url(&app.base)
        .api_key(&app.key)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let batch = client
        .invitations()
        .create(CreateInvitations {
            emails: vec![
                "c1@x.io".into(),
                "c2@x.io".into(),
                "c3@x.io".into(),
                "bad".into(),
            ],
            message: Some("Welcome".into()),
        })
        .await
        .unwrap();
    assert_eq!(batch.invitations.len(), 3);
    assert_eq!(batch.skipped.len(), 1);
    assert_eq!(batch.invitations[0].message.as_deref(), Some("Welcome"));

    let page = client
        .invitations()
        .list(ListInvitations {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.total, page.invitations.len()), (3, 2));
    let all: Vec<_> = client
        .invitations()
        .list_all(ListInvitations {
            limit: Some(1),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|i| i.token.is_none()));

    let first = &batch.invitations[0];
    let cancelled = client.invitations().cancel(&first.id).await.unwrap();
    assert_eq!(
        cancelled.status,
        refgrow_client::api::InvitationStatus::Cancelled
    );
    let e = client.invitations().cancel(&first.id).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Conflict));

    let second = &batch.invitations[1];
    let affiliate = client
        .invitations()
        .accept(
            second.token.as_deref().unwrap(),
            AcceptInvitation {
                name: "Client Two".into(),
                referral_code: None,
                payment_method: None,
                payment_details: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(affiliate.source, AffiliateSource::Invitation);
    assert_eq!(affiliate.status, AffiliateStatus::Active);
    let fetched = client.invitations().get(&second.id).await.unwrap();
    assert_eq!(fetched.affiliate_id.as_ref(), Some(&affiliate.id));

    let e = client
        .invitations()
        .get(&InvitationId::parse("inv_nosuch").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ResourceNotFound));
}
