//! Durability of the click path and behaviour during database outages: a full buffer
//! refuses with 503 and the redirect still redirects; a graceful stop (in process and the
//! real binary on SIGTERM) writes every acknowledged click; a stop that can persist nothing
//! exits non-zero; an outage gives fast 503s, redirects that still redirect, no
//! acknowledged click lost across a `kill -9`, and recovery; read-your-writes for click ids.
//!
//! Outages: on PostgreSQL a TCP proxy between the server and the shared PostgreSQL is cut
//! (every connection dropped, new ones refused) and restored, so the shared server is never
//! stopped. On SQLite, which has no server to lose, the honest equivalent is the file
//! locked by another process (`BEGIN EXCLUSIVE` from the test process): writes fail after
//! the busy timeout (10 s) and the server must behave as during an outage.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{free_port, send_stripe_event, website};
use crate::helpers::{fresh_database, spawn_app_with, spawn_configured, to_resp, Resp};

/// How many clicks the database holds, and which of `ids` are missing.
async fn clicks_in_db(url: &str, ids: &[String]) -> (i64, Vec<String>) {
    use refgrow_server::db::schema::clicks;
    let db = refgrow_server::db::Db::connect(url).expect("connect");
    let ids = ids.to_vec();
    db.read(move |c| {
        let n: i64 = clicks::table.count().get_result(c)?;
        let mut found: HashSet<String> = HashSet::new();
        for chunk in ids.chunks(1000) {
            let got: Vec<String> = clicks::table
                .filter(clicks::id.eq_any(chunk))
                .select(clicks::id)
                .load(c)?;
            found.extend(got);
        }
        Ok((n, ids.into_iter().filter(|i| !found.contains(i)).collect()))
    })
    .await
    .expect("count clicks")
}

fn metric(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as i64)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_full_click_buffer_refuses_with_503_and_the_redirect_still_redirects() {
    let app = spawn_app_with(|c| {
        c.click_buffer_max = 5;
        // Nothing is written while the test fills the buffer.
        c.click_flush_ms = 3_600_000;
    })
    .await;
    website(&app).await;
    let a = app.affiliate("full@x.io", "Full").await;
    let code = a["referralCode"].as_str().unwrap();
    for _ in 0..5 {
        let r = app
            .post("/v1/referrals/track", json!({"referralCode": code}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = app
        .post("/v1/referrals/track", json!({"referralCode": code}))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.body["success"], false);
    assert_eq!(r.code(), "service_unavailable");
    assert_eq!(r.headers["retry-after"], "1");
    let res = app.visit(&format!("/r/{code}")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("https://acme.example/"), "{to}");
    assert!(
        !to.contains("refgrow_click"),
        "not recorded: no click id: {to}"
    );
    assert!(res.headers().get("set-cookie").is_none());
    let m = app.http.get(format!("{}/metrics", app.base)).send().await;
    let m = m.unwrap().text().await.unwrap();
    assert_eq!(
        metric(&m, "refgrow_clicks_refused_total{reason=\"buffer_full\"}"),
        1
    );
    assert_eq!(
        metric(&m, "refgrow_clicks_dropped_total{reason=\"buffer_full\"}"),
        1
    );
    assert_eq!(metric(&m, "refgrow_clicks_buffered"), 5);
    // Once written, room again.
    app.state.clicks.flush(&app.state.db).await.unwrap();
    let r = app
        .post("/v1/referrals/track", json!({"referralCode": code}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let m = app.http.get(format!("{}/metrics", app.base)).send().await;
    let m = m.unwrap().text().await.unwrap();
    assert_eq!(metric(&m, "refgrow_clicks_flushed_total"), 5);
}

#[tokio::test]
async fn a_graceful_stop_writes_every_acknowledged_click() {
    let app = spawn_app_with(|c| c.click_flush_ms = 3_600_000).await;
    let a = app.affiliate("stop@x.io", "Stop").await;
    let code = a["referralCode"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, base, key, code) = (
            app.http.clone(),
            app.base.clone(),
            app.key.clone(),
            code.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..50 {
                let r = http
                    .post(format!("{base}/v1/referrals/track"))
                    .bearer_auth(&key)
                    .json(&json!({"referralCode": code}))
                    .send()
                    .await
                    .unwrap();
                let r = to_resp(r).await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                ids.push(r.data()["clickId"].as_str().unwrap().to_string());
            }
            ids
        }));
    }
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    assert_eq!(app.state.clicks.len(), 400, "all still held");
    let (stopped, url, _dir) = app.graceful_stop().await;
    assert_eq!(stopped.clicks.written, 400);
    assert_eq!((stopped.clicks.spilled, stopped.clicks.lost), (0, 0));
    assert_eq!(stopped.exit_code(), 0);
    let (n, missing) = clicks_in_db(&url, &ids).await;
    assert_eq!((n, missing.len()), (400, 0));
}

#[tokio::test]
async fn in_sync_mode_an_acknowledged_click_is_already_committed() {
    let app = spawn_app_with(|c| {
        c.click_sync = true;
        // The background flusher never runs: only the request's own group commit writes.
        c.click_flush_ms = 3_600_000;
    })
    .await;
    website(&app).await;
    let a = app.affiliate("sync@x.io", "Sync").await;
    let code = a["referralCode"].as_str().unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        let r = app
            .post("/v1/referrals/track", json!({"referralCode": code}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.data()["clickId"].as_str().unwrap().to_string());
        let res = app.visit(&format!("/r/{code}")).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let to = res.headers()["location"].to_str().unwrap();
        let id = to.split("refgrow_click=").nth(1).unwrap();
        ids.push(id.to_string());
        let (_, missing) = clicks_in_db(&app.database_url, &ids).await;
        assert!(missing.is_empty(), "answered before commit: {missing:?}");
    }
    assert!(app.state.clicks.is_empty());
}

#[tokio::test]
async fn click_ids_are_usable_at_once_by_every_path() {
    const SECRET: &str = "whsec_refgrow_ryw_secret";
    let app = spawn_app_with(|c| c.click_flush_ms = 5).await;
    let r = app
        .patch("/v1/program", json!({"stripeWebhookSecret": SECRET}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = app.affiliate("ryw@x.io", "Ryw").await;
    let code = a["referralCode"].as_str().unwrap();
    let track = || async {
        let r = app
            .post("/v1/referrals/track", json!({"referralCode": code}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.data()["clickId"].as_str().unwrap().to_string()
    };
    for i in 0..40 {
        // A sale right after its click.
        let click = track().await;
        let r = app
            .post(
                "/v1/referrals/convert",
                json!({"clickId": click, "amount": 10, "orderId": format!("o-{i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "run {i}: {}", r.text);
        assert_eq!(r.data()["affiliateId"], a["id"]);
        // A signup right after its click.
        let click = track().await;
        let r = app
            .post(
                "/v1/customers",
                json!({"key": format!("cu-{i}"), "clickId": click}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "run {i}: {}", r.text);
        assert_eq!(r.data()["customer"]["affiliateId"], a["id"], "run {i}");
        // A Stripe checkout right after its click.
        let click = track().await;
        let ev = json!({"id": format!("evt_ryw_{i}"), "object": "event",
            "type": "checkout.session.completed", "created": 1,
            "data": {"object": {"id": format!("cs_{i}"), "object": "checkout.session",
                "customer": format!("cus_ryw_{i}"), "client_reference_id": click,
                "metadata": {}}}});
        let r = send_stripe_event(&app, SECRET, &ev).await;
        assert_eq!(r.status, StatusCode::OK, "run {i}: {}", r.text);
        let outcome = r.data()["outcome"].as_str().unwrap_or("");
        assert!(
            outcome.contains(a["id"].as_str().unwrap()),
            "run {i}: {outcome}"
        );
    }
}

/// A TCP proxy to PostgreSQL that a test can cut and restore.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (u, cs) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                cs.lock().unwrap().push(task);
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The database made unusable and usable again, per backend.
enum Outage {
    Proxy(Proxy),
    SqliteLock {
        path: String,
        holder: Option<diesel::SqliteConnection>,
    },
}

impl Outage {
    /// For a fresh database URL: the outage, and the URL the server must use.
    async fn for_url(url: &str) -> (Outage, String) {
        if url.starts_with("postgres") {
            let mut parsed = url::Url::parse(url).unwrap();
            let host = parsed.host_str().unwrap().to_string();
            let port = parsed.port().unwrap_or(5432);
            let proxy = Proxy::start(format!("{host}:{port}")).await;
            parsed.set_host(Some("127.0.0.1")).unwrap();
            parsed.set_port(Some(proxy.port)).unwrap();
            (Outage::Proxy(proxy), parsed.to_string())
        } else {
            let path = url.trim_start_matches("sqlite://").to_string();
            (Outage::SqliteLock { path, holder: None }, url.to_string())
        }
    }

    fn cut(&mut self) {
        match self {
            Outage::Proxy(p) => p.cut(),
            Outage::SqliteLock { path, holder } => {
                let mut c = diesel::SqliteConnection::establish(path).unwrap();
                c.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;")
                    .unwrap();
                *holder = Some(c);
            }
        }
    }

    fn restore(&mut self) {
        match self {
            Outage::Proxy(p) => p.restore(),
            Outage::SqliteLock { holder, .. } => {
                if let Some(mut c) = holder.take() {
                    c.batch_execute("COMMIT").unwrap();
                }
            }
        }
    }
}

/// The real binary, started as a child process.
struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
    key: String,
}

impl Server {
    async fn start(url: &str, port: u16, key: &str, env: &[(&str, String)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_refgrow-server"));
        cmd.env("DATABASE_URL", url)
            .env("REFGROW_BIND", format!("127.0.0.1:{port}"))
            .env("REFGROW_RATE_LIMIT", "0")
            .env("REFGROW_CLICK_RATE_LIMIT", "0")
            .env("REFGROW_WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the server binary");
        let s = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            key: key.to_string(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = s.http.get(format!("{}/healthz", s.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s
    }

    async fn get(&self, path: &str) -> (Resp, Duration) {
        let t = Instant::now();
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        let took = t.elapsed();
        (to_resp(r).await, took)
    }

    async fn post(&self, path: &str, body: Value) -> (Resp, Duration) {
        let t = Instant::now();
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let took = t.elapsed();
        (to_resp(r).await, took)
    }

    /// Tracks a click; its id when acknowledged (201), else asserts a 503 in the envelope.
    async fn track(&self, code: &str) -> Option<String> {
        let (r, _) = self
            .post("/v1/referrals/track", json!({"referralCode": code}))
            .await;
        match r.status {
            StatusCode::CREATED => Some(r.data()["clickId"].as_str().unwrap().to_string()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(r.code(), "service_unavailable", "{}", r.text);
                assert!(r.headers.contains_key("retry-after"));
                None
            }
            other => panic!("track answered {other}: {}", r.text),
        }
    }

    async fn ready(&self) -> bool {
        self.get("/readyz").await.0.status == StatusCode::OK
    }

    async fn wait_ready(&self, want: bool, within: Duration) {
        let started = Instant::now();
        while self.ready().await != want {
            assert!(
                started.elapsed() < within,
                "/readyz did not turn {want} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to end (off the runtime, so the proxy keeps running):
    /// (exit code, stderr).
    async fn wait(self) -> (Option<i32>, String) {
        let child = self.child;
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

/// A database with a program (website set) and a key, prepared without a server.
fn prepare(url: &str) -> String {
    let db = refgrow_server::db::Db::connect(url).expect("connect");
    let mut c = db.write_conn().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let prog = refgrow_server::services::program::create(&mut c, "Durability", "USD", now).unwrap();
    diesel::sql_query(format!(
        "UPDATE programs SET website_url = 'https://acme.example/' WHERE id = '{}'",
        prog.id
    ))
    .execute(&mut *c)
    .unwrap();
    refgrow_server::services::api_keys::create_key(&mut c, &prog.id, None, false, now)
        .unwrap()
        .1
}

async fn new_affiliate(s: &Server) -> String {
    let (r, _) = s
        .post(
            "/v1/affiliates",
            json!({"email": "out@x.io", "name": "Outage"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.data()["affiliate"]["referralCode"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_every_held_click_and_exits_zero() {
    let (url, _dir) = fresh_database();
    let key = prepare(&url);
    let port = free_port();
    let s = Server::start(
        &url,
        port,
        &key,
        &[("REFGROW_CLICK_FLUSH_MS", "3600000".into())],
    )
    .await;
    let code = new_affiliate(&s).await;
    let mut ids = Vec::new();
    for _ in 0..300 {
        ids.push(s.track(&code).await.expect("acknowledged"));
    }
    s.signal("TERM");
    let (exit, stderr) = s.wait().await;
    assert_eq!(exit, Some(0), "{stderr}");
    let (n, missing) = clicks_in_db(&url, &ids).await;
    assert_eq!((n, missing.len()), (300, 0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_cannot_persist_its_clicks_exits_non_zero_and_says_how_many() {
    let (url, _dir) = fresh_database();
    let key = prepare(&url);
    let (mut outage, server_url) = Outage::for_url(&url).await;
    let port = free_port();
    let s = Server::start(
        &server_url,
        port,
        &key,
        &[
            ("REFGROW_CLICK_FLUSH_MS", "3600000".into()),
            (
                "REFGROW_CLICK_SPILL_PATH",
                "/nonexistent-refgrow-dir/clicks.spill".into(),
            ),
            ("REFGROW_SHUTDOWN_TIMEOUT_SECS", "1".into()),
        ],
    )
    .await;
    let code = new_affiliate(&s).await;
    for _ in 0..25 {
        s.track(&code).await.expect("acknowledged");
    }
    outage.cut();
    s.signal("TERM");
    let (exit, stderr) = s.wait().await;
    outage.restore();
    assert_eq!(exit, Some(2), "{stderr}");
    assert!(stderr.contains("25 acknowledged clicks"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_fast_redirects_loses_no_acknowledged_click_and_recovers() {
    let (url, dir) = fresh_database();
    let key = prepare(&url);
    let (mut outage, server_url) = Outage::for_url(&url).await;
    let spill_dir = tempfile::tempdir().unwrap();
    let spill = spill_dir.path().join("clicks.spill");
    let env = [
        ("REFGROW_CLICK_SPILL_PATH", spill.display().to_string()),
        ("REFGROW_FALLBACK_URL", "https://fallback.example/".into()),
    ];
    let port = free_port();
    let s = Server::start(&server_url, port, &key, &env).await;
    let code = new_affiliate(&s).await;
    let mut acked: Vec<String> = Vec::new();
    // Healthy: clicks, and the code is cached by a redirect.
    for _ in 0..20 {
        acked.push(s.track(&code).await.expect("acknowledged"));
    }
    let (r, _) = s.get(&format!("/r/{code}")).await;
    assert_eq!(r.status, StatusCode::FOUND);
    tokio::time::sleep(Duration::from_millis(300)).await;

    for round in 0..2 {
        outage.cut();
        // Clicks keep coming; the first write that fails opens the breaker (on SQLite after
        // the 10 s busy timeout).
        acked.extend(s.track(&code).await);
        let started = Instant::now();
        while s.ready().await {
            acked.extend(s.track(&code).await);
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "round {round}: the outage was never noticed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Known down: answers at once, in the envelope, with Retry-After.
        let (r, took) = s.get("/v1/affiliates").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
        assert_eq!(r.code(), "service_unavailable");
        assert!(r.headers.contains_key("retry-after"));
        assert!(took < Duration::from_millis(500), "took {took:?}");
        let (r, took) = s.get("/readyz").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(took < Duration::from_millis(500), "took {took:?}");
        // Redirects still redirect: the cached program site, or the fallback.
        let (r, took) = s.get(&format!("/r/{code}")).await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
        let to = r.headers["location"].to_str().unwrap();
        assert!(to.starts_with("https://acme.example/"), "{to}");
        assert!(took < Duration::from_millis(500), "took {took:?}");
        let (r, _) = s.get("/r/NOSUCHCODE").await;
        assert_eq!(r.status, StatusCode::FOUND, "{}", r.text);
        assert!(r.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("https://fallback.example/"));
        // Clicks acknowledged now are on disk first.
        for _ in 0..30 {
            let t = Instant::now();
            acked.extend(s.track(&code).await);
            assert!(t.elapsed() < Duration::from_millis(500));
        }
        if round == 0 {
            // The database comes back: the server recovers by itself and writes the spill.
            outage.restore();
            s.wait_ready(true, Duration::from_secs(15)).await;
            let started = Instant::now();
            loop {
                let (_, missing) = clicks_in_db(&url, &acked).await;
                if missing.is_empty() {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "{} acknowledged clicks not written after recovery",
                    missing.len()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let (r, _) = s.get("/v1/affiliates").await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
    }
    // kill -9 during the second outage, then the database returns and the server restarts.
    s.signal("KILL");
    let _ = s.wait().await;
    outage.restore();
    let s = Server::start(&server_url, port, &key, &env).await;
    let started = Instant::now();
    loop {
        let (_, missing) = clicks_in_db(&url, &acked).await;
        if missing.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{} of {} acknowledged clicks lost across kill -9",
            missing.len(),
            acked.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Counted once each: the affiliate's click counter matches the rows.
    let (r, _) = s.get("/v1/affiliates").await;
    let (n, _) = clicks_in_db(&url, &[]).await;
    assert_eq!(
        r.data()["affiliates"][0]["clickCount"]
            .as_i64()
            .unwrap_or(-1),
        n,
        "{}",
        r.text
    );
    assert!(!spill.exists(), "the spill file is emptied once written");
    s.signal("TERM");
    let (exit, stderr) = s.wait().await;
    assert_eq!(exit, Some(0), "{stderr}");
    drop(dir);
}

/// The flush rate of the click writer, for the report (ignored: timing depends on the
/// machine). `cargo test --release -p refgrow-server --test api flush_rate -- --ignored
/// --nocapture`, with `REFGROW_TEST_DATABASE_URL` for PostgreSQL.
#[tokio::test]
#[ignore]
async fn flush_rate() {
    let (url, dir) = fresh_database();
    let app = spawn_configured(url, dir, refgrow_server::clock::Clock::system(), |c| {
        c.click_flush_ms = 3_600_000;
        c.click_buffer_max = 1_000_000;
    })
    .await;
    let a = app.affiliate("rate@x.io", "Rate").await;
    let aff = a["id"].as_str().unwrap().to_string();
    let n = 200_000;
    for i in 0..n {
        app.state
            .clicks
            .push(refgrow_server::clicks::ClickRow {
                id: format!("click_rate{i:08}"),
                program_id: app.program_id.clone(),
                affiliate_id: aff.clone(),
                referral_code: a["referralCode"].as_str().unwrap().to_string(),
                source_url: Some("https://blog.example/post".into()),
                landing_url: Some("https://acme.example/?refgrow_click=x".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
                ip_address: Some("203.0.113.9".into()),
                created_at: app.state.clock.now_ms(),
            })
            .unwrap();
    }
    let t = Instant::now();
    let written = app.state.clicks.flush(&app.state.db).await.unwrap();
    let took = t.elapsed();
    assert_eq!(written, n);
    println!(
        "flushed {n} clicks in {took:?}: {:.0} clicks/s ({:?})",
        n as f64 / took.as_secs_f64(),
        app.state.db.backend
    );
}

/// A webhook receiver that answers 200 after `delay_ms`, counting requests.
struct SlowReceiver {
    url: String,
    hits: Arc<std::sync::atomic::AtomicUsize>,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl SlowReceiver {
    async fn start(delay_ms: u64) -> SlowReceiver {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let delay = Arc::new(std::sync::atomic::AtomicU64::new(delay_ms));
        let (h, d) = (hits.clone(), delay.clone());
        let server = HttpServer::new(move || {
            let (h, d) = (h.clone(), d.clone());
            App::new().default_service(web::to(move || {
                let (h, d) = (h.clone(), d.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let ms = d.load(Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    HttpResponse::Ok().body("ok")
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        SlowReceiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            hits,
            delay_ms: delay,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn wait_hits(&self, n: usize, within: Duration) {
        let started = Instant::now();
        while self.hits() < n {
            assert!(
                started.elapsed() < within,
                "{} requests, {n} expected within {within:?}",
                self.hits()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_in_flight_at_a_stop_are_finished_not_sent_again() {
    let app = spawn_app_with(|c| c.webhook_poll_ms = 50).await;
    let rx = SlowReceiver::start(1000).await;
    let r = app
        .post("/v1/webhook-endpoints", json!({"url": rx.url}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    app.affiliate("wh@x.io", "Wh").await;
    rx.wait_hits(1, Duration::from_secs(10)).await;
    // The receiver is still answering: the stop waits for it and records the result.
    let (stopped, url, dir) = app.graceful_stop().await;
    assert_eq!(stopped.deliveries.finished, 1, "{stopped:?}");
    assert_eq!(stopped.deliveries.released, 0);
    let app = spawn_configured(url, dir, refgrow_server::clock::Clock::system(), |c| {
        c.webhook_poll_ms = 50
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.hits(), 1, "delivered once, never re-sent");
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_cut_off_by_a_stop_are_released_for_immediate_retry() {
    let tune = |c: &mut refgrow_server::config::Config| {
        c.webhook_poll_ms = 50;
        c.shutdown_timeout_secs = 1;
    };
    let app = spawn_app_with(tune).await;
    let rx = SlowReceiver::start(4000).await;
    let r = app
        .post("/v1/webhook-endpoints", json!({"url": rx.url}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    app.affiliate("wh2@x.io", "Wh2").await;
    rx.wait_hits(1, Duration::from_secs(10)).await;
    let (stopped, url, dir) = app.graceful_stop().await;
    assert_eq!(stopped.deliveries.released, 1, "{stopped:?}");
    rx.delay_ms.store(0, Ordering::SeqCst);
    let restarted = Instant::now();
    let _app = spawn_configured(url, dir, refgrow_server::clock::Clock::system(), tune).await;
    // Due at once, not when the ~70 s lease would have ended.
    rx.wait_hits(2, Duration::from_secs(5)).await;
    assert!(restarted.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_count_every_click_once() {
    let (url, dir) = fresh_database();
    let clock = refgrow_server::clock::Clock::system();
    let one = spawn_configured(url.clone(), dir, clock.clone(), |c| c.click_flush_ms = 5).await;
    let two = spawn_configured(url.clone(), None, clock, |c| c.click_flush_ms = 5).await;
    let a = one.affiliate("two@x.io", "Two").await;
    let code = a["referralCode"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for app in [&one, &two] {
        for _ in 0..4 {
            let (http, base, key, code) = (
                app.http.clone(),
                app.base.clone(),
                app.key.clone(),
                code.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..100 {
                    let r = http
                        .post(format!("{base}/v1/referrals/track"))
                        .bearer_auth(&key)
                        .json(&json!({"referralCode": code}))
                        .send()
                        .await
                        .unwrap();
                    let r = to_resp(r).await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                    ids.push(r.data()["clickId"].as_str().unwrap().to_string());
                }
                ids
            }));
        }
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    one.state.clicks.flush(&one.state.db).await.unwrap();
    two.state.clicks.flush(&two.state.db).await.unwrap();
    let (n, missing) = clicks_in_db(&url, &ids).await;
    assert_eq!((n, missing.len()), (800, 0));
    let r = one
        .get(&format!("/v1/affiliates/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.data()["affiliate"]["clickCount"], 800, "{}", r.text);
}
