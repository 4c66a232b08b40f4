//! Money integrity (issue 15): reversed money in the rollups, refunds and reversals under
//! concurrency, amounts that cannot be represented, ISO 4217 currencies through the Stripe
//! path, `conversionRate`, and the ledger check (`GET /v1/reports/reconcile`, `verify`).
//! Each test runs on SQLite and, with `REFGROW_TEST_DATABASE_URL`, on PostgreSQL.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, stripe_setup, TestApp};

const SECRET: &str = "whsec_refgrow_integrity";

fn s(v: &Value) -> String {
    v.as_str().unwrap().to_string()
}

/// Records a sale; returns (conversion id, commission id).
async fn sale(app: &TestApp, aff: &Value, amount: Value, order: &str) -> (String, String) {
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": aff["referralCode"], "amount": amount, "orderId": order}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    (s(&r.data()["conversionId"]), s(&r.data()["commissionId"]))
}

async fn refund(app: &TestApp, conv: &str, body: Value) -> crate::helpers::Resp {
    app.post(&format!("/v1/conversions/{conv}/refunds"), body)
        .await
}

/// The ledger check must find nothing.
pub async fn assert_reconciled(app: &TestApp) -> Value {
    let r = app.get("/v1/reports/reconcile").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["ok"], true, "{}", r.text);
    assert_eq!(r.data()["differences"], json!([]));
    r.data().clone()
}

fn usd(totals: &Value) -> Value {
    totals["money"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["currency"] == "USD")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn reversed_money_is_counted_when_a_refund_takes_a_commission_to_zero() {
    // The figures: reversals of 33.40 showed as 8.70 in the affiliate's stats, and
    // 63.40 reversed or rejected showed as 18.70 in the summary.
    let app = spawn_app().await;
    let a = app.affiliate("rev-a@x.io", "Rev A").await;
    let b = app.affiliate("rev-b@x.io", "Rev B").await;
    // A: 98.50 -> 19.70, refunded whole (lost before the fix).
    let (c1, _) = sale(&app, &a, json!("98.50"), "a1").await;
    assert!(refund(&app, &c1, json!({})).await.status.is_success());
    // A: 50.00 -> 10.00, half refunded (5.00 counted), then the rest (5.00 lost).
    let (c2, _) = sale(&app, &a, json!(50), "a2").await;
    assert!(refund(&app, &c2, json!({"amount": 25}))
        .await
        .status
        .is_success());
    assert!(refund(&app, &c2, json!({})).await.status.is_success());
    // A: 18.50 -> 3.70, reversed by hand (counted).
    let (_, m3) = sale(&app, &a, json!("18.50"), "a3").await;
    assert_eq!(
        app.delete(&format!("/v1/commissions/{m3}")).await.status,
        StatusCode::OK
    );
    // B: 50.00 -> 10.00 rejected (counted); 100.00 -> 20.00 refunded whole (lost).
    let (_, m4) = sale(&app, &b, json!(50), "b1").await;
    let r = app
        .put(
            &format!("/v1/commissions/{m4}/status"),
            json!({"status": "rejected", "reason": "fraud"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (c5, _) = sale(&app, &b, json!(100), "b2").await;
    assert!(refund(&app, &c5, json!({})).await.status.is_success());
    // One pending sale left, for `pending`.
    sale(&app, &a, json!(10), "a4").await;

    let st = app
        .get(&format!("/v1/affiliates/{}/stats", s(&a["id"])))
        .await;
    let m = usd(&st.data()["totals"]);
    assert_eq!(m["earnings"]["reversed"].to_string(), "33.40", "{m}");
    assert_eq!(m["earnings"]["pending"].to_string(), "2.00", "{m}");
    let sum = app.get("/v1/reports/summary").await;
    let m = usd(&sum.data()["totals"]);
    assert_eq!(m["earnings"]["reversed"].to_string(), "63.40", "{m}");
    assert_eq!(m["refunded"].to_string(), "248.50", "{m}");
    let aff = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
    assert_eq!(aff.data()["affiliate"]["totalEarnings"].to_string(), "2.00");
    assert_reconciled(&app).await;
}

#[tokio::test]
async fn concurrent_partial_refunds_and_stripe_refunds_apply_once_each() {
    let app = spawn_app().await;
    let a = app.affiliate("race-ref@x.io", "Race").await;
    let (conv, comm) = sale(&app, &a, json!(100), "r1").await;
    // Twelve partial refunds of 10.00 at once: exactly ten fit.
    let mut tasks = Vec::new();
    for i in 0..12 {
        tasks.push(app.spawn_post(
            &format!("/v1/conversions/{conv}/refunds"),
            json!({"amount": 10}),
            &[("idempotency-key", format!("refund-{i}"))],
        ));
    }
    let mut ok = 0;
    for t in tasks {
        let st = t.await.unwrap().status;
        assert!(
            st.is_success() || st == StatusCode::BAD_REQUEST || st == StatusCode::CONFLICT,
            "{st}"
        );
        ok += usize::from(st.is_success());
    }
    assert_eq!(ok, 10, "ten refunds of 10.00 fit a sale of 100.00");
    let c = app.get(&format!("/v1/commissions/{comm}")).await;
    assert_eq!(c.data()["commission"]["status"], "reversed");
    assert_eq!(c.data()["commission"]["amount"].to_string(), "0.00");
    assert_reconciled(&app).await;
}

#[tokio::test]
async fn two_charge_refunded_events_at_once_refund_the_sale_once() {
    let app = spawn_app().await;
    stripe_setup(&app, SECRET).await;
    let a = app.affiliate("two-ev@x.io", "Two").await;
    bind_customer(&app, &a, "cus_two").await;
    invoice(&app, "in_two", "cus_two", 4000, "usd", Some("ch_two")).await;
    // Two events (two ids) reporting the same cumulative refund of 1000, together.
    let mut tasks = Vec::new();
    for n in 0..2 {
        let ev = stripe_event(
            &format!("evt_ref_{n}"),
            "charge.refunded",
            json!({"object": "charge", "id": "ch_two", "customer": "cus_two", "amount": 4000,
                   "amount_refunded": 1000, "currency": "usd", "refunded": false}),
        );
        let http = app.http.clone();
        let base = app.base.clone();
        let program = app.program_id.clone();
        let now = app.state.clock.now_ms() / 1000;
        tasks.push(tokio::spawn(async move {
            let body = serde_json::to_string(&ev).unwrap();
            let sig = refgrow_server::services::stripe::sign(body.as_bytes(), SECRET, now);
            http.post(format!("{base}/v1/integrations/stripe/{program}/webhook"))
                .header("content-type", "application/json")
                .header("stripe-signature", sig)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let list = app.get("/v1/commissions").await;
    let cm = &list.data()["commissions"][0];
    // 20% of 40.00 = 8.00, a quarter refunded once: 6.00.
    assert_eq!(cm["amount"].to_string(), "6.00", "{cm}");
    assert_reconciled(&app).await;
}

#[tokio::test]
async fn a_reversal_racing_a_payout_run_never_leaves_a_reversed_commission_in_a_payout() {
    let app = spawn_app().await;
    let r = app
        .patch("/v1/program", json!({"holdDays": 0, "minPayout": 0}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = app.affiliate("race-po@x.io", "Race Po").await;
    let mut comms = Vec::new();
    for i in 0..12 {
        comms.push(sale(&app, &a, json!(10), &format!("po{i}")).await.1);
    }
    let mut tasks = Vec::new();
    for (i, cm) in comms.iter().enumerate() {
        let http = app.http.clone();
        let key = app.key.clone();
        let base = app.base.clone();
        let cm = cm.clone();
        tasks.push(tokio::spawn(async move {
            let res = if i % 4 == 0 {
                http.post(format!("{base}/v1/payouts"))
                    .bearer_auth(&key)
                    .json(&json!({}))
                    .send()
                    .await
            } else {
                http.delete(format!("{base}/v1/commissions/{cm}"))
                    .bearer_auth(&key)
                    .send()
                    .await
            };
            res.unwrap().status()
        }));
    }
    for t in tasks {
        let st = t.await.unwrap();
        assert!(st.is_success() || st == StatusCode::CONFLICT, "{st}");
    }
    let list = app.get("/v1/payouts").await;
    for p in list.data()["payouts"].as_array().unwrap() {
        let got = app.get(&format!("/v1/payouts/{}", s(&p["id"]))).await;
        for id in got.data()["commissionIds"].as_array().unwrap() {
            let c = app.get(&format!("/v1/commissions/{}", s(id))).await;
            assert_eq!(c.data()["commission"]["status"], "approved", "{}", c.text);
        }
    }
    assert_reconciled(&app).await;
}

#[tokio::test]
async fn the_largest_amounts_never_panic_or_wrap() {
    let app = spawn_app().await;
    let a = app.affiliate("huge@x.io", "Huge").await;
    // 10^13 dollars is the most accepted (10^15 cents); refunding part of it multiplied two
    // amounts near 10^15 in a Decimal, which overflowed and panicked.
    let (conv, comm) = sale(&app, &a, json!("10000000000000.00"), "huge-1").await;
    let r = refund(&app, &conv, json!({"amount": "3333333333333.33"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let c = app.get(&format!("/v1/commissions/{comm}")).await;
    assert_eq!(
        c.data()["commission"]["amount"].to_string(),
        "1333333333333.33"
    );
    let r = refund(&app, &conv, json!({"amount": "1e20"})).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "amount"));
    // The server still answers normally (no connection was left mid-transaction).
    assert_eq!(app.get("/v1/commissions").await.status, StatusCode::OK);
    assert_reconciled(&app).await;
}

#[tokio::test]
async fn currency_codes_must_be_iso_4217() {
    let app = spawn_app().await;
    let a = app.affiliate("iso@x.io", "Iso").await;
    for code in ["ABC", "XAU", "QQQ"] {
        let r = app
            .post(
                "/v1/referrals/convert",
                json!({"referralCode": a["referralCode"], "amount": 10, "currency": code}),
            )
            .await;
        assert_eq!(
            (r.status, r.code(), r.field()),
            (StatusCode::BAD_REQUEST, "invalid_request", "currency"),
            "{code}: {}",
            r.text
        );
    }
    assert_eq!(app.get("/v1/commissions").await.data()["total"], 0);
}

#[tokio::test]
async fn stripe_amounts_in_usd_jpy_kwd_isk_and_huf() {
    let app = spawn_app().await;
    stripe_setup(&app, SECRET).await;
    let a = app.affiliate("cur@x.io", "Cur").await;
    // (currency, Stripe's integer amount, the sale recorded, its 20% commission)
    let cases = [
        ("usd", 1999, "19.99", "4.00"),
        ("jpy", 1999, "1999", "400"),
        ("kwd", 12345, "12.345", "2.469"),
        // Stripe sends ISK in hundredths although ISO 4217 gives it no minor unit.
        ("isk", 150000, "1500", "300"),
        // HUF has two decimals in ISO 4217 and in Stripe's amounts.
        ("huf", 250000, "2500.00", "500.00"),
    ];
    for (i, (cur, raw, sale_amount, commission)) in cases.iter().enumerate() {
        let cus = format!("cus_cur_{i}");
        bind_customer(&app, &a, &cus).await;
        invoice(&app, &format!("in_cur_{i}"), &cus, *raw, cur, None).await;
        let list = app
            .get(&format!(
                "/v1/commissions?affiliateId={}&limit=1",
                s(&a["id"])
            ))
            .await;
        let cm = &list.data()["commissions"][0];
        assert_eq!(cm["currency"], cur.to_uppercase(), "{cm}");
        assert_eq!(cm["conversionAmount"].to_string(), *sale_amount, "{cur}");
        assert_eq!(cm["amount"].to_string(), *commission, "{cur}");
    }
    // An ISK amount that is not whole krónur is not applied (and acknowledged).
    bind_customer(&app, &a, "cus_isk_bad").await;
    let out = invoice(&app, "in_isk_bad", "cus_isk_bad", 150050, "isk", None).await;
    assert!(out.contains("not applied"), "{out}");
    assert_reconciled(&app).await;
}

#[tokio::test]
async fn conversion_rate_is_a_rate_even_with_sales_without_clicks() {
    let app = spawn_app().await;
    let a = app.affiliate("rate@x.io", "Rate").await;
    for i in 0..3 {
        sale(&app, &a, json!(10), &format!("rate-{i}")).await;
    }
    let r = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
    let aff = &r.data()["affiliate"];
    assert_eq!(aff["conversionCount"], 3);
    assert_eq!(aff["conversionRate"].to_string(), "0.0000", "no clicks");
    let r = app
        .post(
            "/v1/referrals/track",
            json!({"referralCode": a["referralCode"]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    app.state.clicks.flush(&app.state.db).await.unwrap();
    let r = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
    let aff = &r.data()["affiliate"];
    assert_eq!(aff["clickCount"], 1);
    assert_eq!(aff["conversionRate"].to_string(), "1.0000", "capped: {aff}");
}

#[tokio::test]
async fn reconcile_and_verify_report_a_tampered_rollup_with_its_rows() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let a = app.affiliate("tamper@x.io", "Tamper").await;
    let (_, comm) = sale(&app, &a, json!(100), "t1").await;
    assert_reconciled(&app).await;
    let config = refgrow_server::config::Config::for_database(&app.database_url);
    let verify = |program: Option<String>| {
        let config = config.clone();
        std::thread::spawn(move || {
            refgrow_server::cli::run_admin(
                &config,
                refgrow_server::cli::Command::Verify { program },
            )
        })
        .join()
        .unwrap()
    };
    assert_eq!(verify(None), 0);
    // The sale's rollup change may still wait in `stats_deltas`: fold it, so the row to
    // tamper with exists.
    refgrow_server::workers::jobs::fold_deltas(&app.state)
        .await
        .unwrap();
    {
        use refgrow_server::db::schema::daily_stats as ds;
        let mut c = app.state.db.write_conn().unwrap();
        diesel::update(ds::table.filter(ds::affiliate_id.eq(s(&a["id"]))))
            .set(ds::pending_minor.eq(ds::pending_minor + 1))
            .execute(&mut *c)
            .unwrap();
    }
    let r = app.get("/v1/reports/reconcile").await;
    assert_eq!(r.data()["ok"], false, "{}", r.text);
    let d = &r.data()["differences"][0];
    assert_eq!(d["check"], "rollup_affiliate", "{d}");
    assert_eq!(d["field"], "pending");
    assert_eq!(d["affiliateId"], a["id"]);
    assert_eq!(
        (d["expected"].to_string(), d["actual"].to_string()),
        ("20.00".into(), "20.01".into())
    );
    assert!(d["rows"].as_array().unwrap().contains(&json!(comm)), "{d}");
    // The program row is untouched and still right: one difference only.
    assert_eq!(r.data()["differenceCount"], 1, "{}", r.text);
    assert_eq!(verify(Some(app.program_id.clone())), 2);
}

fn stripe_event(id: &str, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "api_version": "2025-01-27.acacia",
           "created": 1_700_000_000, "livemode": false, "type": kind,
           "data": {"object": object}})
}

async fn send_stripe(app: &TestApp, ev: &Value) -> String {
    let r = crate::helpers::send_stripe_event(app, SECRET, ev).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    s(&r.data()["outcome"])
}

async fn bind_customer(app: &TestApp, aff: &Value, cus: &str) {
    let out = send_stripe(
        app,
        &stripe_event(
            &format!("evt_c_{cus}"),
            "customer.created",
            json!({"object": "customer", "id": cus, "email": format!("{cus}@y.io"),
                   "metadata": {"referral": aff["referralCode"]}}),
        ),
    )
    .await;
    assert!(out.contains("bound"), "{out}");
}

async fn invoice(
    app: &TestApp,
    id: &str,
    cus: &str,
    amount: i64,
    currency: &str,
    charge: Option<&str>,
) -> String {
    let mut obj = json!({"object": "invoice", "id": id, "customer": cus,
                         "amount_paid": amount, "currency": currency});
    if let Some(ch) = charge {
        obj["charge"] = json!(ch);
    }
    send_stripe(
        app,
        &stripe_event(&format!("evt_{id}"), "invoice.paid", obj),
    )
    .await
}

#[tokio::test]
async fn a_panic_inside_a_write_never_leaves_a_connection_mid_transaction() {
    use diesel::prelude::*;
    use refgrow_server::db::schema::programs;
    let app = spawn_app().await;
    let now = app.state.clock.now_ms();
    // More panicking writes than the pool has connections: if any connection went back
    // mid-transaction, a later write on it would never commit.
    for i in 0..16 {
        let r = app
            .state
            .db
            .write(move |c| {
                refgrow_server::services::program::create(c, &format!("panicked {i}"), "USD", now)?;
                if i < 100 {
                    panic!("a bug inside a write");
                }
                Ok(())
            })
            .await;
        assert!(r.is_err());
    }
    for i in 0..16 {
        app.state
            .db
            .write(move |c| {
                refgrow_server::services::program::create(c, &format!("kept {i}"), "USD", now)
                    .map(|_| ())
            })
            .await
            .unwrap();
    }
    // Read from a connection of its own: only the committed writes are there.
    let names: Vec<String> = {
        let url = app.database_url.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = match refgrow_server::db::parse_database_url(&url)
                .unwrap()
                .backend
            {
                refgrow_server::db::Backend::Postgres => {
                    refgrow_server::db::DbConn::Pg(diesel::PgConnection::establish(&url).unwrap())
                }
                refgrow_server::db::Backend::Sqlite => {
                    let path = refgrow_server::db::parse_database_url(&url)
                        .unwrap()
                        .conninfo;
                    refgrow_server::db::DbConn::Sqlite(
                        diesel::SqliteConnection::establish(&path).unwrap(),
                    )
                }
            };
            programs::table.select(programs::name).load(&mut c).unwrap()
        })
        .await
        .unwrap()
    };
    assert_eq!(names.iter().filter(|n| n.starts_with("kept ")).count(), 16);
    assert_eq!(
        names.iter().filter(|n| n.starts_with("panicked ")).count(),
        0
    );
    assert_eq!(app.get("/v1/commissions").await.status, StatusCode::OK);
}
