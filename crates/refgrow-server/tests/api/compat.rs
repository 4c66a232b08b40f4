//! The seed APIs replayed: every request example of the five seed documents, sent as the
//! documents print it, against the real server, checking the answers' shapes and the money.
//! The examples are copied below verbatim; where a document printed a body cut short (the
//! Partnero page lost its closing braces), both the literal text closed as printed and the
//! completed body are sent. `docs/compat.md` maps every call.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};
use crate::webhooks::{verified, wait_for, Receiver};

// ----- The examples, as printed -----

/// 001 (API reference): `POST /affiliates` parameters and its response example's values.
const REF_CREATE_AFFILIATE: &str = r#"{
  "email": "affiliate@example.com",
  "name": "John Doe",
  "referralCode": "JOHNDOE10",
  "customFields": {"plan": "pro"}
}"#;

/// 001: `POST /referrals/track` parameters with the example's values.
const REF_TRACK: &str = r#"{
  "referralCode": "JOHNDOE10",
  "sourceUrl": "https://blog.example.com/post",
  "userAgent": "Mozilla/5.0",
  "ipAddress": "203.0.113.7"
}"#;

/// 002 (LinkJolt): the body of `fetch('https://api.linkjolt.io/v1/conversions', …)`, its
/// JavaScript object literal written as JSON.
const LINKJOLT_CONVERSION: &str = r#"{
    "tracking_code": "tc_ABC123",
    "order_value": 99.99,
    "order_id": "order_12345",
    "customer_email": "customer@example.com"
  }"#;

/// 002: the webhook example a LinkJolt receiver is written against.
const LINKJOLT_WEBHOOK: &str = r#"{
  "event": "conversion.created",
  "data": {
    "conversion_id": "conv_123456",
    "affiliate_id": "aff_789",
    "commission_amount": 29.99,
    "order_value": 99.99,
    "timestamp": "2025-01-15T10:30:00Z"
  }
}"#;

/// 004 (Partnero) "Sending sign-up data", as printed (cut short), closed where it stops.
const PARTNERO_CUSTOMER_AS_PRINTED: &str = r#"{
  "partner": {
  "key": "CUSTOMER_KEY",
  "email": "",
  "name": "Partnero"
}}"#;

/// 004: the same example completed per its parameter table (`partner.key` is the partner's
/// key, `key`/`email`/`name` the customer's).
const PARTNERO_CUSTOMER: &str = r#"{
  "partner": {
  "key": "UNIQUE_PARTNER_KEY"
  },
  "key": "CUSTOMER_KEY",
  "email": "",
  "name": "Partnero"
}"#;

/// 004 "Sending sales data", as printed, with the brace closing `customer` restored.
const PARTNERO_TRANSACTION: &str = r#"{
  "customer": {
    "key": "CUSTOMER_KEY"
  },
  "key": "transaction_123",
  "amount": 99.99,
  "product_id": "prod_123",
  "product_type": "monthly",
  "action": "sale"
}"#;

/// 004 "Delete transaction".
const PARTNERO_DELETE_TRANSACTION: &str = r#"{
  "key": "transaction_123"
}"#;

/// 004 "Delete customer".
const PARTNERO_DELETE_CUSTOMER: &str = r#"{
  "key": "CUSTOMER_KEY"
}"#;

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[track_caller]
fn money(v: &Value) -> String {
    assert!(v.is_number(), "not a number: {v}");
    v.to_string()
}

async fn send(app: &TestApp, method: Method, path: &str, b: Value) -> crate::helpers::Resp {
    app.req(method, path, Some(b)).await
}

// ----- 000: the integration guide -----

#[tokio::test]
async fn guide_calls_create_partners_customers_and_rule_priced_commissions() {
    let app = spawn_app().await;
    // "Create Affiliate": email, name and custom metadata (the app's user id).
    let r = app
        .post(
            "/api/partners",
            json!({"email": "partner@example.com", "name": "Pat Partner", "customFields": {"userId": "u_1042"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let aff = r.data()["affiliate"].clone();
    let id = aff["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("aff_"));
    // "Get Affiliate Details": the referral link to show at once.
    let r = app.get(&format!("/v1/affiliates/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.data()["affiliate"]["referralLink"]
        .as_str()
        .unwrap()
        .contains(aff["referralCode"].as_str().unwrap()));
    // POST /api/customers: the signup with the affiliate id saved from the URL.
    let r = app
        .post(
            "/api/customers",
            json!({"key": "user_2001", "email": "buyer@example.com", "affiliateId": id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["customer"]["attributed"], true);
    // POST /api/commissions: affiliate id, SALE amount, order id → 20 % of 99.99.
    let sale = json!({"affiliateId": id, "amount": 99.99, "orderId": "order_123456"});
    let r = app.post("/api/commissions", sale.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let comm = r.data()["commission"].clone();
    assert_eq!(money(&comm["amount"]), "20.00");
    assert_eq!(money(&comm["conversionAmount"]), "99.99");
    assert_eq!(comm["orderId"], "order_123456");
    assert_eq!(comm["status"], "pending");
    // The event fired twice: counted once.
    let again = app.post("/api/commissions", sale).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.data()["commission"]["id"], comm["id"]);
    let other = app
        .post(
            "/api/commissions",
            json!({"affiliateId": id, "amount": 50, "orderId": "order_123456"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.text);
    // GET /api/partners/{id}/stats: the dashboard numbers.
    let r = app.get(&format!("/api/partners/{id}/stats")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["totals"]["conversions"], 1, "{}", r.text);
    // DELETE /api/commissions/{id}: refund → reversed.
    let cid = comm["id"].as_str().unwrap();
    let r = app.delete(&format!("/api/commissions/{cid}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["commission"]["status"], "reversed");
    // Without a key: 401, in the envelope.
    let r = app
        .req_with(
            Method::POST,
            "/api/commissions",
            Some(json!({"affiliateId": id, "amount": 1})),
            "nope",
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}

#[tokio::test]
async fn native_commissions_take_a_sale_amount_or_an_amount_but_not_both() {
    let app = spawn_app().await;
    let aff = app.affiliate("sa@example.com", "Sal").await;
    let id = aff["id"].as_str().unwrap();
    let r = app
        .post(
            "/v1/commissions",
            json!({"affiliateId": id, "saleAmount": "250.00", "orderId": "s-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(money(&r.data()["commission"]["amount"]), "50.00");
    assert_eq!(money(&r.data()["commission"]["conversionAmount"]), "250.00");
    // The sale is a conversion like any other.
    let conv = r.data()["commission"]["conversionId"].as_str().unwrap();
    let c = app.get(&format!("/v1/conversions/{conv}")).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    // Today's manual amount is unchanged.
    let r = app
        .post(
            "/v1/commissions",
            json!({"affiliateId": id, "amount": 12.5, "orderId": "m-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(money(&r.data()["commission"]["amount"]), "12.50");
    for (b, field) in [
        (
            json!({"affiliateId": id, "amount": 1, "saleAmount": 10}),
            "saleAmount",
        ),
        (json!({"affiliateId": id}), "amount"),
        (json!({"affiliateId": id, "saleAmount": -5}), "saleAmount"),
        (json!({"affiliateId": id, "saleAmount": 0}), "saleAmount"),
        (
            json!({"affiliateId": id, "amount": 3, "productId": "p"}),
            "productId",
        ),
    ] {
        let r = app.post("/v1/commissions", b.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{b}: {}", r.text);
        assert_eq!(r.field(), field, "{b}: {}", r.text);
    }
    let list = app.get(&format!("/v1/commissions?affiliateId={id}")).await;
    assert_eq!(list.data()["total"], 2, "{}", list.text);
}

// ----- 001: the API reference -----

#[tokio::test]
async fn reference_examples_answer_in_their_documented_shapes() {
    let app = spawn_app().await;
    let r = app.post("/v1/affiliates", body(REF_CREATE_AFFILIATE)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let aff = r.data()["affiliate"].clone();
    for k in ["id", "email", "name", "status", "createdAt", "referralCode"] {
        assert!(!aff[k].is_null(), "{k}: {aff}");
    }
    assert_eq!(aff["referralCode"], "JOHNDOE10");
    let id = aff["id"].as_str().unwrap().to_string();
    let r = app
        .get("/v1/affiliates?limit=20&offset=0&status=active")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for k in ["affiliates", "total", "limit", "offset"] {
        assert!(!r.data()[k].is_null(), "{k}");
    }
    let r = app.post("/v1/referrals/track", body(REF_TRACK)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let click = r.data()["clickId"].as_str().unwrap().to_string();
    assert_eq!(r.data()["affiliateId"], id.as_str());
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"clickId": click, "amount": 99.99, "orderId": "order_123456",
                   "customer": {"email": "buyer@example.com", "name": "Bea Buyer"},
                   "products": [{"id": "prod_1", "name": "Pro", "quantity": 1, "amount": 99.99}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let conv = r.data().clone();
    assert_eq!(money(&conv["amount"]), "99.99");
    assert_eq!(money(&conv["commission"]), "20.00");
    assert_eq!(conv["referralCode"], "JOHNDOE10");
    assert_eq!(conv["orderId"], "order_123456");
    let r = app
        .get(&format!(
            "/v1/commissions?limit=20&offset=0&affiliateId={id}&status=pending"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let comm = r.data()["commissions"][0].clone();
    assert_eq!(money(&comm["amount"]), "20.00");
    assert_eq!(money(&comm["conversionAmount"]), "99.99");
    assert!(comm["paidAt"].is_null());
    let cid = comm["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/v1/commissions/{cid}/status"),
            json!({"status": "approved", "reason": "Order shipped"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["commission"]["status"], "approved");
    assert!(!r.data()["commission"]["updatedAt"].is_null());
    // The documented error example.
    let r = app.get("/v1/commissions?affiliateId=123456").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["success"], false);
    assert_eq!(r.field(), "affiliateId");
}

// ----- 002: LinkJolt -----

#[tokio::test]
async fn linkjolt_conversions_and_webhooks_keep_their_shape() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({"url": rx.url, "events": ["conversion.created"], "format": "linkjolt"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.data()["webhookEndpoint"]["format"], "linkjolt");
    let secret = r.data()["webhookEndpoint"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let aff = app
        .post(
            "/v1/affiliates",
            json!({"email": "jolt@example.com", "name": "Jo Jolt", "referralCode": "tc_ABC123"}),
        )
        .await;
    assert_eq!(aff.status, StatusCode::CREATED, "{}", aff.text);
    let aff_id = aff.data()["affiliate"]["id"].clone();

    let r = app.post("/v1/conversions", body(LINKJOLT_CONVERSION)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let d = r.data().clone();
    assert!(d["conversion_id"].as_str().unwrap().starts_with("conv_"));
    assert_eq!(d["affiliate_id"], aff_id);
    assert_eq!(money(&d["order_value"]), "99.99");
    assert_eq!(money(&d["commission_amount"]), "20.00");
    assert_eq!(d["order_id"], "order_12345");
    assert!(d["timestamp"].is_string());
    // A retry is the same conversion, not a second one.
    let again = app.post("/v1/conversions", body(LINKJOLT_CONVERSION)).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.data()["conversion_id"], d["conversion_id"]);
    // Bad input: the field as LinkJolt names it.
    let r = app
        .post(
            "/v1/conversions",
            json!({"tracking_code": "tc_ABC123", "order_value": "abc"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.field(), "order_value");
    let r = app
        .post(
            "/v1/conversions",
            json!({"tracking_code": "tc_NOPE99", "order_value": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // The receiver written for the seed's payload reads ours: same keys, signed as usual.
    wait_for(20, "the linkjolt delivery", || !rx.delivered().is_empty()).await;
    let got = rx.delivered()[0].clone();
    assert!(verified(&got, &secret));
    let sent = got.json();
    let example = body(LINKJOLT_WEBHOOK);
    assert_eq!(sent["event"], example["event"]);
    for k in example["data"].as_object().unwrap().keys() {
        assert!(sent["data"].get(k).is_some(), "{k} missing in {sent}");
    }
    assert_eq!(sent["data"]["conversion_id"], d["conversion_id"]);
    assert_eq!(money(&sent["data"]["commission_amount"]), "20.00");
    assert_eq!(money(&sent["data"]["order_value"]), "99.99");
}

// ----- 003: the store-affiliate API -----

#[tokio::test]
async fn store_affiliates_by_code_and_invitations_with_their_sender() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "store@example.com", "name": "Stella Store", "referralCode": "STELLA",
                   "customFields": {"country": "de", "pseudo": "stella_deals"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let native = r.data()["affiliate"].clone();
    assert_eq!(native["account"]["country"]["name"], "Germany");
    assert_eq!(native["totalEarningsFormatted"], "$0.00");
    let conv = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": "STELLA", "amount": 6253.75, "orderId": "st-1"}),
        )
        .await;
    assert_eq!(conv.status, StatusCode::CREATED, "{}", conv.text);

    // GET /v1/affiliates/{affiliateCode}.
    let r = app.get("/v1/affiliates/stella").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = r.data()["affiliate"].clone();
    assert_eq!(a["id"], native["id"]);
    assert_eq!(a["status"], "active");
    assert_eq!(a["source"], "api");
    assert_eq!(a["total_visits"], 0);
    assert_eq!(a["total_sales"], 1);
    assert_eq!(money(&a["total_earnings"]["amount"]), "1250.75");
    assert_eq!(a["total_earnings"]["formatted"], "$1,250.75");
    assert_eq!(a["account"]["user"]["email"], "store@example.com");
    assert_eq!(a["account"]["user"]["name"], "Stella Store");
    assert_eq!(a["account"]["pseudo"], "stella_deals");
    assert_eq!(
        a["account"]["country"],
        json!({"code": "DE", "name": "Germany"})
    );
    assert!(a.get("suspended_at").unwrap().is_null());
    assert!(a.get("suspended_reason").unwrap().is_null());
    // The native path by id is unchanged.
    let id = native["id"].as_str().unwrap();
    let r = app.get(&format!("/v1/affiliates/{id}")).await;
    assert_eq!(r.data()["affiliate"]["totalEarningsFormatted"], "$1,250.75");
    assert_eq!(
        app.get("/v1/affiliates/NOSUCH1").await.status,
        StatusCode::NOT_FOUND
    );
    let bad = app.get("/v1/affiliates/a!").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(bad.field(), "id");
    // Suspended: the timestamps and reason show.
    let r = app
        .patch(
            &format!("/v1/affiliates/{id}"),
            json!({"status": "suspended", "suspendedReason": "Coupon abuse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = app.get("/v1/affiliates/STELLA").await.data()["affiliate"].clone();
    assert_eq!(a["status"], "suspended");
    assert_eq!(a["suspended_reason"], "Coupon abuse");
    assert!(a["suspended_at"].is_string());

    // POST /v1/affiliates/invitations: who sent each, and the skipped ones.
    let r = app
        .post(
            "/v1/affiliates/invitations",
            json!({"emails": ["new1@example.com", "store@example.com", "new1@example.com"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = r.data()["invitations"][0].clone();
    assert!(inv["sentBy"]["keyId"].as_str().unwrap().starts_with("key_"));
    assert!(inv["expiresAt"].is_string());
    assert_eq!(inv["status"], "pending");
    let skipped: Vec<&str> = r.data()["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["already_affiliate", "duplicate_in_request"]);
    let listed = app.get("/v1/affiliates/invitations").await;
    assert_eq!(listed.data()["invitations"][0]["sentBy"], inv["sentBy"]);
}

// ----- 004: Partnero -----

#[tokio::test]
async fn partnero_signups_sales_and_deletes_as_documented() {
    let app = spawn_app().await;
    let aff = app
        .post(
            "/v1/affiliates",
            json!({"email": "partner@example.com", "name": "Pia", "referralCode": "UNIQUE_PARTNER_KEY"}),
        )
        .await;
    assert_eq!(aff.status, StatusCode::CREATED, "{}", aff.text);

    // The example as printed lacks the customer's `key`, which the table marks required.
    let r = app
        .post("/v1/customers", body(PARTNERO_CUSTOMER_AS_PRINTED))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.field(), "key");

    let r = app.post("/v1/customers", body(PARTNERO_CUSTOMER)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cu = r.data()["customer"].clone();
    assert_eq!(cu["key"], "CUSTOMER_KEY");
    assert_eq!(cu["partner"]["key"], "UNIQUE_PARTNER_KEY");
    assert_eq!(cu["ignored"], false);
    assert!(cu["email"].is_null(), "\"\" is no email: {cu}");
    assert_eq!(cu["name"], "Partnero");
    let native = app.get("/v1/customers/CUSTOMER_KEY").await;
    assert_eq!(native.data()["customer"]["attributed"], true);

    // "Feel free to send data about all signups": without a partner key nothing is stored.
    let r = app
        .post(
            "/v1/customers",
            json!({"partner": {}, "key": "anon_1", "email": "anon@example.com", "name": "Anon"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["customer"]["ignored"], true);
    assert_eq!(
        app.get("/v1/customers/anon_1").await.status,
        StatusCode::NOT_FOUND
    );

    // Sales: the full amount; the reward by the rule (20 %).
    let r = app
        .post("/v1/transactions", body(PARTNERO_TRANSACTION))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let t = r.data()["transaction"].clone();
    assert_eq!(t["key"], "transaction_123");
    assert_eq!(t["customer"]["key"], "CUSTOMER_KEY");
    assert_eq!(money(&t["amount"]), "99.99");
    assert_eq!(money(&t["commission_amount"]), "20.00");
    assert_eq!(t["product_id"], "prod_123");
    assert_eq!(t["ignored"], false);
    // Sent again: the same transaction.
    let again = app
        .post("/v1/transactions", body(PARTNERO_TRANSACTION))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    // The amount as the table types it: a string.
    let mut as_string = body(PARTNERO_TRANSACTION);
    as_string["key"] = json!("transaction_124");
    as_string["amount"] = json!("49.50");
    let r = app.post("/v1/transactions", as_string).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(money(&r.data()["transaction"]["amount"]), "49.50");
    // No key (optional for Partnero): each call is a sale, unless an Idempotency-Key makes
    // the retry the same call.
    let keyless = json!({"customer": {"key": "CUSTOMER_KEY"}, "amount": "10.00", "action": "sale"});
    let mut keys = Vec::new();
    for _ in 0..2 {
        let r = app
            .req_with(
                Method::POST,
                "/v1/transactions",
                Some(keyless.clone()),
                &app.key,
                &[("Idempotency-Key", "renewal-7")],
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        keys.push(r.data()["transaction"]["key"].clone());
    }
    assert_eq!(keys[0], keys[1]);
    let other = app.post("/v1/transactions", keyless).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    assert_ne!(other.data()["transaction"]["key"], keys[0]);
    // An unknown customer: acknowledged, nothing earned.
    let r = app
        .post(
            "/v1/transactions",
            json!({"customer": {"key": "anon_1"}, "key": "t-anon", "amount": "10", "action": "sale"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["transaction"]["ignored"], true);
    let r = app
        .post(
            "/v1/transactions",
            json!({"customer": {"key": "CUSTOMER_KEY"}, "key": "t-bad", "amount": "ten", "action": "sale"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.field(), "amount");

    // Delete transaction: reversed; an ignored one is acknowledged too.
    let r = send(
        &app,
        Method::DELETE,
        "/v1/transactions",
        body(PARTNERO_DELETE_TRANSACTION),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["transaction"]["deleted"], true);
    assert_eq!(money(&r.data()["transaction"]["amount"]), "99.99");
    let comms = app.get("/v1/commissions?status=reversed").await;
    assert_eq!(comms.data()["total"], 1, "{}", comms.text);
    let r = send(
        &app,
        Method::DELETE,
        "/v1/transactions",
        json!({"key": "t-anon"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["transaction"]["ignored"], true);

    // Delete customer.
    let r = send(
        &app,
        Method::DELETE,
        "/v1/customers",
        body(PARTNERO_DELETE_CUSTOMER),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["customer"]["deleted"], true);
    assert_eq!(
        app.get("/v1/customers/CUSTOMER_KEY").await.status,
        StatusCode::NOT_FOUND
    );
    let r = send(
        &app,
        Method::DELETE,
        "/v1/customers",
        json!({"key": "anon_1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["customer"]["ignored"], true);
}

#[tokio::test]
async fn programs_may_ignore_unattributed_signups_and_customers_can_be_updated() {
    let app = spawn_app().await;
    // By default an unattributed signup is stored.
    let r = app.post("/v1/customers", json!({"key": "plain_1"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .patch("/v1/program", json!({"ignoreUnattributed": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["program"]["ignoreUnattributed"], true);
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "plain_2", "referralCode": "NOBODY1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data(), &json!({"key": "plain_2", "ignored": true}));
    assert_eq!(
        app.get("/v1/customers/plain_2").await.status,
        StatusCode::NOT_FOUND
    );
    // Known customers are still found.
    let r = app.post("/v1/customers", json!({"key": "plain_1"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["customer"]["key"], "plain_1");

    // PATCH /v1/customers/{key}.
    let aff = app.affiliate("own@example.com", "Owen").await;
    let r = app
        .post(
            "/v1/customers",
            json!({"key": "c9", "email": "c9@example.com", "affiliateId": aff["id"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .patch(
            "/v1/customers/c9",
            json!({"name": "Cee Nine", "email": "new9@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["customer"]["name"], "Cee Nine");
    assert_eq!(r.data()["customer"]["email"], "new9@example.com");
    assert_eq!(r.data()["customer"]["affiliateId"], aff["id"]);
    let r = app.patch("/v1/customers/c9", json!({"name": null})).await;
    assert!(r.data()["customer"]["name"].is_null(), "{}", r.text);
    for (b, status, field) in [
        (
            json!({"email": "own@example.com"}),
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (json!({"email": "nope"}), StatusCode::BAD_REQUEST, "email"),
        (
            json!({"affiliateId": "aff_x"}),
            StatusCode::BAD_REQUEST,
            "affiliateId",
        ),
    ] {
        let r = app.patch("/v1/customers/c9", b.clone()).await;
        assert_eq!(r.status, status, "{b}: {}", r.text);
        assert_eq!(r.field(), field, "{b}: {}", r.text);
    }
    assert_eq!(
        app.patch("/v1/customers/none", json!({"name": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app.get("/v1/customers/c9").await;
    assert_eq!(r.data()["customer"]["email"], "new9@example.com");
}

/// The SDK speaks the native additions: `saleAmount`, customer updates, ignored signups and
/// the webhook payload format.
#[tokio::test]
async fn the_client_speaks_the_native_additions() {
    use refgrow_client::api::{
        CreateCommission, CreateCustomer, CreateWebhookEndpoint, PayloadFormat, UpdateCustomer,
        UpdateProgram, UpdateWebhookEndpoint,
    };
    use refgrow_client::{AffiliateId, Amount, Client, RetryPolicy};

    let app = spawn_app().await;
    let c = Client::builder()
        .base_url(&app.base)
        .api_key(&app.key)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let aff = app.affiliate("sdk@example.com", "Sid").await;
    let aff_id = AffiliateId::parse(aff["id"].as_str().unwrap()).unwrap();
    let comm = c
        .commissions()
        .create(CreateCommission {
            affiliate_id: aff_id.clone(),
            amount: None,
            sale_amount: Some("80.00".parse::<Amount>().unwrap()),
            product_id: None,
            order_id: Some("sdk-1".into()),
            description: None,
        })
        .await
        .unwrap();
    assert_eq!(comm.amount.to_string(), "16.00");

    let customer = c
        .customers()
        .create(CreateCustomer {
            key: "sdk-c".into(),
            email: None,
            name: None,
            click_id: None,
            referral_code: None,
            affiliate_id: Some(aff_id),
        })
        .await
        .unwrap();
    assert!(customer.attributed);
    let updated = c
        .customers()
        .update(
            "sdk-c",
            UpdateCustomer {
                email: None,
                name: Some(Some("Sdk Customer".into())),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("Sdk Customer"));

    c.program()
        .update(UpdateProgram {
            ignore_unattributed: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let ignored = c
        .customers()
        .create_unless_ignored(CreateCustomer {
            key: "sdk-anon".into(),
            email: None,
            name: None,
            click_id: None,
            referral_code: None,
            affiliate_id: None,
        })
        .await
        .unwrap();
    assert!(ignored.is_none());

    let ep = c
        .webhook_endpoints()
        .create(CreateWebhookEndpoint {
            url: "https://hooks.example.com/lj".into(),
            events: None,
            format: Some(PayloadFormat::Linkjolt),
            description: None,
        })
        .await
        .unwrap();
    assert_eq!(ep.format, PayloadFormat::Linkjolt);
    let ep = c
        .webhook_endpoints()
        .update(
            &ep.id,
            UpdateWebhookEndpoint {
                format: Some(PayloadFormat::Standard),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ep.format, PayloadFormat::Standard);
}
