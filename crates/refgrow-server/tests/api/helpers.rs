//! The test harness: `spawn_app()` starts the real server on 127.0.0.1:0 against a fresh
//! database (a SQLite file in a temporary directory, or a new PostgreSQL database when
//! `REFGROW_TEST_DATABASE_URL` names a server), with a program and a key, and a `TestApp`
//! with one helper per HTTP verb.

use std::time::Duration;

use diesel::{Connection, RunQueryDsl};
use refgrow_server::app;
use refgrow_server::clock::Clock;
use refgrow_server::config::Config;
use refgrow_server::state::AppState;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The key that encrypts secrets at rest in tests (base64 of 32 bytes).
pub const TEST_SECRET_KEY: &str = "dGVzdHMtb25seS1rZXktZG8tbm90LXVzZS0zMmJ5dGU=";

/// A running server and a key for its program.
pub struct TestApp {
    pub base: String,
    pub key: String,
    pub program_id: String,
    pub state: AppState,
    pub http: reqwest::Client,
    pub database_url: String,
    pub deliveries: refgrow_server::workers::delivery::Deliveries,
    handle: actix_web::dev::ServerHandle,
    _dir: Option<tempfile::TempDir>,
}

/// A response: status, headers and JSON body (Null when the body is not JSON).
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    /// `body.data`.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// `body.error.code`.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    /// `body.error.details.field`.
    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }
}

/// A new, empty database URL for one test.
pub fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("REFGROW_TEST_DATABASE_URL") {
        Ok(admin) if !admin.trim().is_empty() => {
            let name = format!(
                "refgrow_test_{}",
                refgrow_server::idgen::random_base62(12).to_lowercase()
            );
            let mut c = diesel::PgConnection::establish(&admin)
                .expect("connect to the PostgreSQL test server");
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .expect("create a test database");
            let mut url = url::Url::parse(&admin).expect("REFGROW_TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            (url.to_string(), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

/// Starts a server on a fresh database.
pub async fn spawn_app() -> TestApp {
    let (url, dir) = fresh_database();
    spawn_on(url, dir, Clock::system()).await
}

/// Starts a server on a given database (a restart reuses the URL).
pub async fn spawn_on(url: String, dir: Option<tempfile::TempDir>, clock: Clock) -> TestApp {
    spawn_configured(url, dir, clock, |_| {}).await
}

/// Starts a server on a fresh database with settings changed by `tune`.
pub async fn spawn_app_with(tune: impl FnOnce(&mut Config)) -> TestApp {
    let (url, dir) = fresh_database();
    spawn_configured(url, dir, Clock::system(), tune).await
}

/// Starts a server on a fresh database with settings changed by `tune`, on a clock that
/// stands still until the test moves it (`app.state.clock.advance`): what a test asserts
/// about rate limits or cache expiry then does not depend on how fast the machine runs it.
pub async fn spawn_frozen_with(tune: impl FnOnce(&mut Config)) -> TestApp {
    let (url, dir) = fresh_database();
    spawn_configured(url, dir, Clock::frozen(), tune).await
}

/// Starts a server on a given database with settings changed by `tune`.
pub async fn spawn_configured(
    url: String,
    dir: Option<tempfile::TempDir>,
    clock: Clock,
    tune: impl FnOnce(&mut Config),
) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut config = Config::for_database(&url);
    // The tests' webhook receivers listen on 127.0.0.1, which is refused unless the operator
    // opts in; the attack tests (security.rs) turn it off again.
    config.webhook_allow_private = true;
    config.secret_key = Some(refgrow_server::config::Redacted(TEST_SECRET_KEY.into()));
    tune(&mut config);
    let running = app::start(config, clock).expect("server starts");
    let handle = running.server.handle();
    let deliveries = running.deliveries.clone();
    tokio::spawn(running.server);
    let state = running.state.clone();
    let (program_id, key) = {
        let mut c = state.db.write_conn().expect("connection");
        let existing = refgrow_server::db::programs::find_by_id_or_name(&mut c, "Test program")
            .expect("query");
        let prog = match existing {
            Some(p) => p,
            None => refgrow_server::services::program::create(
                &mut c,
                "Test program",
                "USD",
                state.clock.now_ms(),
            )
            .expect("program"),
        };
        let (_, key) = refgrow_server::services::api_keys::create_key(
            &mut c,
            &prog.id,
            Some("tests".into()),
            false,
            state.clock.now_ms(),
        )
        .expect("key");
        (prog.id, key)
    };
    TestApp {
        base: format!("http://{}", running.addr),
        key,
        program_id,
        state,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        database_url: url,
        deliveries,
        handle,
        _dir: dir,
    }
}

impl TestApp {
    /// Stops the server (in-flight requests finish) and flushes buffered clicks.
    pub async fn stop(self) -> (String, Option<tempfile::TempDir>, Clock) {
        self.handle.stop(true).await;
        let _ = self.state.clicks.flush(&self.state.db).await;
        let _ = self.state.audit.flush(&self.state.db).await;
        (self.database_url, self._dir, self.state.clock)
    }

    /// Stops the way the binary does on SIGTERM (see `app::shutdown`) and reports.
    /// The database stays: its URL and (SQLite) directory are returned.
    pub async fn graceful_stop(
        self,
    ) -> (
        refgrow_server::app::Stopped,
        String,
        Option<tempfile::TempDir>,
    ) {
        self.handle.stop(true).await;
        let stopped = refgrow_server::app::shutdown(&self.state, &self.deliveries).await;
        (stopped, self.database_url, self._dir)
    }

    /// Stops and starts again on the same database.
    pub async fn restart(self) -> TestApp {
        let (url, dir, clock) = self.stop().await;
        spawn_on(url, dir, clock).await
    }

    /// Creates a second program with its own key (for isolation tests).
    pub fn other_program_key(&self, name: &str) -> String {
        let mut c = self.state.db.write_conn().expect("connection");
        let prog = refgrow_server::services::program::create(
            &mut c,
            name,
            "USD",
            self.state.clock.now_ms(),
        )
        .expect("program");
        refgrow_server::services::api_keys::create_key(
            &mut c,
            &prog.id,
            None,
            false,
            self.state.clock.now_ms(),
        )
        .expect("key")
        .1
    }

    /// Sends a request with this app's key.
    pub async fn req(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        self.req_with(method, path, body, &self.key, &[]).await
    }

    /// Sends a request with a given key and extra headers.
    pub async fn req_with(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(key);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.expect("request sent");
        to_resp(res).await
    }

    /// Sends raw bytes as the body.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &'static [u8],
        content_type: &str,
    ) -> Resp {
        let res = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        to_resp(res).await
    }

    /// `GET {base}{path}` without a key, as a visitor following a link (redirects are not
    /// followed).
    pub async fn visit(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("request sent")
    }

    /// Sends `POST {path}` with the key and these headers from a task of its own, to race
    /// other requests.
    pub fn spawn_post(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, String)],
    ) -> tokio::task::JoinHandle<Resp> {
        let mut rb = self
            .http
            .post(format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
            .json(&body);
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        tokio::spawn(async move { to_resp(rb.send().await.expect("request sent")).await })
    }

    /// `GET {path}` with the key, the answer as it came (for bodies that are not JSON).
    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.req(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.req(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.req(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.req(reqwest::Method::DELETE, path, None).await
    }

    /// Creates an active affiliate and returns its JSON.
    pub async fn affiliate(&self, email: &str, name: &str) -> Value {
        let r = self
            .post(
                "/v1/affiliates",
                serde_json::json!({"email": email, "name": name}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.data()["affiliate"].clone()
    }
}

/// Reads a reqwest response.
pub async fn to_resp(res: reqwest::Response) -> Resp {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        text,
    }
}

/// Sets the program's website (`https://acme.example/`), which tracking needs.
pub async fn website(app: &TestApp) {
    let r = app
        .patch(
            "/v1/program",
            json!({"websiteUrl": "https://acme.example/"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The deliveries of a webhook endpoint (`GET /v1/webhook-endpoints/{id}/deliveries`).
pub async fn deliveries(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/v1/webhook-endpoints/{endpoint_id}/deliveries"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.data()["deliveries"].as_array().unwrap().clone()
}

/// A commission by id (`GET /v1/commissions/{id}`).
pub async fn commission(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/v1/commissions/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.data()["commission"].clone()
}

/// Records a sale by the affiliate's referral code; returns `data` of the answer.
pub async fn sale(app: &TestApp, aff: &Value, amount: &str, currency: &str, order: &str) -> Value {
    let r = app
        .post(
            "/v1/referrals/convert",
            json!({"referralCode": aff["referralCode"], "amount": amount,
                   "currency": currency, "orderId": order}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.data().clone()
}

/// `POST /v1/integrations/stripe/{program}/webhook` with `body` and this `Stripe-Signature`.
pub async fn post_stripe_webhook(app: &TestApp, body: &str, signature: &str) -> Resp {
    let res = app
        .http
        .post(format!(
            "{}/v1/integrations/stripe/{}/webhook",
            app.base, app.program_id
        ))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    to_resp(res).await
}

/// Sends a Stripe event signed with `secret` at the server's clock, as Stripe sends it.
pub async fn send_stripe_event(app: &TestApp, secret: &str, event: &Value) -> Resp {
    let body = serde_json::to_string(event).unwrap();
    let t = app.state.clock.now_ms() / 1000;
    let sig = refgrow_server::services::stripe::sign(body.as_bytes(), secret, t);
    post_stripe_webhook(app, &body, &sig).await
}

/// Turns on the Stripe integration with this webhook secret and a 20% recurring commission;
/// returns the answer of `PATCH /v1/program`.
pub async fn stripe_setup(app: &TestApp, secret: &str) -> Resp {
    let r = app
        .patch(
            "/v1/program",
            json!({"stripeWebhookSecret": secret,
            "commission": {"type": "percentage", "rate": 20, "recurring": {"months": null}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r
}

/// Invites as `body` says (`POST /v1/affiliates/invitations`); returns the `acceptUrl` of the
/// first invitation made.
pub async fn invite(app: &TestApp, body: Value) -> String {
    let r = app.post("/v1/affiliates/invitations", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.data()["invitations"][0]["acceptUrl"]
        .as_str()
        .unwrap()
        .to_string()
}
