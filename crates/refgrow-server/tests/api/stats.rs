//! Statistics from the rollups: one affiliate's and the program's summary.

use chrono::{Datelike, Duration, NaiveDate};
use refgrow_client::api::StatsInterval;
use refgrow_client::{Client, StatsRange};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::sale;
use crate::helpers::{spawn_app, TestApp};

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

async fn click(app: &TestApp, aff: &Value, n: usize) {
    for _ in 0..n {
        let r = app
            .post(
                "/v1/referrals/track",
                json!({"referralCode": aff["referralCode"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    app.state.clicks.flush(&app.state.db).await.unwrap();
}

async fn signup(app: &TestApp, aff: &Value, key: &str) {
    let r = app
        .post(
            "/v1/customers",
            json!({"key": key, "referralCode": aff["referralCode"]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

fn money<'a>(figures: &'a Value, currency: &str) -> &'a Value {
    figures["money"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["currency"] == currency)
        .unwrap_or_else(|| panic!("no {currency} in {figures}"))
}

fn today(app: &TestApp) -> NaiveDate {
    app.state.clock.now().date_naive()
}

#[tokio::test]
async fn affiliate_stats_count_what_happened() {
    let app = spawn_app().await;
    let a = app.affiliate("ann@x.io", "Ann").await;
    let b = app.affiliate("bob@x.io", "Bob").await;
    click(&app, &a, 3).await;
    click(&app, &b, 1).await;
    signup(&app, &a, "u1").await;
    signup(&app, &a, "u2").await;
    let c1 = sale(&app, &a, "100.00", "USD", "o1").await; // 20.00
    sale(&app, &a, "50.00", "USD", "o2").await; // 10.00
    let c3 = sale(&app, &a, "50.00", "EUR", "o3").await; // 10.00 EUR
    let r = app
        .put(
            &format!("/v1/commissions/{}/status", s(&c1["commissionId"])),
            json!({"status": "approved"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .put(
            &format!("/v1/commissions/{}/status", s(&c3["commissionId"])),
            json!({"status": "rejected"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/v1/conversions/{}/refunds", s(&c1["conversionId"])),
            json!({"amount": "10.00"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);

    let r = app
        .get(&format!("/v1/affiliates/{}/stats", s(&a["id"])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = r.data();
    assert_eq!(d["affiliateId"], a["id"]);
    assert_eq!(d["interval"], "day");
    let t = &d["totals"];
    assert_eq!(
        (t["clicks"].as_i64(), t["signups"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(t["conversions"], 3);
    let usd = money(t, "USD");
    assert_eq!(usd["revenue"].to_string(), "150.00");
    assert_eq!(usd["refunded"].to_string(), "10.00");
    // 20.00 approved, cut by 10% to 18.00 by the refund (2.00 reversed); 10.00 pending.
    assert_eq!(usd["earnings"]["approved"].to_string(), "18.00");
    assert_eq!(usd["earnings"]["pending"].to_string(), "10.00");
    assert_eq!(usd["earnings"]["paid"].to_string(), "0.00");
    assert_eq!(usd["earnings"]["reversed"].to_string(), "2.00");
    let eur = money(t, "EUR");
    assert_eq!(eur["revenue"].to_string(), "50.00");
    assert_eq!(eur["earnings"]["reversed"].to_string(), "10.00");
    assert_eq!(eur["earnings"]["pending"].to_string(), "0.00");
    // The program currency comes first.
    assert_eq!(t["money"][0]["currency"], "USD");

    // Thirty daily buckets ending today, every one present, all the activity in the last.
    let series = d["series"].as_array().unwrap();
    assert_eq!(series.len(), 30);
    let last = series.last().unwrap();
    assert_eq!(last["start"], today(&app).to_string());
    assert_eq!(last["end"], today(&app).to_string());
    assert_eq!(last["clicks"], 3);
    assert_eq!(money(last, "USD")["revenue"].to_string(), "150.00");
    let first = &series[0];
    assert_eq!(first["clicks"], 0);
    assert_eq!(
        first["money"].as_array().unwrap().len(),
        2,
        "zeros included"
    );
    assert_eq!(money(first, "EUR")["revenue"].to_string(), "0.00");
    assert_eq!(d["from"], (today(&app) - Duration::days(29)).to_string());

    // B saw one click and nothing else; another program's key sees no such affiliate.
    let r = app
        .get(&format!("/v1/affiliates/{}/stats", s(&b["id"])))
        .await;
    assert_eq!(r.data()["totals"]["clicks"], 1);
    assert_eq!(r.data()["totals"]["conversions"], 0);
    assert_eq!(r.data()["totals"]["money"].as_array().unwrap().len(), 1);
    let other = app.other_program_key("Other");
    let r = app
        .req_with(
            reqwest::Method::GET,
            &format!("/v1/affiliates/{}/stats", s(&a["id"])),
            None,
            &other,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A range that ended yesterday holds nothing.
    let y = today(&app) - Duration::days(1);
    let r = app
        .get(&format!("/v1/affiliates/{}/stats?to={y}", s(&a["id"])))
        .await;
    assert_eq!(r.data()["totals"]["clicks"], 0);
    crate::integrity::assert_reconciled(&app).await;
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

#[tokio::test]
async fn buckets_by_day_week_and_month() {
    let app = spawn_app().await;
    let a = app.affiliate("cat@x.io", "Cat").await;
    sale(&app, &a, "10.00", "USD", "o1").await;
    let day1 = today(&app);
    app.state.clock.advance(Duration::days(40));
    sale(&app, &a, "30.00", "USD", "o2").await;
    click(&app, &a, 2).await;
    let day2 = today(&app);
    let from = day1 - Duration::days(3);
    let base = format!("/v1/affiliates/{}/stats?from={from}&to={day2}", s(&a["id"]));

    let days = app.get(&format!("{base}&interval=day")).await;
    assert_eq!(days.status, StatusCode::OK, "{}", days.text);
    let series = days.data()["series"].as_array().unwrap();
    assert_eq!(series.len(), 44);
    assert_eq!(series[3]["conversions"], 1);
    assert_eq!(series[43]["conversions"], 1);
    assert_eq!(series[43]["clicks"], 2);

    for interval in ["week", "month"] {
        let r = app.get(&format!("{base}&interval={interval}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let d = r.data();
        assert_eq!(d["interval"], interval);
        let series = d["series"].as_array().unwrap();
        // Contiguous, clipped to the range, periods starting on Mondays / the 1st.
        let date = |v: &Value| NaiveDate::parse_from_str(s(v), "%Y-%m-%d").unwrap();
        assert_eq!(date(&series[0]["start"]), from);
        assert_eq!(date(&series.last().unwrap()["end"]), day2);
        for w in series.windows(2) {
            let next = date(&w[1]["start"]);
            assert_eq!(date(&w[0]["end"]) + Duration::days(1), next);
            match interval {
                "week" => assert_eq!(next.weekday(), chrono::Weekday::Mon),
                _ => assert_eq!(next.day(), 1),
            }
        }
        let conversions: i64 = series
            .iter()
            .map(|b| b["conversions"].as_i64().unwrap())
            .sum();
        assert_eq!(conversions, 2);
        let holding = |day: NaiveDate| {
            series
                .iter()
                .find(|b| date(&b["start"]) <= day && day <= date(&b["end"]))
                .unwrap()
        };
        assert_eq!(money(holding(day1), "USD")["revenue"].to_string(), "10.00");
        assert_eq!(money(holding(day2), "USD")["revenue"].to_string(), "30.00");
        if interval == "week" {
            let expected = (monday_of(day2) - monday_of(from)).num_days() / 7 + 1;
            assert_eq!(series.len() as i64, expected);
        }
    }

    // Fixed calendars: 2026-01-01 (a Thursday) to 2026-03-15 (a Sunday).
    let fixed = format!(
        "/v1/affiliates/{}/stats?from=2026-01-01&to=2026-03-15T12:00:00Z",
        s(&a["id"])
    );
    let count = |r: &crate::helpers::Resp| r.data()["series"].as_array().unwrap().len();
    assert_eq!(count(&app.get(&fixed).await), 74);
    let weeks = app.get(&format!("{fixed}&interval=week")).await;
    assert_eq!(count(&weeks), 11);
    assert_eq!(weeks.data()["series"][0]["end"], "2026-01-04");
    assert_eq!(weeks.data()["series"][1]["start"], "2026-01-05");
    let months = app.get(&format!("{fixed}&interval=month")).await;
    assert_eq!(count(&months), 3);
    assert_eq!(months.data()["series"][1]["end"], "2026-02-28");
    assert_eq!(months.data()["series"][2]["end"], "2026-03-15");
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn bad_parameters_name_the_field() {
    let app = spawn_app().await;
    let a = app.affiliate("dan@x.io", "Dan").await;
    let base = format!("/v1/affiliates/{}/stats", s(&a["id"]));
    for (query, field) in [
        ("interval=year", "interval"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "to"),
        ("foo=1", "foo"),
    ] {
        for path in [&base, "/v1/reports/summary"] {
            let r = app.get(&format!("{path}?{query}")).await;
            assert_eq!(
                (r.status, r.code(), r.field()),
                (StatusCode::BAD_REQUEST, "invalid_request", field),
                "{path}?{query}: {}",
                r.text
            );
        }
    }
    let r = app.get("/v1/affiliates/comm_1/stats").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "id"));
    let r = app.get("/v1/affiliates/aff_nosuchaffiliate/stats").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Three years is fine.
    let r = app
        .get(&format!(
            "{base}?from=2023-01-01&to=2025-12-31&interval=month"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.data()["series"].as_array().unwrap().len(), 36);
    crate::integrity::assert_reconciled(&app).await;
}

#[tokio::test]
async fn the_summary_covers_the_program_and_ranks_affiliates() {
    let app = spawn_app().await;
    let a = app.affiliate("a@x.io", "Alpha").await;
    let b = app.affiliate("b@x.io", "Beta").await;
    let c = app.affiliate("c@x.io", "Gamma").await;
    app.affiliate("d@x.io", "Idle").await;
    click(&app, &a, 2).await;
    click(&app, &c, 5).await;
    signup(&app, &b, "u1").await;
    sale(&app, &a, "100.00", "USD", "o1").await;
    sale(&app, &b, "300.00", "USD", "o2").await;
    sale(&app, &c, "200.00", "USD", "o3").await;
    sale(&app, &c, "80.00", "EUR", "o4").await;

    let r = app.get("/v1/reports/summary").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = r.data();
    assert_eq!(d["currency"], "USD");
    let t = &d["totals"];
    assert_eq!(t["clicks"], 7);
    assert_eq!(t["signups"], 1);
    assert_eq!(t["conversions"], 4);
    assert_eq!(money(t, "USD")["revenue"].to_string(), "600.00");
    assert_eq!(money(t, "USD")["earnings"]["pending"].to_string(), "120.00");
    assert_eq!(money(t, "EUR")["revenue"].to_string(), "80.00");
    assert_eq!(d["series"].as_array().unwrap().len(), 30);
    let top = d["topAffiliates"].as_array().unwrap();
    let order: Vec<&str> = top.iter().map(|t| s(&t["name"])).collect();
    assert_eq!(
        order,
        ["Beta", "Gamma", "Alpha"],
        "the idle one is left out"
    );
    assert_eq!(top[0]["earnings"].to_string(), "60.00");
    assert_eq!(top[0]["revenue"].to_string(), "300.00");
    assert_eq!(top[1]["clicks"], 5);
    assert_eq!(top[1]["conversions"], 2);
    assert_eq!(
        top[1]["revenue"].to_string(),
        "200.00",
        "program currency only"
    );

    // Through the SDK.
    let client = Client::new(&app.base, &app.key).unwrap();
    let summary = client
        .reports()
        .summary(StatsRange {
            interval: Some(StatsInterval::Week),
            ..StatsRange::default()
        })
        .await
        .unwrap();
    assert_eq!(summary.totals.conversions, 4);
    assert_eq!(summary.top_affiliates.len(), 3);
    let id = refgrow_client::AffiliateId::parse(s(&c["id"])).unwrap();
    let stats = client
        .stats()
        .affiliate(
            &id,
            StatsRange {
                from: Some(today(&app) - Duration::days(89)),
                to: Some(today(&app)),
                interval: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(stats.series.len(), 90);
    assert_eq!(stats.totals.clicks, 5);
    assert_eq!(stats.totals.money[1].currency.code(), "EUR");
    let e = client
        .stats()
        .affiliate(
            &id,
            StatsRange {
                from: Some(today(&app)),
                to: Some(today(&app) - Duration::days(1)),
                interval: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.field()), (Some(400), Some("from")));
    crate::integrity::assert_reconciled(&app).await;
}

/// The program's own rollup rows are kept by the same writes as the affiliates' rows: after
/// clicks, signups, sales in two currencies, a partial refund and status moves, the summary's
/// totals are the sums of the affiliates' stats, figure by figure.
#[actix_web::test]
async fn the_program_totals_are_the_sum_of_the_affiliates() {
    let app = spawn_app().await;
    let a = app.affiliate("a@x.io", "Alpha").await;
    let b = app.affiliate("b@x.io", "Beta").await;
    click(&app, &a, 3).await;
    click(&app, &b, 1).await;
    signup(&app, &a, "u1").await;
    let s1 = sale(&app, &a, "100.00", "USD", "o1").await;
    sale(&app, &b, "40.00", "USD", "o2").await;
    sale(&app, &b, "9.99", "EUR", "o3").await;
    let conv = s(&s1["conversionId"]);
    let r = app
        .post(
            &format!("/v1/conversions/{conv}/refunds"),
            json!({"amount": "25.00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let comm = s(&s1["commissionId"]);
    let r = app
        .put(
            &format!("/v1/commissions/{comm}/status"),
            json!({"status": "approved"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let summary = app.get("/v1/reports/summary").await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    let totals = summary.data()["totals"].clone();
    let mut sums = json!({"clicks": 0, "signups": 0, "conversions": 0});
    let mut money_sums: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for aff in [&a, &b] {
        let r = app
            .get(&format!("/v1/affiliates/{}/stats", s(&aff["id"])))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let t = &r.data()["totals"];
        for k in ["clicks", "signups", "conversions"] {
            sums[k] = json!(sums[k].as_i64().unwrap() + t[k].as_i64().unwrap());
        }
        for m in t["money"].as_array().unwrap() {
            money_sums
                .entry(s(&m["currency"]).to_string())
                .or_default()
                .push(m.to_string());
        }
    }
    for k in ["clicks", "signups", "conversions"] {
        assert_eq!(totals[k], sums[k], "{k}");
    }
    assert_eq!(
        (totals["clicks"].as_i64(), totals["conversions"].as_i64()),
        (Some(4), Some(3))
    );
    // Money: with one affiliate per currency here, each currency's figures are that
    // affiliate's own, and USD (two affiliates) adds up.
    assert_eq!(money(&totals, "EUR").to_string(), money_sums["EUR"][0]);
    let usd = money(&totals, "USD");
    assert_eq!(usd["revenue"].to_string(), "140.00");
    assert_eq!(usd["refunded"].to_string(), "25.00");
    assert_eq!(usd["earnings"]["approved"].to_string(), "15.00");
    assert_eq!(usd["earnings"]["pending"].to_string(), "8.00");
}
