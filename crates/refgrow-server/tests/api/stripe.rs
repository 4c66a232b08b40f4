//! Stripe events built from Stripe's own example objects, signed as Stripe signs them, fed
//! through HTTP: checkout → three monthly invoices → partial refunds → a full refund, every
//! event sent twice; bad and stale signatures; a JPY invoice; a dispute.

use chrono::Duration;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{post_stripe_webhook, spawn_app, stripe_setup, TestApp};

const SECRET: &str = "whsec_refgrow_test_secret";

fn fixture(name: &str) -> Value {
    let text = include_str!("../fixtures/stripe_objects.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all[name].clone()
}

/// A Stripe event wrapping `object`, with fields of the object replaced by `set`.
fn event(id: &str, kind: &str, object: &str, set: Value) -> Value {
    let mut obj = fixture(object);
    for (k, v) in set.as_object().unwrap() {
        obj[k] = v.clone();
    }
    let mut ev = fixture("event");
    ev["id"] = json!(id);
    ev["type"] = json!(kind);
    ev["data"] = json!({"object": obj});
    ev
}

/// A server whose program has the Stripe webhook secret set.
async fn stripe_app() -> TestApp {
    let app = spawn_app().await;
    app.patch("/v1/program", json!({"stripeWebhookSecret": SECRET}))
        .await;
    app
}

/// Sends an event twice, as Stripe may: the second delivery changes nothing.
async fn deliver(app: &TestApp, ev: &Value) -> Value {
    let body = serde_json::to_string(ev).unwrap();
    let t = app.state.clock.now_ms() / 1000;
    let sig = refgrow_server::services::stripe::sign(body.as_bytes(), SECRET, t);
    let first = post_stripe_webhook(app, &body, &sig).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.data()["duplicate"], false);
    let again = post_stripe_webhook(app, &body, &sig).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.data()["duplicate"], true);
    assert_eq!(again.data()["outcome"], first.data()["outcome"]);
    first.data().clone()
}

fn stored_events(app: &TestApp) -> i64 {
    use refgrow_server::db::schema::stripe_events;
    let mut c = app.state.db.write_conn().unwrap();
    stripe_events::table.count().get_result(&mut *c).unwrap()
}

async fn commissions_of(app: &TestApp, aff: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/commissions?affiliateId={aff}&limit=100"))
        .await;
    let mut v = r.data()["commissions"].as_array().unwrap().clone();
    v.reverse();
    v
}

#[tokio::test]
async fn checkout_invoices_refunds_and_disputes() {
    let app = spawn_app().await;
    let r = stripe_setup(&app, SECRET).await;
    assert_ne!(
        r.data()["program"]["stripeWebhookSecret"],
        SECRET,
        "never echoed in full"
    );
    let a = app.affiliate("stripe-aff@x.io", "Stripe Aff").await;
    let aff = a["id"].as_str().unwrap();

    let out = deliver(
        &app,
        &event(
            "evt_checkout",
            "checkout.session.completed",
            "checkout.session",
            json!({
        "customer": "cus_buyer", "client_reference_id": a["referralCode"],
        "customer_details": {"email": "buyer@y.io", "name": "Buyer"}, "metadata": {}}),
        ),
    )
    .await;
    assert!(out["outcome"].as_str().unwrap().contains(aff), "{out}");
    let cu = app.get("/v1/customers/cus_buyer").await;
    assert_eq!(cu.data()["customer"]["affiliateId"], a["id"]);

    // Three monthly invoices of $20.00; the second and third carry payment references.
    let inv = |n: u32, extra: Value| {
        let mut set = json!({"id": format!("in_{n}"), "customer": "cus_buyer", "amount_paid": 2000, "currency": "usd"});
        for (k, v) in extra.as_object().unwrap() {
            set[k] = v.clone();
        }
        event(&format!("evt_inv_{n}"), "invoice.paid", "invoice", set)
    };
    deliver(&app, &inv(1, json!({"payment_intent": "pi_1"}))).await;
    app.state.clock.advance(Duration::days(30));
    deliver(
        &app,
        &inv(
            2,
            json!({"payments": {"data": [{"payment": {"type": "charge", "charge": "ch_2"}}]}}),
        ),
    )
    .await;
    app.state.clock.advance(Duration::days(30));
    deliver(&app, &inv(3, json!({}))).await;
    let comms = commissions_of(&app, aff).await;
    assert_eq!(comms.len(), 3);
    for c in &comms {
        assert_eq!(c["amount"].to_string(), "4.00");
    }

    // A partial refund of the second invoice's charge, then a second partial one.
    let refund = |id: &str, refunded: i64| {
        event(
            id,
            "charge.refunded",
            "charge",
            json!({"id": "ch_2", "customer": "cus_buyer", "amount": 2000,
            "amount_refunded": refunded, "currency": "usd", "payment_intent": null}),
        )
    };
    deliver(&app, &refund("evt_ref_1", 500)).await;
    assert_eq!(
        commissions_of(&app, aff).await[1]["amount"].to_string(),
        "3.00"
    );
    deliver(&app, &refund("evt_ref_2", 1000)).await;
    assert_eq!(
        commissions_of(&app, aff).await[1]["amount"].to_string(),
        "2.00"
    );
    // A full refund of the third, found through the charge's invoice.
    deliver(
        &app,
        &event(
            "evt_ref_3",
            "charge.refunded",
            "charge",
            json!({"id": "ch_3", "invoice": "in_3",
        "customer": "cus_buyer", "amount": 2000, "amount_refunded": 2000, "currency": "usd"}),
        ),
    )
    .await;
    let comms = commissions_of(&app, aff).await;
    assert_eq!(
        (comms[2]["status"].clone(), comms[2]["amount"].to_string()),
        (json!("reversed"), "0.00".into())
    );
    // A dispute of the first holds its commission.
    deliver(
        &app,
        &event(
            "evt_dispute",
            "charge.dispute.created",
            "dispute",
            json!({"charge": "ch_1", "payment_intent": "pi_1"}),
        ),
    )
    .await;
    assert_eq!(commissions_of(&app, aff).await[0]["onHold"], true);
    let r = app
        .put(
            &format!(
                "/v1/commissions/{}/status",
                comms[0]["id"].as_str().unwrap()
            ),
            json!({"status": "approved"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "a held commission is not approved"
    );

    // Zero-amount invoices and unknown event types are stored and earn nothing.
    deliver(&app, &inv(4, json!({"amount_paid": 0}))).await;
    deliver(
        &app,
        &event(
            "evt_other",
            "customer.subscription.deleted",
            "subscription",
            json!({"customer": "cus_buyer"}),
        ),
    )
    .await;
    deliver(
        &app,
        &event(
            "evt_new",
            "radar.early_fraud_warning.created",
            "charge",
            json!({}),
        ),
    )
    .await;
    assert_eq!(commissions_of(&app, aff).await.len(), 3);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn bad_and_stale_signatures_store_nothing() {
    let app = stripe_app().await;
    let ev = event(
        "evt_sig",
        "customer.created",
        "customer",
        json!({"id": "cus_sig"}),
    );
    let body = serde_json::to_string(&ev).unwrap();
    let now = app.state.clock.now_ms() / 1000;
    let cases = [
        refgrow_server::services::stripe::sign(body.as_bytes(), "whsec_wrong_secret", now),
        refgrow_server::services::stripe::sign(body.as_bytes(), SECRET, now - 3600),
        "t=123".to_string(),
        String::new(),
    ];
    for sig in &cases {
        let r = post_stripe_webhook(&app, &body, sig).await;
        assert_eq!(
            (r.status, r.code(), r.field()),
            (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Stripe-Signature"
            ),
            "{sig}: {}",
            r.text
        );
    }
    let sig = refgrow_server::services::stripe::sign(b"not json", SECRET, now);
    let r = post_stripe_webhook(&app, "not json", &sig).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "body"));
    assert_eq!(stored_events(&app), 0);
    let r = app
        .http
        .post(format!(
            "{}/v1/integrations/stripe/prog_nope/webhook",
            app.base
        ))
        .header("stripe-signature", "t=1,v1=00")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn a_jpy_invoice_earns_whole_yen() {
    let app = stripe_app().await;
    let a = app.affiliate("yen@x.io", "Yen").await;
    deliver(
        &app,
        &event(
            "evt_cus_jp",
            "customer.created",
            "customer",
            json!({"id": "cus_jp", "email": "jp@y.io",
        "metadata": {"referral": a["referralCode"]}}),
        ),
    )
    .await;
    let out = deliver(
        &app,
        &event(
            "evt_inv_jp",
            "invoice.paid",
            "invoice",
            json!({"id": "in_jp", "customer": "cus_jp",
        "amount_paid": 1999, "currency": "jpy"}),
        ),
    )
    .await;
    assert!(
        out["outcome"].as_str().unwrap().contains("recorded"),
        "{out}"
    );
    let comms = commissions_of(&app, a["id"].as_str().unwrap()).await;
    assert_eq!(comms.len(), 1);
    assert_eq!(
        (comms[0]["amount"].to_string(), comms[0]["currency"].clone()),
        ("400".to_string(), json!("JPY"))
    );
    assert_eq!(comms[0]["conversionAmount"].to_string(), "1999");
    crate::integrity::assert_reconciled(&app).await;
}
