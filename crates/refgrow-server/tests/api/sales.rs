//! Sales under concurrency: counts, tiers and replays stay exact when many connections (and,
//! on PostgreSQL, two server instances on one database) sell for one affiliate at once,
//! while the background fold moves the sales' deltas into the rollups.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_on, TestApp};

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// Sends `bodies` to `path` of the apps (round-robin), `parallel` at a time; returns each
/// answer's status and body, in the order of `bodies`.
async fn send_all(
    apps: &[&TestApp],
    path: &str,
    bodies: Vec<Value>,
    parallel: usize,
) -> Vec<(StatusCode, Value)> {
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let app = apps[i % apps.len()];
        let http = app.http.clone();
        let url = format!("{}{}", app.base, path);
        let key = app.key.clone();
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.unwrap();
            let res = http
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let v: Value = res.json().await.unwrap_or(Value::Null);
            (status, v)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Folds every waiting delta now (as the background job does) and checks none is left
/// (the background fold may hold some a moment: those it skips, so try again).
async fn fold_all(app: &TestApp) {
    for _ in 0..50 {
        refgrow_server::workers::jobs::fold_deltas(&app.state)
            .await
            .unwrap();
        let left = app
            .state
            .db
            .read(|c| Ok(refgrow_server::db::stats_deltas::pending(c)?))
            .await
            .unwrap();
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("deltas are still waiting after 50 folds");
}

/// The affiliate's counter, its stats totals and the program's totals, as one tuple.
async fn figures(app: &TestApp, aff_id: &str) -> (i64, i64, String, String, i64, String) {
    let a = app.get(&format!("/v1/affiliates/{aff_id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let a = &a.data()["affiliate"];
    let st = app.get(&format!("/v1/affiliates/{aff_id}/stats")).await;
    assert_eq!(st.status, StatusCode::OK, "{}", st.text);
    let t = &st.data()["totals"];
    let usd = t["money"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["currency"] == "USD")
        .unwrap()
        .clone();
    let sum = app.get("/v1/reports/summary").await;
    assert_eq!(sum.status, StatusCode::OK, "{}", sum.text);
    let pt = &sum.data()["totals"];
    let pusd = pt["money"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["currency"] == "USD")
        .unwrap()
        .clone();
    (
        a["conversionCount"].as_i64().unwrap(),
        t["conversions"].as_i64().unwrap(),
        usd["revenue"].to_string(),
        usd["earnings"]["pending"].to_string(),
        pt["conversions"].as_i64().unwrap(),
        pusd["revenue"].to_string(),
    )
}

fn is_postgres() -> bool {
    std::env::var("REFGROW_TEST_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty())
}

#[tokio::test]
async fn concurrent_sales_on_one_affiliate_count_exactly() {
    let app = spawn_app().await;
    let a = app.affiliate("hot@x.io", "Hot").await;
    let b = app.affiliate("cold@x.io", "Cold").await;
    let n = 240;
    let bodies: Vec<Value> = (0..n)
        .map(|i| json!({"referralCode": a["referralCode"], "amount": "12.34", "orderId": format!("hot-{i}")}))
        .collect();
    // Folds run meanwhile, as in production (every second), and once more by hand mid-way.
    let apps = [&app];
    let sending = send_all(&apps, "/v1/referrals/convert", bodies, 48);
    let (answers, _) = tokio::join!(sending, async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        refgrow_server::workers::jobs::fold_deltas(&app.state)
            .await
            .unwrap()
    });
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    let one = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": b["referralCode"], "amount": "1.00", "orderId": "cold-1"}),
        )
        .await;
    assert_eq!(one.status, StatusCode::CREATED, "{}", one.text);
    // 240 x 12.34 = 2961.60 of sales, 20% = 2.47 (rounded) each = 592.80 of commissions.
    let expect = (
        240,
        240,
        "2961.60".to_string(),
        "592.80".to_string(),
        241,
        "2962.60".to_string(),
    );
    assert_eq!(figures(&app, s(&a["id"])).await, expect);
    fold_all(&app).await;
    assert_eq!(figures(&app, s(&a["id"])).await, expect, "after the fold");
    let list = app
        .get(&format!(
            "/v1/conversions?affiliateId={}&limit=1",
            s(&a["id"])
        ))
        .await;
    assert_eq!(list.data()["total"], 240);
}

/// Sales of several affiliates in one batch (on PostgreSQL the sale writer reads their
/// rows together): each sale is priced by its own affiliate's row, and a suspended
/// affiliate's sales earn nothing while the others' earn.
#[tokio::test]
async fn concurrent_sales_of_several_affiliates_are_priced_each_by_its_own() {
    let app = spawn_app().await;
    let ok1 = app.affiliate("one@x.io", "One").await;
    let ok2 = app.affiliate("two@x.io", "Two").await;
    let off = app.affiliate("off@x.io", "Off").await;
    let r = app
        .patch(
            &format!("/v1/affiliates/{}", s(&off["id"])),
            json!({"status": "suspended", "suspendedReason": "fraud review"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let affiliates = [&ok1, &ok2, &off];
    let bodies: Vec<Value> = (0..90)
        .map(|i| {
            let a = affiliates[i % 3];
            json!({"referralCode": a["referralCode"], "amount": "10.00", "orderId": format!("mix-{i}")})
        })
        .collect();
    let answers = send_all(&[&app], "/v1/referrals/convert", bodies, 30).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        let (a, sale) = (affiliates[i % 3], &body["data"]);
        assert_eq!(sale["affiliateId"], a["id"], "{body}");
        if i % 3 == 2 {
            assert_eq!(sale["commission"].to_string(), "0.00", "{body}");
            assert_eq!(sale["noCommissionReason"], "affiliate_suspended", "{body}");
        } else {
            assert_eq!(sale["commission"].to_string(), "2.00", "{body}");
            assert!(sale["noCommissionReason"].is_null(), "{body}");
        }
    }
    for (a, earning) in [(&ok1, 30), (&ok2, 30), (&off, 0)] {
        let got = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
        assert_eq!(
            got.data()["affiliate"]["conversionCount"],
            earning,
            "{}",
            got.text
        );
    }
}

#[tokio::test]
async fn tier_boundaries_are_exact_under_concurrency() {
    let app = spawn_app().await;
    let r = app
        .patch(
            "/v1/program",
            json!({"holdDays": 0, "commission": {"type": "percentage", "rate": 10,
                "tiers": [{"minConversions": 10, "rate": 25}, {"minConversions": 30, "rate": 30}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = app.affiliate("tier@x.io", "Tier").await;
    // Six sales first, folded, so counts come from both the counter and the deltas.
    let first: Vec<Value> = (0..6)
        .map(|i| json!({"referralCode": a["referralCode"], "amount": 100, "orderId": format!("t-{i}")}))
        .collect();
    for (status, body) in send_all(&[&app], "/v1/referrals/convert", first, 1).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    fold_all(&app).await;
    let rest: Vec<Value> = (6..50)
        .map(|i| json!({"referralCode": a["referralCode"], "amount": 100, "orderId": format!("t-{i}")}))
        .collect();
    let apps = [&app];
    let sending = send_all(&apps, "/v1/referrals/convert", rest, 24);
    let (answers, _) = tokio::join!(sending, async {
        for _ in 0..5 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            refgrow_server::workers::jobs::fold_deltas(&app.state)
                .await
                .unwrap();
        }
    });
    let mut by_commission: BTreeMap<String, usize> = BTreeMap::new();
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        *by_commission
            .entry(body["data"]["commission"].to_string())
            .or_default() += 1;
    }
    // Sales 1..=10 earn 10%, 11..=30 25%, 31..=50 30%: of the 44 concurrent ones (7..=50),
    // 4 at 10.00, 20 at 25.00 and 20 at 30.00.
    let expect: BTreeMap<String, usize> = [("10.00", 4), ("25.00", 20), ("30.00", 20)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(by_commission, expect);
    let aff = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
    let aff = &aff.data()["affiliate"];
    assert_eq!(aff["conversionCount"], 50);
    assert_eq!(aff["approvedEarnings"].to_string(), "1200.00");
    fold_all(&app).await;
    let aff = app.get(&format!("/v1/affiliates/{}", s(&a["id"]))).await;
    assert_eq!(aff.data()["affiliate"]["conversionCount"], 50);
}

#[tokio::test]
async fn concurrent_replays_are_idempotent() {
    let app = spawn_app().await;
    // An endpoint, so each sale also queues deliveries (nothing listens: they wait).
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "http://127.0.0.1:9/hook", "events": ["conversion.created"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = app.affiliate("rep@x.io", "Rep").await;
    // 12 orders, each sent 8 times at once (interleaved).
    let bodies: Vec<Value> = (0..96)
        .map(|i| json!({"referralCode": a["referralCode"], "amount": "20.00", "orderId": format!("r-{}", i % 12)}))
        .collect();
    let answers = send_all(&[&app], "/v1/referrals/convert", bodies, 32).await;
    let mut created = 0;
    let mut ids: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::OK,
            "{status} {body}"
        );
        created += usize::from(*status == StatusCode::CREATED);
        ids.entry(body["data"]["orderId"].to_string())
            .or_default()
            .insert(body["data"]["conversionId"].to_string());
    }
    assert_eq!(created, 12);
    assert_eq!(ids.len(), 12);
    assert!(ids.values().all(|v| v.len() == 1), "{ids:?}");
    let expect = (
        12,
        12,
        "240.00".to_string(),
        "48.00".to_string(),
        12,
        "240.00".to_string(),
    );
    assert_eq!(figures(&app, s(&a["id"])).await, expect);
    fold_all(&app).await;
    assert_eq!(figures(&app, s(&a["id"])).await, expect);
    // Each sale announced once, and delivered once: replays wrote nothing.
    for (t, n) in [("conversion.created", 12), ("commission.created", 12)] {
        let ev = app.get(&format!("/v1/events?type={t}&limit=1")).await;
        assert_eq!(ev.data()["total"], n, "{t}: {}", ev.text);
    }
    let deliveries = app
        .state
        .db
        .read(|c| {
            use diesel::prelude::*;
            use refgrow_server::db::schema::webhook_deliveries as d;
            Ok(d::table.count().get_result::<i64>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(deliveries, 12);
}

#[tokio::test]
async fn two_servers_on_one_database_count_exactly() {
    if !is_postgres() {
        // Two server processes share a database on PostgreSQL only (SQLite has one writer
        // process); the same sales from many connections are covered above.
        return;
    }
    let one = spawn_app().await;
    let two = spawn_on(
        one.database_url.clone(),
        None,
        refgrow_server::clock::Clock::system(),
    )
    .await;
    assert_eq!(one.program_id, two.program_id);
    let r = one
        .patch(
            "/v1/program",
            json!({"holdDays": 0, "commission": {"type": "percentage", "rate": 10,
                "tiers": [{"minConversions": 20, "rate": 20}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let hot = one.affiliate("two@x.io", "Two").await;
    let other = one.affiliate("spread@x.io", "Spread").await;
    let mut bodies = Vec::new();
    for i in 0..120 {
        let aff = if i % 3 == 2 { &other } else { &hot };
        bodies.push(json!({"referralCode": aff["referralCode"], "amount": 50, "orderId": format!("two-{i}")}));
    }
    // Every order twice, on the other server the second time: replays across replicas.
    let mut twice = bodies.clone();
    twice.extend(bodies);
    let answers = send_all(&[&one, &two], "/v1/referrals/convert", twice, 40).await;
    let mut created = 0;
    let mut total = BTreeMap::<String, usize>::new();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED || *status == StatusCode::OK,
            "{status} {body}"
        );
        if *status == StatusCode::CREATED {
            created += 1;
            *total
                .entry(format!(
                    "{}:{}",
                    body["data"]["affiliateId"], body["data"]["commission"]
                ))
                .or_default() += 1;
        }
    }
    assert_eq!(created, 120);
    // 80 sales of the hot affiliate: 20 at 10% (5.00), 60 at 20% (10.00); 40 of the other.
    assert_eq!(total[&format!("{}:5.00", hot["id"])], 20);
    assert_eq!(total[&format!("{}:10.00", hot["id"])], 60);
    assert_eq!(total[&format!("{}:5.00", other["id"])], 20);
    assert_eq!(total[&format!("{}:10.00", other["id"])], 20);
    for app in [&one, &two] {
        let f = figures(app, s(&hot["id"])).await;
        assert_eq!(
            f,
            (
                80,
                80,
                "4000.00".to_string(),
                "0.00".to_string(),
                120,
                "6000.00".to_string()
            )
        );
    }
    // Both servers fold at once: each delta lands once.
    let (x, y) = tokio::join!(
        refgrow_server::workers::jobs::fold_deltas(&one.state),
        refgrow_server::workers::jobs::fold_deltas(&two.state)
    );
    x.unwrap();
    y.unwrap();
    fold_all(&one).await;
    let f = figures(&two, s(&hot["id"])).await;
    assert_eq!((f.0, f.1, f.4), (80, 80, 120));
    two.stop().await;
    one.stop().await;
}
