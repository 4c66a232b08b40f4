//! The concurrent-history property test: random interleavings of sales, renewals, partial
//! and full refunds, Stripe invoices, refunds and disputes, status changes, manual
//! reversals, payout runs and payouts marked paid, sent from several tasks at once (on
//! PostgreSQL to two server instances sharing one database, as two replicas would). Then
//! the ledger check (`GET /v1/reports/reconcile`, the `verify` command's code) must find no
//! difference, and every acknowledged write must be stored exactly once.
//!
//! proptest generates the histories (one list of operations per task) and shrinks a failing
//! one. Cases: `REFGROW_HISTORY_CASES` (default 20: about 5 s on SQLite and 25 s on PostgreSQL); raise it for
//! soak runs, e.g. `REFGROW_HISTORY_CASES=200 cargo test --test api history`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{fresh_database, spawn_configured, TestApp};

const SECRET: &str = "whsec_refgrow_history";
/// Affiliates of each history.
const AFFILIATES: usize = 3;

/// One operation of a task. Indexes pick among what exists when it runs (modulo).
#[derive(Debug, Clone)]
enum Op {
    Sale { aff: usize, cents: i64 },
    Renewal { aff: usize, cents: i64 },
    StripeInvoice { aff: usize, cents: i64 },
    PartialRefund { pick: usize, permille: i64 },
    FullRefund { pick: usize },
    StripeRefund { pick: usize, permille: i64 },
    Dispute { pick: usize },
    Status { pick: usize, approve: bool },
    Reverse { pick: usize },
    PayoutRun,
    PayoutPaid { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let aff = 0..AFFILIATES;
    let cents = 100i64..50_000;
    let pick = 0usize..64;
    prop_oneof![
        3 => (aff.clone(), cents.clone()).prop_map(|(aff, cents)| Op::Sale { aff, cents }),
        2 => (aff.clone(), cents.clone()).prop_map(|(aff, cents)| Op::Renewal { aff, cents }),
        2 => (aff, cents).prop_map(|(aff, cents)| Op::StripeInvoice { aff, cents }),
        2 => (pick.clone(), 1i64..1000).prop_map(|(pick, permille)| Op::PartialRefund { pick, permille }),
        1 => pick.clone().prop_map(|pick| Op::FullRefund { pick }),
        2 => (pick.clone(), 1i64..=1000).prop_map(|(pick, permille)| Op::StripeRefund { pick, permille }),
        1 => pick.clone().prop_map(|pick| Op::Dispute { pick }),
        2 => (pick.clone(), any::<bool>()).prop_map(|(pick, approve)| Op::Status { pick, approve }),
        1 => pick.clone().prop_map(|pick| Op::Reverse { pick }),
        1 => Just(Op::PayoutRun),
        1 => pick.prop_map(|pick| Op::PayoutPaid { pick }),
    ]
}

/// A history: one list of operations per concurrent task.
fn history() -> impl Strategy<Value = Vec<Vec<Op>>> {
    proptest::collection::vec(proptest::collection::vec(op(), 5..20), 4..7)
}

/// What the servers acknowledged, and what exists to pick from.
#[derive(Default)]
struct Ledger {
    /// Sales and renewals: order id / transaction key -> conversion id.
    orders: HashMap<String, String>,
    /// Commission ids seen.
    commissions: Vec<String>,
    /// Conversions that can be refunded.
    conversions: Vec<String>,
    /// Stripe charges: (charge id, Stripe amount).
    charges: Vec<(String, i64)>,
    /// Refund rows the API created (201 with a new refund) and Stripe refunds applied.
    refunds: usize,
    /// Payouts created.
    payouts: BTreeSet<String>,
    /// Payouts acknowledged as paid.
    paid: BTreeSet<String>,
    /// Commissions acknowledged as reversed or rejected.
    reversed: BTreeSet<String>,
    /// Unexpected answers.
    errors: Vec<String>,
}

/// A handle that sends requests to one of the servers.
#[derive(Clone)]
struct Target {
    base: String,
    key: String,
    program: String,
    http: reqwest::Client,
}

impl Target {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("request sent");
        let st = res.status();
        let text = res.text().await.unwrap_or_default();
        (st, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn stripe(&self, ev: Value) -> (StatusCode, Value) {
        let body = serde_json::to_string(&ev).unwrap();
        let t = chrono::Utc::now().timestamp();
        let sig = refgrow_server::services::stripe::sign(body.as_bytes(), SECRET, t);
        let res = self
            .http
            .post(format!(
                "{}/v1/integrations/stripe/{}/webhook",
                self.base, self.program
            ))
            .header("content-type", "application/json")
            .header("stripe-signature", sig)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let st = res.status();
        let text = res.text().await.unwrap_or_default();
        (st, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

fn event(id: String, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "type": kind, "created": 1_700_000_000,
           "livemode": false, "data": {"object": object}})
}

fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()].clone())
}

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Runs one task's operations; `n` makes its ids unique.
async fn run_task(
    t: Target,
    n: usize,
    ops: Vec<Op>,
    affs: Arc<Vec<Value>>,
    ledger: Arc<Mutex<Ledger>>,
) {
    for (i, op) in ops.into_iter().enumerate() {
        let tag = format!("{n}-{i}");
        let (what, st, body) = match &op {
            Op::Sale { aff, cents } => {
                let order = format!("o-{tag}");
                let (st, b) = t
                    .send(
                        Method::POST,
                        "/v1/referrals/convert",
                        Some(json!({"referralCode": affs[*aff]["referralCode"],
                                    "amount": money(*cents), "orderId": order})),
                    )
                    .await;
                if st == StatusCode::CREATED {
                    let mut l = ledger.lock().unwrap();
                    let conv = b["data"]["conversionId"].as_str().unwrap().to_string();
                    l.orders.insert(order, conv.clone());
                    l.conversions.push(conv);
                    if let Some(c) = b["data"]["commissionId"].as_str() {
                        l.commissions.push(c.to_string());
                    }
                }
                ("sale", st, b)
            }
            Op::Renewal { aff, cents } => {
                let key = format!("t-{tag}");
                let (st, b) = t
                    .send(
                        Method::POST,
                        "/v1/transactions",
                        Some(json!({"customerKey": format!("cust-{aff}"), "key": key,
                                    "amount": money(*cents)})),
                    )
                    .await;
                if st == StatusCode::CREATED {
                    let mut l = ledger.lock().unwrap();
                    let c = &b["data"]["conversion"];
                    let conv = c["conversionId"].as_str().unwrap().to_string();
                    l.orders.insert(key, conv.clone());
                    l.conversions.push(conv);
                    if let Some(cm) = c["commissionId"].as_str() {
                        l.commissions.push(cm.to_string());
                    }
                }
                ("renewal", st, b)
            }
            Op::StripeInvoice { aff, cents } => {
                let inv = format!("in_{tag}");
                let charge = format!("ch_{tag}");
                let (st, b) = t
                    .stripe(event(
                        format!("evt_in_{tag}"),
                        "invoice.paid",
                        json!({"object": "invoice", "id": inv, "customer": format!("cus_h{aff}"),
                               "amount_paid": cents, "currency": "usd", "charge": charge}),
                    ))
                    .await;
                let outcome = b["data"]["outcome"].as_str().unwrap_or_default();
                if st == StatusCode::OK {
                    if let Some(conv) = outcome.split(" recorded as ").nth(1) {
                        let conv = conv.split(' ').next().unwrap().to_string();
                        let mut l = ledger.lock().unwrap();
                        l.orders.insert(inv, conv.clone());
                        l.charges.push((charge, *cents));
                        l.conversions.push(conv);
                    }
                }
                ("stripe invoice", st, b)
            }
            Op::PartialRefund { pick: p, permille } => {
                let Some(conv) = pick(&ledger.lock().unwrap().conversions, *p) else {
                    continue;
                };
                // A share of the sale; more than what is left is a 400.
                let (_, got) = t
                    .send(Method::GET, &format!("/v1/conversions/{conv}"), None)
                    .await;
                let amount = got["data"]["conversion"]["amount"]
                    .to_string()
                    .replace('.', "")
                    .parse::<i64>()
                    .unwrap_or(100);
                let cents = (amount * permille / 1000).max(1);
                let (st, b) = t
                    .send(
                        Method::POST,
                        &format!("/v1/conversions/{conv}/refunds"),
                        Some(json!({"amount": money(cents)})),
                    )
                    .await;
                if st == StatusCode::CREATED {
                    ledger.lock().unwrap().refunds += 1;
                }
                ("partial refund", st, b)
            }
            Op::FullRefund { pick: p } => {
                let Some(conv) = pick(&ledger.lock().unwrap().conversions, *p) else {
                    continue;
                };
                let (st, b) = t
                    .send(
                        Method::POST,
                        &format!("/v1/conversions/{conv}/refunds"),
                        Some(json!({})),
                    )
                    .await;
                if st == StatusCode::CREATED {
                    ledger.lock().unwrap().refunds += 1;
                }
                ("full refund", st, b)
            }
            Op::StripeRefund { pick: p, permille } => {
                let Some((charge, amount)) = pick(&ledger.lock().unwrap().charges, *p) else {
                    continue;
                };
                let refunded = amount * permille / 1000;
                let (st, b) = t
                    .stripe(event(
                        format!("evt_re_{tag}"),
                        "charge.refunded",
                        json!({"object": "charge", "id": charge, "amount": amount,
                               "amount_refunded": refunded, "currency": "usd"}),
                    ))
                    .await;
                let outcome = b["data"]["outcome"].as_str().unwrap_or_default();
                if st == StatusCode::OK && outcome.starts_with("refunded ") {
                    ledger.lock().unwrap().refunds += 1;
                }
                ("stripe refund", st, b)
            }
            Op::Dispute { pick: p } => {
                let Some((charge, _)) = pick(&ledger.lock().unwrap().charges, *p) else {
                    continue;
                };
                let (st, b) = t
                    .stripe(event(
                        format!("evt_dp_{tag}"),
                        "charge.dispute.created",
                        json!({"object": "dispute", "id": format!("dp_{tag}"), "charge": charge}),
                    ))
                    .await;
                ("dispute", st, b)
            }
            Op::Status { pick: p, approve } => {
                let Some(cm) = pick(&ledger.lock().unwrap().commissions, *p) else {
                    continue;
                };
                let to = if *approve { "approved" } else { "rejected" };
                let (st, b) = t
                    .send(
                        Method::PUT,
                        &format!("/v1/commissions/{cm}/status"),
                        Some(json!({"status": to})),
                    )
                    .await;
                if st == StatusCode::OK && !approve {
                    ledger.lock().unwrap().reversed.insert(cm);
                }
                ("status", st, b)
            }
            Op::Reverse { pick: p } => {
                let Some(cm) = pick(&ledger.lock().unwrap().commissions, *p) else {
                    continue;
                };
                let (st, b) = t
                    .send(Method::DELETE, &format!("/v1/commissions/{cm}"), None)
                    .await;
                if st == StatusCode::OK {
                    ledger.lock().unwrap().reversed.insert(cm);
                }
                ("reverse", st, b)
            }
            Op::PayoutRun => {
                let (st, b) = t.send(Method::POST, "/v1/payouts", Some(json!({}))).await;
                if st.is_success() {
                    let mut l = ledger.lock().unwrap();
                    for p in b["data"]["payouts"].as_array().into_iter().flatten() {
                        let id = p["id"].as_str().unwrap().to_string();
                        assert!(l.payouts.insert(id), "a payout id came back twice");
                    }
                }
                ("payout run", st, b)
            }
            Op::PayoutPaid { pick: p } => {
                let ids: Vec<String> = ledger.lock().unwrap().payouts.iter().cloned().collect();
                let Some(po) = pick(&ids, *p) else {
                    continue;
                };
                let (st, b) = t
                    .send(
                        Method::POST,
                        &format!("/v1/payouts/{po}/paid"),
                        Some(json!({"reference": format!("ref-{tag}")})),
                    )
                    .await;
                if st == StatusCode::OK {
                    ledger.lock().unwrap().paid.insert(po);
                }
                ("payout paid", st, b)
            }
        };
        // Refusals are fine (400 for too large a refund, 409 for an illegal move); a 5xx
        // or anything else is a failure.
        let fine = st.is_success()
            || st == StatusCode::BAD_REQUEST
            || st == StatusCode::CONFLICT
            || st == StatusCode::NOT_FOUND;
        if !fine {
            ledger
                .lock()
                .unwrap()
                .errors
                .push(format!("{what} {op:?}: {st} {body}"));
        }
    }
}

/// Runs one history on fresh servers and checks the outcome.
async fn run_history(tasks: Vec<Vec<Op>>) -> Result<(), TestCaseError> {
    let (url, dir) = fresh_database();
    let postgres = dir.is_none();
    let first = spawn_configured(
        url.clone(),
        dir,
        refgrow_server::clock::Clock::system(),
        |_| {},
    )
    .await;
    // On PostgreSQL a second replica on the same database, with its own pool.
    let second: Option<TestApp> = if postgres {
        Some(
            spawn_configured(
                url.clone(),
                None,
                refgrow_server::clock::Clock::system(),
                |_| {},
            )
            .await,
        )
    } else {
        None
    };
    let r = first
        .patch(
            "/v1/program",
            json!({"holdDays": 0, "minPayout": 0, "stripeWebhookSecret": SECRET,
                   "commission": {"type": "percentage", "rate": 20, "recurring": {"months": null},
                                  "secondTier": {"rate": 5}}}),
        )
        .await;
    prop_assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut affs: Vec<Value> = Vec::new();
    for i in 0..AFFILIATES {
        let mut body = json!({"email": format!("h{i}@x.io"), "name": format!("H{i}")});
        if i > 0 {
            // Second tier: every affiliate but the first was referred by the first.
            body["parentAffiliateId"] = affs[0]["id"].clone();
        }
        let r = first.post("/v1/affiliates", body).await;
        prop_assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let a = r.data()["affiliate"].clone();
        let r = first
            .post(
                "/v1/customers",
                json!({"key": format!("cust-{i}"), "affiliateId": a["id"]}),
            )
            .await;
        prop_assert!(r.status.is_success(), "{}", r.text);
        let t = Target {
            base: first.base.clone(),
            key: first.key.clone(),
            program: first.program_id.clone(),
            http: first.http.clone(),
        };
        let (st, b) = t
            .stripe(event(
                format!("evt_cus_{i}"),
                "customer.created",
                json!({"object": "customer", "id": format!("cus_h{i}"),
                       "email": format!("buyer{i}@y.io"), "metadata": {"referral": a["referralCode"]}}),
            ))
            .await;
        prop_assert_eq!(st, StatusCode::OK, "{}", b);
        affs.push(a);
    }
    let affs = Arc::new(affs);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut handles = Vec::new();
    for (n, ops) in tasks.into_iter().enumerate() {
        let app = match (&second, n % 2) {
            (Some(s), 1) => s,
            _ => &first,
        };
        let t = Target {
            base: app.base.clone(),
            key: app.key.clone(),
            program: app.program_id.clone(),
            http: app.http.clone(),
        };
        handles.push(tokio::spawn(run_task(
            t,
            n,
            ops,
            affs.clone(),
            ledger.clone(),
        )));
    }
    for h in handles {
        h.await.expect("task");
    }
    let l = std::mem::take(&mut *ledger.lock().unwrap());
    prop_assert!(l.errors.is_empty(), "unexpected answers: {:#?}", l.errors);
    if std::env::var_os("REFGROW_HISTORY_VERBOSE").is_some() {
        eprintln!(
            "history: {} sales, {} refunds, {} payouts ({} paid), {} reversed",
            l.orders.len(),
            l.refunds,
            l.payouts.len(),
            l.paid.len(),
            l.reversed.len()
        );
    }

    // The ledger check, on both replicas.
    for app in std::iter::once(&first).chain(second.iter()) {
        let r = app.get("/v1/reports/reconcile").await;
        prop_assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        prop_assert_eq!(&r.data()["ok"], &json!(true), "{}", r.text);
    }

    // The `verify` command (the same check, as operators run it) exits 0.
    let config = refgrow_server::config::Config::for_database(&url);
    let code = tokio::task::spawn_blocking(move || {
        refgrow_server::cli::run_admin(
            &config,
            refgrow_server::cli::Command::Verify { program: None },
        )
    })
    .await
    .expect("verify");
    prop_assert_eq!(code, 0, "refgrow-server verify found differences");

    // Every acknowledged write exactly once.
    use refgrow_server::db::schema::{commissions, conversions, payouts, refunds};
    let mut c = first.state.db.write_conn().expect("connection");
    let stored: Vec<(Option<String>, String)> = conversions::table
        .select((conversions::order_id, conversions::id))
        .load(&mut *c)
        .expect("conversions");
    prop_assert_eq!(
        stored.len(),
        l.orders.len(),
        "one conversion per acknowledged sale"
    );
    for (order, id) in &stored {
        let order = order.clone().unwrap_or_default();
        prop_assert_eq!(l.orders.get(&order), Some(id), "order {}", order);
    }
    let n_refunds: i64 = refunds::table.count().get_result(&mut *c).expect("refunds");
    prop_assert_eq!(
        n_refunds as usize,
        l.refunds,
        "one refund row per applied refund"
    );
    let stored_payouts: Vec<(String, String)> = payouts::table
        .select((payouts::id, payouts::status))
        .load(&mut *c)
        .expect("payouts");
    let ids: BTreeSet<String> = stored_payouts.iter().map(|p| p.0.clone()).collect();
    prop_assert_eq!(&ids, &l.payouts, "one payout per acknowledged one");
    for (id, status) in &stored_payouts {
        if l.paid.contains(id) {
            prop_assert_eq!(status, "paid");
        }
    }
    for cm in &l.reversed {
        let status: String = commissions::table
            .find(cm)
            .select(commissions::status)
            .first(&mut *c)
            .expect("commission");
        prop_assert!(
            status == "reversed" || status == "rejected",
            "{} is {}",
            cm,
            status
        );
    }
    drop(c);
    drop(l);
    if let Some(s) = second {
        s.stop().await;
    }
    first.stop().await;
    Ok(())
}

#[test]
fn concurrent_histories_keep_the_ledger_exact() {
    let cases = std::env::var("REFGROW_HISTORY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut runner = TestRunner::new(PtConfig {
        cases,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..PtConfig::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&history(), |tasks| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run_history(tasks))
    });
    eprintln!(
        "concurrent histories: {cases} cases in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
