//! Conversions, transactions, refunds and commissions: exact money, counted once.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::commission;
use crate::helpers::{spawn_app, TestApp};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

async fn rule(app: &TestApp, body: Value) {
    let r = app.patch("/v1/program", body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_conversion_earns_the_default_rate_and_replays_exactly() {
    let app = spawn_app().await;
    let a = app.affiliate("gus@x.io", "Gus").await;
    let body = json!({"referralCode": a["referralCode"], "amount": 99.99, "orderId": "order-1"});
    let r = app.post("/v1/referrals/convert", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let d = r.data();
    assert!(d["conversionId"].as_str().unwrap().starts_with("conv_"));
    assert_eq!(d["affiliateId"], a["id"]);
    assert!(
        r.text.contains("\"amount\":99.99") && r.text.contains("\"commission\":20.00"),
        "{}",
        r.text
    );
    assert_eq!(d["orderId"], "order-1");
    assert_eq!(d["currency"], "USD");
    let again = app.post("/v1/referrals/convert", body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.data()["conversionId"], d["conversionId"]);
    assert_eq!(again.data()["commissionId"], d["commissionId"]);
    let other = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 5, "orderId": "order-1"}),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::CONFLICT, "conflict")
    );

    let c = commission(&app, d["commissionId"].as_str().unwrap()).await;
    assert_eq!(c["status"], "pending");
    assert_eq!(c["conversionAmount"].to_string(), "99.99");
    let aff = app.get(&format!("/v1/affiliates/{}", id(&a))).await;
    let aff = &aff.data()["affiliate"];
    assert_eq!(aff["conversionCount"], 1);
    assert_eq!(aff["pendingEarnings"].to_string(), "20.00");
    assert_eq!(aff["totalEarnings"].to_string(), "20.00");
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn sixteen_concurrent_identical_conversions_make_one_commission() {
    let app = spawn_app().await;
    let a = app.affiliate("hal@x.io", "Hal").await;
    let body = json!({"referralCode": a["referralCode"], "amount": "250.00", "orderId": "race-1"});
    let mut tasks = Vec::new();
    for _ in 0..16 {
        tasks.push(app.spawn_post("/v1/referrals/convert", body.clone(), &[]));
    }
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for t in tasks {
        let r = t.await.unwrap();
        let (status, conv) = (r.status, r.data()["conversionId"].clone());
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
        ids.insert(conv.to_string());
    }
    assert_eq!((created, ids.len()), (1, 1));
    let list = app
        .get(&format!("/v1/commissions?affiliateId={}", id(&a)))
        .await;
    assert_eq!(list.data()["total"], 1);

    // The same with Idempotency-Key and no orderId.
    let body = json!({"referralCode": a["referralCode"], "amount": 10});
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let idem = [("Idempotency-Key", "idem-1".to_string())];
        tasks.push(app.spawn_post("/v1/referrals/convert", body.clone(), &idem));
    }
    for t in tasks {
        let s = t.await.unwrap().status;
        assert!(s == StatusCode::CREATED || s == StatusCode::OK, "{s}");
    }
    let list = app
        .get(&format!("/v1/commissions?affiliateId={}", id(&a)))
        .await;
    assert_eq!(list.data()["total"], 2);
    let r = app
        .req_with(
            Method::POST,
            "/v1/referrals/convert",
            Some(json!({"referralCode": a["referralCode"], "amount": 11})),
            &app.key,
            &[("Idempotency-Key", "idem-1")],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn bad_money_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let a = app.affiliate("ida@x.io", "Ida").await;
    for (amount, currency) in [
        (json!(-1), "USD"),
        (json!("1.234"), "USD"),
        (json!("NaN"), "USD"),
        (json!(1e30), "USD"),
        (json!(1.5), "JPY"),
        (json!(true), "USD"),
    ] {
        let r = app
            .post(
                "/v1/referrals/convert",
                json!({"referralCode": a["referralCode"], "amount": amount, "currency": currency}),
            )
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, "amount"),
            "{amount} {currency}: {}",
            r.text
        );
    }
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 1, "currency": "DOLLARS"}),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "currency"));
    let r = app
        .post("/v1/referrals/convert", json!({"amount": 1}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.get("/v1/commissions").await;
    assert_eq!(r.data()["total"], 0);
    // Whole yen and three-decimal dinars are exact.
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 1999, "currency": "JPY"}),
        )
        .await;
    assert!(
        r.text.contains("\"amount\":1999,") && r.text.contains("\"commission\":400,"),
        "{}",
        r.text
    );
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": "12.345", "currency": "kwd"}),
        )
        .await;
    assert!(r.text.contains("\"commission\":2.469"), "{}", r.text);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn recurring_tiers_products_and_second_tier() {
    let app = spawn_app().await;
    rule(&app, json!({"holdDays": 0, "commission": {"type": "percentage", "rate": 10, "recurring": {"months": 2},
        "tiers": [{"minConversions": 2, "rate": 15}],
        "products": {"ent": {"type": "fixed", "amount": 150}},
        "secondTier": {"rate": 5}}}))
    .await;
    let parent = app.affiliate("pam@x.io", "Pam").await;
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "kid@x.io", "name": "Kid", "parentAffiliateId": parent["id"]}),
        )
        .await;
    let kid = r.data()["affiliate"].clone();
    app.post(
        "/v1/customers",
        json!({"key": "cust", "referralCode": kid["referralCode"]}),
    )
    .await;
    let pay =
        |key: &str, amount: &str| json!({"customerKey": "cust", "key": key, "amount": amount});
    let r = app.post("/v1/transactions", pay("inv-1", "100.00")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.text.contains("\"commission\":10.00"), "{}", r.text);
    assert_eq!(r.data()["conversion"]["status"], "completed");
    app.state.clock.advance(Duration::days(31));
    let r = app.post("/v1/transactions", pay("inv-2", "100.00")).await;
    assert!(
        r.text.contains("\"commission\":10.00"),
        "second month still earns: {}",
        r.text
    );
    app.state.clock.advance(Duration::days(31));
    let r = app.post("/v1/transactions", pay("inv-3", "100.00")).await;
    assert!(
        r.text.contains("\"commission\":0.00"),
        "third month is outside: {}",
        r.text
    );
    assert_eq!(
        r.data()["conversion"]["noCommissionReason"],
        "outside_recurring_window"
    );
    // A new customer: tier reached (2 earlier conversions), and a per-product override.
    app.post(
        "/v1/customers",
        json!({"key": "cust2", "referralCode": kid["referralCode"]}),
    )
    .await;
    let r = app
        .post(
            "/v1/transactions",
            json!({"customerKey": "cust2", "key": "inv-4", "amount": 200}),
        )
        .await;
    assert!(
        r.text.contains("\"commission\":30.00"),
        "tier rate 15%: {}",
        r.text
    );
    app.post(
        "/v1/customers",
        json!({"key": "cust3", "referralCode": kid["referralCode"]}),
    )
    .await;
    let r = app
        .post(
            "/v1/transactions",
            json!({"customerKey": "cust3", "key": "inv-5", "amount": 1000, "productId": "ent"}),
        )
        .await;
    assert!(r.text.contains("\"commission\":150.00"), "{}", r.text);
    // The parent earned 5% of every earning sale: 100 + 100 + 200 + 1000 = 1400 -> 70.00.
    let p = app.get(&format!("/v1/affiliates/{}", id(&parent))).await;
    assert_eq!(
        p.data()["affiliate"]["approvedEarnings"].to_string(),
        "70.00",
        "{}",
        p.text
    );
    // Unknown and unattributed customers are acknowledged and earn nothing.
    let r = app
        .post(
            "/v1/transactions",
            json!({"customerKey": "nobody", "key": "inv-6", "amount": 10}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.data()["attributed"], false);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn refunds_before_and_after_payout() {
    let app = spawn_app().await;
    let a = app.affiliate("jon@x.io", "Jon").await;
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 200, "orderId": "o1"}),
        )
        .await;
    let conv = r.data()["conversionId"].as_str().unwrap().to_string();
    let comm = r.data()["commissionId"].as_str().unwrap().to_string();
    // Partial refund before payout: 25% of the sale -> commission 40.00 -> 30.00.
    let r = app
        .post(
            &format!("/v1/conversions/{conv}/refunds"),
            json!({"amount": 50, "reason": "downgrade"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["conversion"]["status"], "partially_refunded");
    assert_eq!(commission(&app, &comm).await["amount"].to_string(), "30.00");
    let r = app
        .post(
            &format!("/v1/conversions/{conv}/refunds"),
            json!({"amount": 151}),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "amount"));

    // Approve and pay, then refund another 50: the paid commission keeps its amount and a
    // clawback of 10.00 waits for the next payout.
    let r = app
        .put(
            &format!("/v1/commissions/{comm}/status"),
            json!({"status": "paid"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "conflict"),
        "pending -> paid is illegal"
    );
    app.put(
        &format!("/v1/commissions/{comm}/status"),
        json!({"status": "approved"}),
    )
    .await;
    let r = app
        .put(
            &format!("/v1/commissions/{comm}/status"),
            json!({"status": "paid"}),
        )
        .await;
    assert_eq!(r.data()["commission"]["status"], "paid");
    assert!(r.data()["commission"]["paidAt"].is_string());
    let r = app
        .put(
            &format!("/v1/commissions/{comm}/status"),
            json!({"status": "approved"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .post(
            &format!("/v1/conversions/{conv}/refunds"),
            json!({"amount": 50}),
        )
        .await;
    let adj = &r.data()["adjustments"][0];
    assert_eq!(adj["amount"].to_string(), "-10.00", "{}", r.text);
    assert_eq!(adj["type"], "adjustment");
    assert_eq!(commission(&app, &comm).await["amount"].to_string(), "30.00");
    // Refund the rest (no amount): another -20.00.
    let r = app
        .post(&format!("/v1/conversions/{conv}/refunds"), json!({}))
        .await;
    assert_eq!(r.data()["conversion"]["status"], "refunded");
    assert_eq!(r.data()["adjustments"][0]["amount"].to_string(), "-20.00");
    let aff = app.get(&format!("/v1/affiliates/{}", id(&a))).await;
    let aff = &aff.data()["affiliate"];
    assert_eq!(aff["paidEarnings"].to_string(), "30.00");
    assert_eq!(aff["approvedEarnings"].to_string(), "-30.00", "{aff}");
    let r = app
        .post(&format!("/v1/conversions/{conv}/refunds"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn transactions_delete_and_commission_reversal() {
    let app = spawn_app().await;
    let a = app.affiliate("kim@x.io", "Kim").await;
    app.post(
        "/v1/customers",
        json!({"key": "c1", "affiliateId": a["id"]}),
    )
    .await;
    let r = app
        .post(
            "/v1/transactions",
            json!({"customerKey": "c1", "key": "t1", "amount": 80}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let comm = r.data()["conversion"]["commissionId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.delete("/v1/transactions/t1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["conversion"]["status"], "refunded");
    let c = commission(&app, &comm).await;
    assert_eq!(
        (c["status"].clone(), c["amount"].to_string()),
        (json!("reversed"), "0.00".to_string())
    );
    assert_eq!(
        app.delete("/v1/transactions/t1").await.status,
        StatusCode::OK,
        "deleting twice is harmless"
    );
    assert_eq!(
        app.delete("/v1/transactions/nope").await.status,
        StatusCode::NOT_FOUND
    );

    // DELETE /commissions/{id}: unpaid -> reversed; paid -> reversed with a clawback.
    // (A second payment of c1 would earn nothing under the default first-payment-only rule.)
    app.post(
        "/v1/customers",
        json!({"key": "c2", "affiliateId": a["id"]}),
    )
    .await;
    let r = app
        .post(
            "/v1/transactions",
            json!({"customerKey": "c2", "key": "t2", "amount": 80}),
        )
        .await;
    let c2 = r.data()["conversion"]["commissionId"]
        .as_str()
        .unwrap()
        .to_string();
    app.put(
        &format!("/v1/commissions/{c2}/status"),
        json!({"status": "approved"}),
    )
    .await;
    app.put(
        &format!("/v1/commissions/{c2}/status"),
        json!({"status": "paid"}),
    )
    .await;
    let r = app.delete(&format!("/v1/commissions/{c2}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["commission"]["status"], "reversed");
    assert_eq!(r.data()["adjustment"]["amount"].to_string(), "-16.00");
    assert_eq!(
        app.delete(&format!("/v1/commissions/{c2}")).await.status,
        StatusCode::CONFLICT
    );
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn hold_period_approval_runs_by_itself_once() {
    let app = spawn_app().await;
    let a = app.affiliate("lou@x.io", "Lou").await;
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 10}),
        )
        .await;
    let comm = r.data()["commissionId"].as_str().unwrap().to_string();
    assert_eq!(
        refgrow_server::workers::jobs::run_once(&app.state)
            .await
            .unwrap(),
        0
    );
    app.state.clock.advance(Duration::days(31));
    assert_eq!(
        refgrow_server::workers::jobs::run_once(&app.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        refgrow_server::workers::jobs::run_once(&app.state)
            .await
            .unwrap(),
        0
    );
    let c = commission(&app, &comm).await;
    assert_eq!(c["status"], "approved");
    assert!(c["approvedAt"].is_string());
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn only_active_affiliates_earn() {
    let app = spawn_app().await;
    let a = app.affiliate("max@x.io", "Max").await;
    app.patch(
        &format!("/v1/affiliates/{}", id(&a)),
        json!({"status": "suspended", "suspendedReason": "fraud review"}),
    )
    .await;
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 10}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["commissionId"], Value::Null);
    assert_eq!(r.data()["noCommissionReason"], "affiliate_suspended");
    let r = app
        .post(
            "/v1/commissions",
            json!({"affiliateId": a["id"], "amount": 5}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("suspended"));
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn manual_commissions_and_listing() {
    let app = spawn_app().await;
    let a = app.affiliate("ned@x.io", "Ned").await;
    let body = json!({"affiliateId": a["id"], "amount": "12.50", "orderId": "bonus-1", "description": "Launch bonus"});
    let r = app.post("/v1/commissions", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["commission"]["type"], "manual");
    let again = app.post("/v1/commissions", body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.data()["commission"]["id"],
        r.data()["commission"]["id"]
    );
    let r = app
        .post(
            "/v1/commissions",
            json!({"affiliateId": a["id"], "amount": 1, "orderId": "bonus-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.get("/v1/commissions?status=pending&limit=1").await;
    assert_eq!(
        (r.data()["total"].clone(), r.data()["limit"].clone()),
        (json!(1), json!(1))
    );
    let r = app.get("/v1/commissions?status=bogus").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "status"));
    let r = app.get("/v1/commissions?from=yesterday").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "from"));
    let r = app
        .get("/v1/commissions?from=2020-01-01&to=2020-01-02")
        .await;
    assert_eq!(r.data()["total"], 0);
    let r = app.get("/v1/commissions/comm_nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/v1/commissions/aff_nope").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "id"));
    crate::integrity::assert_reconciled(&app).await;
}
