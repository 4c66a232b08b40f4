//! Payouts: thresholds per currency, netting clawbacks, idempotent and concurrent runs,
//! marking paid, locked commissions, and the PayPal/Wise files.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use diesel::prelude::*;
use refgrow_client::api::{CreatePayoutRun, PayoutExportFormat, PayoutStatus};
use refgrow_client::{Client, ListPayouts};
use refgrow_server::db::schema::events;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{commission, sale};
use crate::helpers::{spawn_app, TestApp};

/// Commissions approved at once, and a threshold.
async fn program(app: &TestApp, min_payout: &str) {
    let r = app
        .patch(
            "/v1/program",
            json!({"holdDays": 0, "minPayout": min_payout}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn run(app: &TestApp) -> (StatusCode, Vec<Value>) {
    let r = app.post("/v1/payouts", json!({})).await;
    assert!(r.status.is_success(), "{}", r.text);
    (r.status, r.data()["payouts"].as_array().unwrap().clone())
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// A GET whose answer is text (a CSV file), asserting 200.
async fn get_text(app: &TestApp, path: &str) -> String {
    let res = app.get_raw(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

fn count_events(app: &TestApp, kind: &str) -> i64 {
    let mut c = app.state.db.write_conn().unwrap();
    events::table
        .filter(events::event_type.eq(kind))
        .count()
        .get_result(&mut *c)
        .unwrap()
}

#[tokio::test]
async fn runs_respect_the_threshold_per_currency_and_take_nothing_twice() {
    let app = spawn_app().await;
    program(&app, "50.00").await;
    let a = app.affiliate("ann@x.io", "Ann").await;
    let b = app.affiliate("bob@x.io", "Bob").await;
    let c1 = sale(&app, &a, "100.00", "USD", "a1").await; // 20.00
    let c2 = sale(&app, &a, "150.00", "USD", "a2").await; // 30.00 -> 50.00 reaches 50.00
    sale(&app, &b, "100.00", "USD", "b1").await; // 20.00 < 50.00
    sale(&app, &a, "200.00", "EUR", "a3").await; // 40.00 EUR < 50.00 EUR
    sale(&app, &a, "300", "JPY", "a4").await; // 60 JPY >= 50 JPY (same number, documented)

    let r = app
        .req_with(
            reqwest::Method::POST,
            "/v1/payouts",
            None,
            &app.key,
            &[("Idempotency-Key", "run-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let payouts = r.data()["payouts"].as_array().unwrap().clone();
    assert_eq!(payouts.len(), 2, "{}", r.text);
    let usd = payouts.iter().find(|p| p["currency"] == "USD").unwrap();
    let jpy = payouts.iter().find(|p| p["currency"] == "JPY").unwrap();
    assert_eq!(usd["affiliateId"], a["id"]);
    assert_eq!(usd["amount"].to_string(), "50.00");
    assert_eq!(usd["commissionCount"], 2);
    assert_eq!(usd["status"], "pending");
    assert!(s(&usd["id"]).starts_with("po_"));
    assert_eq!(jpy["amount"].to_string(), "60");
    assert_eq!(count_events(&app, "payout.created"), 2);

    // The same Idempotency-Key replays the answer; a plain second run creates nothing.
    let again = app
        .req_with(
            reqwest::Method::POST,
            "/v1/payouts",
            None,
            &app.key,
            &[("Idempotency-Key", "run-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.data()["payouts"], r.data()["payouts"]);
    let (status, none) = run(&app).await;
    assert_eq!((status, none.len()), (StatusCode::OK, 0));
    assert_eq!(count_events(&app, "payout.created"), 2);

    // The commissions point at their payout; the payout lists them.
    for conv in [&c1, &c2] {
        let c = commission(&app, s(&conv["commissionId"])).await;
        assert_eq!(c["payoutId"], usd["id"]);
    }
    let got = app.get(&format!("/v1/payouts/{}", s(&usd["id"]))).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    let ids: HashSet<&str> = got.data()["commissionIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert_eq!(
        ids,
        HashSet::from([s(&c1["commissionId"]), s(&c2["commissionId"])])
    );

    // Lists and their filters.
    let list = app.get("/v1/payouts").await;
    assert_eq!(list.data()["total"], 2);
    let list = app
        .get(&format!("/v1/payouts?affiliateId={}", s(&b["id"])))
        .await;
    assert_eq!(list.data()["total"], 0);
    let list = app.get("/v1/payouts?status=paid").await;
    assert_eq!(list.data()["total"], 0);
    let bad = app.get("/v1/payouts?status=sent").await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "status")
    );
    let bad = app.get("/v1/payouts?limit=0").await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "limit")
    );
    let bad = app.get("/v1/payouts/comm_x").await;
    assert_eq!((bad.status, bad.field()), (StatusCode::BAD_REQUEST, "id"));
    let missing = app.get("/v1/payouts/po_nosuchpayout").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Another program sees none of it.
    let other = app.other_program_key("Other");
    let r = app
        .req_with(
            reqwest::Method::GET,
            &format!("/v1/payouts/{}", s(&usd["id"])),
            None,
            &other,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Lowering the threshold lets B's and the EUR commissions go in the next run.
    program(&app, "20.00").await;
    let (status, next) = run(&app).await;
    assert_eq!((status, next.len()), (StatusCode::CREATED, 2));
    let bad = app.post("/v1/payouts", json!({"affiliate": "x"})).await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "affiliate")
    );
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn marking_paid_pays_the_commissions_once() {
    let app = spawn_app().await;
    program(&app, "10.00").await;
    let a = app.affiliate("cat@x.io", "Cat").await;
    let c1 = sale(&app, &a, "100.00", "USD", "o1").await;
    let c2 = sale(&app, &a, "50.00", "USD", "o2").await;
    let (_, payouts) = run(&app).await;
    let po = s(&payouts[0]["id"]).to_string();
    assert_eq!(payouts[0]["amount"].to_string(), "30.00");

    let r = app
        .post(
            &format!("/v1/payouts/{po}/paid"),
            json!({"reference": "PAYPAL-BATCH-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = &r.data()["payout"];
    assert_eq!(p["status"], "paid");
    assert_eq!(p["reference"], "PAYPAL-BATCH-1");
    assert!(p["paidAt"].is_string());
    assert_eq!(r.data()["commissionIds"].as_array().unwrap().len(), 2);
    for conv in [&c1, &c2] {
        let c = commission(&app, s(&conv["commissionId"])).await;
        assert_eq!(c["status"], "paid");
        assert!(c["paidAt"].is_string());
    }
    let aff = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
    let aff = &aff.data()["affiliate"];
    assert_eq!(aff["paidEarnings"].to_string(), "30.00");
    assert_eq!(aff["approvedEarnings"].to_string(), "0.00");
    // The rollups moved with them.
    let st = app
        .get(&format!("/v1/affiliates/{}/stats", s(&a["id"])))
        .await;
    let e = &st.data()["totals"]["money"][0]["earnings"];
    assert_eq!(e["paid"].to_string(), "30.00");
    assert_eq!(e["approved"].to_string(), "0.00");
    assert_eq!(count_events(&app, "payout.paid"), 1);

    // Twice is a conflict; with no body it works the same way.
    let twice = app.post(&format!("/v1/payouts/{po}/paid"), json!({})).await;
    assert_eq!(
        (twice.status, twice.code()),
        (StatusCode::CONFLICT, "conflict")
    );
    let listed = app.get("/v1/payouts?status=paid").await;
    assert_eq!(listed.data()["total"], 1);
    let missing = app
        .post("/v1/payouts/po_nosuchpayout/paid", json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = app
        .post(&format!("/v1/payouts/{po}/paid"), json!({"reference": ""}))
        .await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "reference")
    );
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn commissions_in_a_payout_cannot_be_moved() {
    let app = spawn_app().await;
    program(&app, "1.00").await;
    let a = app.affiliate("dan@x.io", "Dan").await;
    let conv = sale(&app, &a, "100.00", "USD", "o1").await;
    let comm = s(&conv["commissionId"]).to_string();
    let (_, payouts) = run(&app).await;
    assert_eq!(payouts.len(), 1);
    for status in ["rejected", "paid"] {
        let r = app
            .put(
                &format!("/v1/commissions/{comm}/status"),
                json!({"status": status}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{status}: {}", r.text);
    }
    let r = app.delete(&format!("/v1/commissions/{comm}")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let c = commission(&app, &comm).await;
    assert_eq!(
        (c["status"].as_str(), c["amount"].to_string()),
        (Some("approved"), "20.00".into())
    );

    // Refunds of a held commission claw back, once per refund, instead of shrinking it.
    let conv_id = s(&conv["conversionId"]).to_string();
    for amount in ["50.00", "25.00"] {
        let r = app
            .post(
                &format!("/v1/conversions/{conv_id}/refunds"),
                json!({"amount": amount}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let list = app
        .get(&format!("/v1/commissions?affiliateId={}", s(&a["id"])))
        .await;
    let adjustments: Vec<String> = list.data()["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "adjustment")
        .map(|c| c["amount"].to_string())
        .collect();
    let mut adjustments = adjustments;
    adjustments.sort();
    assert_eq!(adjustments, vec!["-10.00", "-5.00"]);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn a_clawback_after_payment_is_netted_from_the_next_payout() {
    let app = spawn_app().await;
    program(&app, "10.00").await;
    let a = app.affiliate("eve@x.io", "Eve").await;
    let conv = sale(&app, &a, "100.00", "USD", "o1").await; // 20.00
    let (_, first) = run(&app).await;
    let po = s(&first[0]["id"]).to_string();
    let r = app.post(&format!("/v1/payouts/{po}/paid"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A full refund of a paid sale leaves a -20.00 adjustment for the next payout.
    let r = app
        .post(
            &format!("/v1/conversions/{}/refunds", s(&conv["conversionId"])),
            json!({}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let adj = r.data()["adjustments"][0].clone();
    assert_eq!(adj["amount"].to_string(), "-20.00");

    // 10.00 new - 20.00 owed back: negative, nothing to pay.
    sale(&app, &a, "50.00", "USD", "o2").await;
    let (_, none) = run(&app).await;
    assert!(none.is_empty());
    // 30.00 more: 40.00 - 20.00 = 20.00, reaching 10.00.
    sale(&app, &a, "150.00", "USD", "o3").await;
    let (_, next) = run(&app).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0]["amount"].to_string(), "20.00");
    assert_eq!(next[0]["commissionCount"], 3);
    let adj = commission(&app, s(&adj["id"])).await;
    assert_eq!(adj["payoutId"], next[0]["id"]);
    let r = app
        .post(
            &format!("/v1/payouts/{}/paid", s(&next[0]["id"])),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let adj = commission(&app, s(&adj["id"])).await;
    assert_eq!(adj["status"], "paid");
    let st = app
        .get(&format!("/v1/affiliates/{}/stats", s(&a["id"])))
        .await;
    let e = &st.data()["totals"]["money"][0]["earnings"];
    // Paid out: 20.00 first, then 40.00 - 20.00.
    assert_eq!(e["paid"].to_string(), "40.00");
    assert_eq!(e["approved"].to_string(), "0.00");
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn concurrent_runs_take_each_commission_once() {
    let app = spawn_app().await;
    program(&app, "1.00").await;
    let mut comms = Vec::new();
    for i in 0..5 {
        let a = app.affiliate(&format!("p{i}@x.io"), &format!("P{i}")).await;
        for j in 0..3 {
            let conv = sale(&app, &a, "10.00", "USD", &format!("o{i}-{j}")).await;
            comms.push(s(&conv["commissionId"]).to_string());
        }
    }
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let http = app.http.clone();
        let url = format!("{}/v1/payouts", app.base);
        let key = app.key.clone();
        tasks.push(tokio::spawn(async move {
            let res = http.post(url).bearer_auth(key).send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            assert!(status.is_success(), "{body}");
            body["data"]["payouts"].as_array().unwrap().clone()
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.extend(t.await.unwrap());
    }
    assert_eq!(created.len(), 5, "{created:?}");
    let affiliates: HashSet<&str> = created.iter().map(|p| s(&p["affiliateId"])).collect();
    assert_eq!(affiliates.len(), 5);
    let amounts: HashSet<String> = created.iter().map(|p| p["amount"].to_string()).collect();
    assert_eq!(amounts, HashSet::from(["6.00".to_string()]));
    let list = app.get("/v1/payouts?limit=100").await;
    assert_eq!(list.data()["total"], 5);
    let payout_ids: HashSet<&str> = created.iter().map(|p| s(&p["id"])).collect();
    let mut held = 0;
    for id in &payout_ids {
        let p = app.get(&format!("/v1/payouts/{id}")).await;
        held += p.data()["commissionIds"].as_array().unwrap().len();
    }
    assert_eq!(held, comms.len());
    for c in &comms {
        let c = commission(&app, c).await;
        assert!(payout_ids.contains(s(&c["payoutId"])));
    }
    crate::integrity::assert_reconciled(&app).await;
}

/// Parses CSV text with Python's `csv` module, the way a spreadsheet or a bank's importer
/// would, and returns its rows.
fn python_csv(text: &str) -> Vec<Vec<String>> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys\n\
             rows = list(csv.reader(sys.stdin))\n\
             print(json.dumps(rows))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn exports_are_paypal_and_wise_files_that_parse() {
    let app = spawn_app().await;
    program(&app, "1.00").await;
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "own@x.io", "name": "Doe, \"JJ\" Jr", "paymentMethod": "paypal",
                   "paymentDetails": "jj.paypal@x.io"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let jj = r.data()["affiliate"].clone();
    let r = app
        .post(
            "/v1/affiliates",
            json!({"email": "kim@x.io", "name": "=cmd|' /C calc'!A0", "paymentMethod": "bank",
                   "paymentDetails": "DE89 3704 0044 0532 0130 00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let kim = r.data()["affiliate"].clone();
    sale(&app, &jj, "123.45", "USD", "o1").await; // 24.69
    sale(&app, &kim, "1000", "JPY", "o2").await; // 200 JPY
    let (_, payouts) = run(&app).await;
    assert_eq!(payouts.len(), 2);
    let jj_po = payouts
        .iter()
        .find(|p| p["affiliateId"] == jj["id"])
        .unwrap();
    let kim_po = payouts
        .iter()
        .find(|p| p["affiliateId"] == kim["id"])
        .unwrap();

    let res = app.get_raw("/v1/payouts/export.csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/csv"), "{ct}");
    let rows = python_csv(&res.text().await.unwrap());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.len() == 5), "{rows:?}");
    let jj_row = rows.iter().find(|r| r[3] == s(&jj_po["id"])).unwrap();
    assert_eq!(&jj_row[..3], ["jj.paypal@x.io", "24.69", "USD"]);
    let kim_row = rows.iter().find(|r| r[3] == s(&kim_po["id"])).unwrap();
    assert_eq!(&kim_row[..3], ["kim@x.io", "200", "JPY"]);

    let wise = get_text(
        &app,
        &format!("/v1/payouts/{}/export.csv?format=wise", s(&jj_po["id"])),
    )
    .await;
    let rows = python_csv(&wise);
    assert_eq!(
        rows[0],
        [
            "name",
            "recipientEmail",
            "paymentReference",
            "receiverType",
            "amountCurrency",
            "amount",
            "sourceCurrency",
            "targetCurrency"
        ]
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1],
        [
            "Doe, \"JJ\" Jr",
            "jj.paypal@x.io",
            s(&jj_po["id"]),
            "PERSON",
            "target",
            "24.69",
            "USD",
            "USD"
        ]
    );
    let wise_all = get_text(&app, "/v1/payouts/export.csv?format=wise").await;
    let rows = python_csv(&wise_all);
    assert_eq!(rows.len(), 3);
    let kim_row = rows.iter().find(|r| r[2] == s(&kim_po["id"])).unwrap();
    assert_eq!(
        kim_row[0], "'=cmd|' /C calc'!A0",
        "a formula is neutralized"
    );

    // Paid ones leave the default (pending) export and show under status=paid.
    let r = app
        .post(&format!("/v1/payouts/{}/paid", s(&jj_po["id"])), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        python_csv(&get_text(&app, "/v1/payouts/export.csv").await).len(),
        1
    );
    let paid = python_csv(&get_text(&app, "/v1/payouts/export.csv?status=paid").await);
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0][3], s(&jj_po["id"]));

    let bad = app.get("/v1/payouts/export.csv?format=xls").await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "format")
    );
    let bad = app.get("/v1/payouts/po_nosuch/export.csv").await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn the_client_runs_lists_pays_and_exports() {
    use futures_util::StreamExt;
    let app = spawn_app().await;
    program(&app, "5.00").await;
    let a = app.affiliate("sdk@x.io", "Sdk").await;
    sale(&app, &a, "100.00", "USD", "o1").await;
    let client = Client::new(&app.base, &app.key).unwrap();
    let created = client
        .payouts()
        .create_run(CreatePayoutRun::default())
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].amount.to_string(), "20.00");
    assert!(client
        .payouts()
        .create_run(CreatePayoutRun::default())
        .await
        .unwrap()
        .is_empty());
    let id = created[0].id.clone();
    let page = client
        .payouts()
        .list(ListPayouts {
            status: Some(PayoutStatus::Pending),
            ..ListPayouts::default()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    let all: Vec<_> = client
        .payouts()
        .list_all(ListPayouts::default())
        .collect()
        .await;
    assert_eq!(all.len(), 1);
    let got = client.payouts().get(&id).await.unwrap();
    assert_eq!(got.commission_ids.len(), 1);
    let csv = client
        .payouts()
        .export_csv(Some(&id), None, PayoutExportFormat::Paypal)
        .await
        .unwrap();
    assert!(csv.starts_with("sdk@x.io,20.00,USD,po_"), "{csv}");
    let paid = client.payouts().mark_paid(&id, Some("B-1")).await.unwrap();
    assert_eq!(paid.payout.status, PayoutStatus::Paid);
    let e = client.payouts().mark_paid(&id, None).await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    let e = client
        .payouts()
        .export_csv(None, None, PayoutExportFormat::Wise)
        .await
        .unwrap();
    assert_eq!(e.lines().count(), 1, "only the header: {e}");
    crate::integrity::assert_reconciled(&app).await;
}
