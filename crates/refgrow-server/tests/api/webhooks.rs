//! Webhooks: signed deliveries from a durable outbox, retries across restarts, secret
//! rotation, the event log, and the endpoints API. A local receiver records every request and
//! answers what the test tells it to.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use refgrow_types::webhook::{sign, verify_webhook};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::deliveries;
use crate::helpers::{spawn_app, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    fn id(&self) -> &str {
        self.header("webhook-id")
    }
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A local webhook receiver on 127.0.0.1.
pub(crate) struct Receiver {
    pub(crate) url: String,
    log: Arc<Mutex<Vec<Received>>>,
    answer: Arc<AtomicU16>,
    handle: actix_web::dev::ServerHandle,
}

async fn record(
    req: HttpRequest,
    body: web::Bytes,
    log: web::Data<Arc<Mutex<Vec<Received>>>>,
    answer: web::Data<Arc<AtomicU16>>,
) -> HttpResponse {
    let status = answer.load(Ordering::SeqCst);
    log.lock().unwrap().push(Received {
        path: req.path().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        answered: status,
    });
    let code = actix_web::http::StatusCode::from_u16(status).unwrap();
    let mut res = HttpResponse::build(code);
    if code.is_redirection() {
        res.insert_header(("location", "/elsewhere"));
    }
    res.body(if code.is_success() { "ok" } else { "nope" })
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        Receiver::start_on(TcpListener::bind("127.0.0.1:0").unwrap()).await
    }

    async fn start_on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(AtomicU16::new(200));
        let (l, a) = (log.clone(), answer.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(l.clone()))
                .app_data(web::Data::new(a.clone()))
                .default_service(web::to(record))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            log,
            answer,
            handle,
        }
    }

    fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    fn all(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn delivered(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Successful deliveries per `webhook-id`: each must be 1.
    fn successes_per_id(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self.delivered() {
            *m.entry(r.id().to_string()).or_insert(0) += 1;
        }
        m
    }
}

/// Polls `check` every 50 ms until it holds, for at most `secs` seconds.
pub(crate) async fn wait_for<F: FnMut() -> bool>(secs: u64, what: &str, mut check: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn endpoint(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1/webhook-endpoints", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.data()["webhookEndpoint"].clone()
}

/// Waits until the endpoint's deliveries satisfy `check`.
async fn wait_deliveries<F: Fn(&[Value]) -> bool>(
    app: &TestApp,
    endpoint_id: &str,
    secs: u64,
    what: &str,
    check: F,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let d = deliveries(app, endpoint_id).await;
        if check(&d) {
            return d;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {d:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn verified(r: &Received, secret: &str) -> bool {
    verify_webhook(secret, r.headers.clone(), &r.body).is_ok()
}

#[track_caller]
fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

#[tokio::test]
async fn deliveries_are_signed_and_match_the_event_log() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let ep = endpoint(&app, json!({"url": rx.url, "description": "all events"})).await;
    let secret = s(&ep["secret"]);
    assert!(secret.starts_with("whsec_"), "{ep}");
    assert_eq!(ep["events"], json!(["*"]));
    assert!(s(&ep["id"]).starts_with("we_"));
    // Only conversions: affiliate events must not reach it.
    let rx2 = Receiver::start().await;
    endpoint(
        &app,
        json!({"url": rx2.url, "events": ["conversion.created"]}),
    )
    .await;

    let a = app.affiliate("ada@x.io", "Ada").await;
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": a["referralCode"], "amount": 10, "orderId": "o-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    wait_for(20, "three events", || rx.delivered().len() >= 3).await;
    wait_for(20, "the conversion", || !rx2.delivered().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let got = rx.delivered();
    let types: Vec<String> = got.iter().map(|r| s(&r.json()["type"])).collect();
    assert!(
        types.contains(&"affiliate.created".to_string()),
        "{types:?}"
    );
    assert!(
        types.contains(&"conversion.created".to_string()),
        "{types:?}"
    );
    assert!(
        types.contains(&"commission.created".to_string()),
        "{types:?}"
    );
    for r in &got {
        assert!(verified(r, &secret), "signature of {r:?}");
        assert_eq!(r.path, "/hook");
        assert!(r.id().starts_with("evt_"));
        assert!(r.header("content-type").starts_with("application/json"));
        assert!(r.header("user-agent").starts_with("Refgrow-Webhooks/"));
        assert!(r.header("webhook-signature").starts_with("v1,"));
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
        // Not valid under another secret, nor with a changed body.
        assert!(!verified(
            r,
            &refgrow_server::services::webhooks::new_secret()
        ));
        let mut tampered = r.clone();
        tampered.body.push(b' ');
        assert!(!verified(&tampered, &secret));
    }
    assert!(rx.successes_per_id().values().all(|n| *n == 1));
    let only = rx2.delivered();
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0].json()["type"], "conversion.created");
    assert!(s(&only[0].json()["data"]["conversion"]["conversionId"]).starts_with("conv_"));

    // The event log shows exactly what was delivered.
    let log = app.get("/v1/events").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    assert_eq!(log.data()["total"], got.len());
    for r in &got {
        let body = r.json();
        let listed = log.data()["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == r.id())
            .unwrap_or_else(|| panic!("{} is not in the log", r.id()))
            .clone();
        assert_eq!(listed["type"], body["type"]);
        assert_eq!(listed["timestamp"], body["timestamp"]);
        assert_eq!(listed["data"], body["data"]);
        let one = app.get(&format!("/v1/events/{}", r.id())).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(one.data()["event"], listed);
    }
    // Exact money survives the trip.
    let conv = got
        .iter()
        .find(|r| r.json()["type"] == "conversion.created")
        .unwrap();
    let text = String::from_utf8(conv.body.clone()).unwrap();
    assert!(text.contains("\"amount\":10.00"), "{text}");
    // Newest first, filtered by type and time.
    let conv_only = app.get("/v1/events?type=conversion.created").await;
    assert_eq!(conv_only.data()["total"], 1);
    let times: Vec<String> = log.data()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["timestamp"]))
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    let future = app.get("/v1/events?from=2999-01-01").await;
    assert_eq!(future.data()["total"], 0);
    let past = app.get("/v1/events?to=2000-01-01T00:00:00Z").await;
    assert_eq!(past.data()["total"], 0);
    let paged = app.get("/v1/events?limit=1&offset=1").await;
    assert_eq!(paged.data()["events"].as_array().unwrap().len(), 1);
    assert_eq!(paged.data()["events"][0], log.data()["events"][1]);

    let d = deliveries(&app, &s(&ep["id"])).await;
    assert_eq!(d.len(), got.len());
    for x in &d {
        assert_eq!(x["status"], "delivered", "{x}");
        assert_eq!(x["attempts"], 1);
        assert_eq!(x["responseStatus"], 200);
        assert!(x["nextAttemptAt"].is_null());
        assert!(s(&x["id"]).starts_with("del_"));
    }
    rx.handle.stop(false).await;
    rx2.handle.stop(false).await;
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_after_a_restart_exactly_once() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.answer_with(500);
    let ep = endpoint(&app, json!({"url": rx.url})).await;
    let (id, secret) = (s(&ep["id"]), s(&ep["secret"]));
    let a = app.affiliate("bo@x.io", "Bo").await;

    let d = wait_deliveries(&app, &id, 20, "two failed attempts", |d| {
        d.len() == 1 && d[0]["attempts"].as_i64().unwrap_or(0) >= 2 && d[0]["status"] == "retrying"
    })
    .await;
    assert_eq!(d[0]["responseStatus"], 500);
    assert!(s(&d[0]["lastError"]).contains("500"), "{}", d[0]);
    assert!(d[0]["nextAttemptAt"].is_string());
    assert!(d[0]["lastAttemptAt"].is_string());
    assert!(rx.delivered().is_empty());
    let failed_ids: Vec<String> = rx.all().iter().map(|r| r.id().to_string()).collect();
    // Every attempt carries the same webhook-id, the event's.
    assert!(failed_ids.iter().all(|i| i == &failed_ids[0]));

    // Restart the API between attempts: the outbox is in the database.
    let app = app.restart().await;
    rx.answer_with(200);
    wait_for(20, "the delivery after the restart", || {
        !rx.delivered().is_empty()
    })
    .await;
    let got = rx.delivered();
    assert_eq!(got[0].id(), failed_ids[0]);
    assert!(verified(&got[0], &secret));
    assert_eq!(got[0].json()["data"]["affiliate"]["id"], a["id"]);

    let d = wait_deliveries(&app, &id, 10, "delivered", |d| {
        d[0]["status"] == "delivered"
    })
    .await;
    assert!(d[0]["attempts"].as_i64().unwrap() >= 3);
    assert_eq!(d[0]["responseStatus"], 200);
    assert!(d[0]["lastError"].is_null());
    // Nothing lost, nothing twice, even with time to misbehave.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.delivered().len(), 1);
    assert!(rx.successes_per_id().values().all(|n| *n == 1));
    let retry = app
        .post(
            &format!(
                "/v1/webhook-endpoints/{id}/deliveries/{}/retry",
                s(&d[0]["id"])
            ),
            json!({}),
        )
        .await;
    assert_eq!(retry.status, StatusCode::CONFLICT, "{}", retry.text);
    rx.handle.stop(false).await;
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_the_event_when_it_comes_up() {
    let app = spawn_app().await;
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let ep = endpoint(&app, json!({"url": url})).await;
    let id = s(&ep["id"]);
    app.affiliate("cy@x.io", "Cy").await;
    let d = wait_deliveries(&app, &id, 20, "a refused attempt", |d| {
        d.len() == 1 && d[0]["attempts"].as_i64().unwrap_or(0) >= 1
    })
    .await;
    assert!(d[0]["responseStatus"].is_null());
    assert!(s(&d[0]["lastError"]).contains("connect"), "{}", d[0]);

    let app = app.restart().await;
    let rx = Receiver::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap()).await;
    wait_for(20, "the delivery once up", || !rx.delivered().is_empty()).await;
    assert!(verified(&rx.delivered()[0], &s(&ep["secret"])));
    wait_deliveries(&app, &id, 10, "delivered", |d| {
        d[0]["status"] == "delivered"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.delivered().len(), 1);
    rx.handle.stop(false).await;
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_during_the_grace_period() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let ep = endpoint(&app, json!({"url": rx.url})).await;
    let (id, old) = (s(&ep["id"]), s(&ep["secret"]));
    let r = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rotated = &r.data()["webhookEndpoint"];
    let new = s(&rotated["secret"]);
    assert!(new.starts_with("whsec_") && new != old);
    let grace = chrono::DateTime::parse_from_rfc3339(&s(&rotated["previousSecretExpiresAt"]))
        .unwrap()
        .timestamp()
        - chrono::Utc::now().timestamp();
    assert!((86_000..=86_400).contains(&grace), "{grace}");
    // Secrets are shown once.
    let again = app.get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert!(
        again.data()["webhookEndpoint"].get("secret").is_none(),
        "{}",
        again.text
    );

    app.affiliate("di@x.io", "Di").await;
    wait_for(20, "the delivery", || !rx.delivered().is_empty()).await;
    let got = &rx.delivered()[0];
    let sigs: Vec<&str> = got.header("webhook-signature").split(' ').collect();
    assert_eq!(sigs.len(), 2, "{sigs:?}");
    let ts: i64 = got.header("webhook-timestamp").parse().unwrap();
    assert_eq!(sigs[0], sign(&new, got.id(), ts, &got.body).unwrap());
    assert_eq!(sigs[1], sign(&old, got.id(), ts, &got.body).unwrap());
    assert!(verified(got, &new));
    assert!(verified(got, &old));
    rx.handle.stop(false).await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.answer_with(302);
    let ep = endpoint(&app, json!({"url": rx.url})).await;
    let id = s(&ep["id"]);
    app.affiliate("ed@x.io", "Ed").await;
    let d = wait_deliveries(&app, &id, 20, "a redirected attempt", |d| {
        d.len() == 1 && d[0]["attempts"].as_i64().unwrap_or(0) >= 1
    })
    .await;
    assert_eq!(d[0]["status"], "retrying", "{}", d[0]);
    assert_eq!(d[0]["responseStatus"], 302);
    assert!(s(&d[0]["lastError"]).contains("redirect"), "{}", d[0]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.all().iter().all(|r| r.path == "/hook"), "{:?}", rx.all());
    rx.handle.stop(false).await;
}

#[tokio::test]
async fn test_events_manual_retries_and_the_failing_mark() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let other = Receiver::start().await;
    rx.answer_with(503);
    let ep = endpoint(&app, json!({"url": rx.url, "events": ["payout.paid"]})).await;
    endpoint(&app, json!({"url": other.url})).await;
    let id = s(&ep["id"]);

    let t = app
        .post(&format!("/v1/webhook-endpoints/{id}/test"), json!({}))
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.text);
    assert_eq!(t.data()["event"]["type"], "webhook.test");
    assert_eq!(t.data()["event"]["data"]["webhookEndpointId"], ep["id"]);
    let delivery_id = s(&t.data()["delivery"]["id"]);
    assert_eq!(t.data()["delivery"]["status"], "pending");

    // Retry by hand until five attempts in a row have failed: the endpoint is failing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let e = app.get(&format!("/v1/webhook-endpoints/{id}")).await;
        let e = &e.data()["webhookEndpoint"];
        if e["failingSince"].is_string() {
            assert!(e["consecutiveFailures"].as_i64().unwrap() >= 5, "{e}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never marked failing: {e}"
        );
        let r = app
            .post(
                &format!("/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry"),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.data()["delivery"]["id"], delivery_id.as_str());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let d = deliveries(&app, &id).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["responseStatus"], 503);
    assert_eq!(d[0]["eventType"], "webhook.test");
    // Still enabled and retried: never silently disabled.
    let e = app.get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(e.data()["webhookEndpoint"]["enabled"], true);

    rx.answer_with(204);
    let r = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    wait_deliveries(&app, &id, 20, "delivered", |d| {
        d[0]["status"] == "delivered"
    })
    .await;
    let e = app.get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert!(
        e.data()["webhookEndpoint"]["failingSince"].is_null(),
        "{}",
        e.text
    );
    assert_eq!(e.data()["webhookEndpoint"]["consecutiveFailures"], 0);
    // The test event went to this endpoint alone.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(other.all().is_empty(), "{:?}", other.all());
    assert_eq!(rx.delivered().len(), 1);
    assert_eq!(rx.delivered()[0].json()["type"], "webhook.test");
    let log = app.get("/v1/events?type=webhook.test").await;
    assert_eq!(log.data()["total"], 1);
    // Filter on status.
    let delivered = app
        .get(&format!(
            "/v1/webhook-endpoints/{id}/deliveries?status=delivered"
        ))
        .await;
    assert_eq!(delivered.data()["total"], 1);
    let bad = app
        .get(&format!(
            "/v1/webhook-endpoints/{id}/deliveries?status=lost"
        ))
        .await;
    assert_eq!(
        (bad.status, bad.field()),
        (StatusCode::BAD_REQUEST, "status")
    );
    rx.handle.stop(false).await;
    other.handle.stop(false).await;
}

#[tokio::test]
async fn endpoints_are_validated_scoped_and_editable() {
    let app = spawn_app().await;
    for url in [
        json!("not a url"),
        json!("ftp://example.com/hook"),
        json!("/relative/path"),
        json!("https://"),
        json!(format!("https://example.com/{}", "x".repeat(2000))),
        json!(42),
    ] {
        let r = app.post("/v1/webhook-endpoints", json!({"url": url})).await;
        assert_eq!(
            (r.status, r.code(), r.field()),
            (StatusCode::BAD_REQUEST, "invalid_request", "url"),
            "{url}: {}",
            r.text
        );
    }
    let r = app.post("/v1/webhook-endpoints", json!({})).await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "url"));
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "https://example.com/h", "events": ["affiliate.exploded"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::BAD_REQUEST, "events"),
        "{}",
        r.text
    );
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "https://example.com/h", "events": []}),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "events"));
    let r = app
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "https://example.com/h", "secret": "mine"}),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "secret"));

    let ep = endpoint(
        &app,
        json!({"url": "https://example.com/h", "events": ["conversion.created", "payout.paid"]}),
    )
    .await;
    let id = s(&ep["id"]);
    assert_eq!(ep["events"], json!(["conversion.created", "payout.paid"]));
    let r = app
        .patch(
            &format!("/v1/webhook-endpoints/{id}"),
            json!({
                "url": "https://example.org/new",
                "events": null,
                "description": "d",
                "enabled": false
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let e = &r.data()["webhookEndpoint"];
    assert_eq!(e["url"], "https://example.org/new");
    assert_eq!(e["events"], json!(["*"]));
    assert_eq!(e["description"], "d");
    assert_eq!(e["enabled"], false);
    assert!(e.get("secret").is_none());
    let r = app
        .patch(
            &format!("/v1/webhook-endpoints/{id}"),
            json!({"url": "nope"}),
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "url"));
    let list = app.get("/v1/webhook-endpoints").await;
    assert_eq!(list.data()["total"], 1);
    assert!(list.data()["webhookEndpoints"][0].get("secret").is_none());

    // Ids: a wrong prefix is 400, another program's endpoint is 404.
    let r = app.get("/v1/webhook-endpoints/aff_123").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "id"));
    let other = app.other_program_key("Other program");
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/webhook-endpoints/{id}")),
        (
            reqwest::Method::PATCH,
            format!("/v1/webhook-endpoints/{id}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/webhook-endpoints/{id}"),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/webhook-endpoints/{id}/test"),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/webhook-endpoints/{id}/rotate-secret"),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/webhook-endpoints/{id}/deliveries"),
        ),
        (
            reqwest::Method::POST,
            format!("/v1/webhook-endpoints/{id}/deliveries/del_abc/retry"),
        ),
    ] {
        let r = app
            .req_with(method.clone(), &path, Some(json!({})), &other, &[])
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "resource_not_found"),
            "{method} {path}: {}",
            r.text
        );
    }
    let r = app
        .req_with(
            reqwest::Method::GET,
            "/v1/webhook-endpoints",
            None,
            &other,
            &[],
        )
        .await;
    assert_eq!(r.data()["total"], 0);

    // The event log's parameters.
    for (q, field) in [
        ("type=nope", "type"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("bogus=1", "bogus"),
    ] {
        let r = app.get(&format!("/v1/events?{q}")).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::BAD_REQUEST, field),
            "{q}"
        );
    }
    let r = app.get("/v1/events/evt_nothing").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("/v1/events/del_nothing").await;
    assert_eq!((r.status, r.field()), (StatusCode::BAD_REQUEST, "id"));
    let r = app
        .post(
            &format!("/v1/webhook-endpoints/{id}/deliveries/del_nothing/retry"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = app.delete(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get(&format!("/v1/webhook-endpoints/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_client_manages_endpoints_and_reads_the_log() {
    use futures_util::TryStreamExt;
    use refgrow_client::api::{CreateWebhookEndpoint, DeliveryStatus, UpdateWebhookEndpoint};
    use refgrow_client::{ListDeliveries, ListEvents};

    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let client = refgrow_client::Client::new(&app.base, &app.key).unwrap();
    let hooks = client.webhook_endpoints();
    let ep = hooks
        .create(CreateWebhookEndpoint {
            url: rx.url.clone(),
            events: None,
            format: None,
            description: Some("sdk".into()),
        })
        .await
        .unwrap();
    let secret = ep.secret.clone().unwrap();
    assert_eq!(hooks.list(None, None).await.unwrap().total, 1);
    assert_eq!(hooks.get(&ep.id).await.unwrap().secret, None);
    let test = hooks.test(&ep.id).await.unwrap();
    wait_for(20, "the test event", || !rx.delivered().is_empty()).await;
    let got = &rx.delivered()[0];
    let v = refgrow_client::verify_webhook(&secret, got.headers.clone(), &got.body).unwrap();
    assert_eq!(v.id, test.event.id.as_str());
    let page = hooks
        .deliveries(
            &ep.id,
            ListDeliveries {
                status: Some(DeliveryStatus::Delivered),
                ..ListDeliveries::default()
            },
        )
        .await;
    let page = match page {
        Ok(p) if p.total == 1 => p,
        _ => {
            tokio::time::sleep(Duration::from_millis(500)).await;
            hooks
                .deliveries(&ep.id, ListDeliveries::default())
                .await
                .unwrap()
        }
    };
    assert_eq!(page.deliveries[0].status, DeliveryStatus::Delivered);
    let err = hooks
        .retry_delivery(&ep.id, &page.deliveries[0].id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(refgrow_client::ErrorCode::Conflict));
    let rotated = hooks.rotate_secret(&ep.id).await.unwrap();
    assert!(rotated.secret.unwrap() != secret);
    let off = hooks
        .update(
            &ep.id,
            UpdateWebhookEndpoint {
                enabled: Some(false),
                ..UpdateWebhookEndpoint::default()
            },
        )
        .await
        .unwrap();
    assert!(!off.enabled);

    app.affiliate("fy@x.io", "Fy").await;
    let events = client.events();
    let all: Vec<_> = events
        .list_all(ListEvents {
            limit: Some(1),
            ..ListEvents::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].event_type, "affiliate.created");
    assert_eq!(events.get(&all[1].id).await.unwrap(), all[1]);
    hooks.delete(&ep.id).await.unwrap();
    assert!(hooks.get(&ep.id).await.is_err());
    rx.handle.stop(false).await;
}
